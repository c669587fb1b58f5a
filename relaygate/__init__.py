"""relaygate: a self-hosted AI API relay speaking the OpenAI wire format."""

__version__ = "0.1.0"
__all__ = ["__version__"]
