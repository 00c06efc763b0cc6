"""Alembic migrations of the service's database (so far the review store's table); run through `ReviewStore.migrate()`."""
