"""Shopkeeper: omnichannel personalization for retailers, embedded by default."""

__all__ = ["__version__"]

__version__ = "0.1.0"
