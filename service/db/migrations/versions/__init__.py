"""Revisions of the database schema, one module each."""
