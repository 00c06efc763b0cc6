"""Alembic environment: migrations run only on the connection `ReviewStore.migrate()` passes in.

That caller holds the transaction (and, on PostgreSQL, an advisory lock), so two processes
starting at once cannot both create the schema. The target is the shared `metadata`, with every
feature's tables defined on it.
"""

from alembic import context

import service.helpdesk.schema  # noqa: F401  (defines helpdesk_jobs on the metadata)
import service.review.schema  # noqa: F401  (defines review_items on the metadata)
from service.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("review store migrations run through ReviewStore.migrate(), not the alembic command line")

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
