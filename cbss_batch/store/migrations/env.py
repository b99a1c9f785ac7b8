"""Alembic environment: runs our migrations online against the configured URL."""

from __future__ import annotations

from alembic import context

from cbss_batch.store.session import make_engine
from cbss_batch.store.tables import metadata

target_metadata = metadata


def run_migrations() -> None:
    """Apply migrations in one transaction per run."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
