"""Wire formats: framing and typed views of what each API sends."""
