"""One module per upstream type behind the Provider interface; registry.py names them."""
