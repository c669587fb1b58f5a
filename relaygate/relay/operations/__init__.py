"""Operations: one module per endpoint on the relay seam."""
