"""Storage layer: SQLAlchemy 2 models, sessions, Alembic migrations, bulk I/O, dialect extras."""
