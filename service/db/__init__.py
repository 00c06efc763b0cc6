"""The database every feature's tables live in: engines and error translation (`engine`), the
table conventions (`tables`) and the Alembic migrations (`migrate`, `migrations/`).
"""
