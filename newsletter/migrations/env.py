from alembic import context

from newsletter.all_models import metadata
from newsletter.db import get_engine

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=str(get_engine().url), target_metadata=metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        with get_engine().connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    # Batch mode lets ALTER TABLE work on SQLite too (it copies the table).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
