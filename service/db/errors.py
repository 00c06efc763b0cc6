"""Errors of the database layer; the stores built on it raise these or subclasses of them."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error a store raises on purpose."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is busy; retrying later may succeed (HTTP 503)."""
