"""Inspection Assistant: cited answers about inspection frameworks and equality guidance."""

__version__ = "0.1.0"
