"""Errors raised for bad input: one base class, and the built-in type users already catch."""

from __future__ import annotations


class VizlogError(Exception):
    """Base of every error vizlog raises for input it cannot log."""


class VizlogValueError(VizlogError, ValueError):
    """An argument has the right type but a value vizlog cannot log."""


class VizlogTypeError(VizlogError, TypeError):
    """An argument has a type vizlog cannot log."""
