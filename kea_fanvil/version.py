"""The version of kea-fanvil, in one place (pyproject reads it too). A leaf."""

__all__ = ["__version__"]

__version__ = "0.1.0"
