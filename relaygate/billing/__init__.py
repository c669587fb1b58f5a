"""Pricing math and the reserve → settle → refund protocol; the only code that touches balances."""
