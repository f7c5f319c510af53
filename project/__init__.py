"""Haven: one version number, shown by /readyz and the API schema (CHANGELOG.md)."""

__version__ = "1.0.0"
