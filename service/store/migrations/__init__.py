"""Alembic migrations of the review store; run through `ReviewStore.migrate()`."""
