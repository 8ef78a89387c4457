"""Database engine, session and declarative base.

One engine per process, built from the settings. The session is thread-scoped, and each unit of
work has one owner that commits it: a web request (parentalites/app.py: COMMIT when the answer is
not an error), a Celery task (UnitOfWorkTask in parentalites/celery_app.py: COMMIT when it
returns), a command (parentalites/cli.py). Services only flush; the few that must commit earlier
(a claim other workers must see, an outcome kept before an external side effect) say why there.
"""
from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, any_, bindparam, create_engine, event, make_url
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

from core.settings import get_settings

# Stable constraint names, so that Alembic migrations name the same thing on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def enum_column(cls: type[enum.Enum], name: str) -> Enum:
    # Store the value (stable, readable in SQL), checked by a CHECK constraint on both backends.
    return Enum(cls, name=name, native_enum=False, create_constraint=False, length=32,
                values_callable=lambda e: [m.value for m in e])


def utcnow() -> datetime:
    return datetime.now(UTC)


def affected_rows(result: Result[Any]) -> int:
    """The rows an INSERT, UPDATE or DELETE touched. Session.execute is typed to return a Result;
    for these statements it is a CursorResult, which counts them."""
    assert isinstance(result, CursorResult)
    return result.rowcount


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web process read while a worker writes; busy_timeout makes writers wait
    # for each other instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


_engine: Engine | None = None
SessionFactory = sessionmaker(expire_on_commit=False)
session = scoped_session(SessionFactory)


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings().database_url)
        SessionFactory.configure(bind=_engine)
    return _engine


def reset_engine() -> None:
    """Drop the engine and the sessions (after a fork, or when the settings change)."""
    global _engine
    session.remove()
    if _engine is not None:
        _engine.dispose()
    _engine = None


def init_db() -> None:
    get_engine()


def among(db: Session, column: Any, values: list) -> Any:
    """`column IN values` for thousands of values: on PostgreSQL one array parameter
    (`= ANY(%s)`: a short statement, parsed once), elsewhere an ordinary IN."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
