"""Revisions of the review store schema, one module each."""
