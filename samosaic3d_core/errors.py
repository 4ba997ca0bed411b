"""Errors callers tell apart: a model or weights file that cannot be used (the node exits with its own code)."""

from __future__ import annotations


class ModelFileError(ValueError):
    """A model or weights file is unreadable, of another kind, or does not fit the model it should fill.

    The message names the file. A ``ValueError``, so callers that catch bad input in general still do.
    """


class ModelFileMissing(ModelFileError, FileNotFoundError):
    """A model or weights file does not exist (also a ``FileNotFoundError``)."""
