"""Preparation steps run after parsing and before routing."""
