from alembic import context

from core.db import get_engine
from parentalites.models import include_name, metadata

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
    # Batch mode lets ALTER TABLE work on SQLite too (it copies the table). The copy drops the old
    # table: with foreign keys on, SQLite would first run an implicit DELETE and cascade it into the
    # tables pointing at it. The pragma only takes effect outside a transaction, hence the commits.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # the pragma applies outside a transaction only
    try:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                          compare_type=True, include_name=include_name)  # type: ignore[arg-type]
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()  # the pragma applies outside a transaction only


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
