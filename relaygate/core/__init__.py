"""Internal types and the error tree; imports nothing else from the package."""
