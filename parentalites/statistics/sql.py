"""SQL the statistics need that PostgreSQL and SQLite spell differently: the month of a timestamp,
the seconds between two, whether a JSON list of topics holds a key."""
from __future__ import annotations

from sqlalchemy import Boolean, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class month_of(FunctionElement):
    """'YYYY-MM' of a timestamp: in Paris on PostgreSQL; in UTC on SQLite (which stores UTC and
    knows no time zones: a few hours around midnight of a month's first day may fall the other side)."""
    type = String()
    inherit_cache = True
    name = "month_of"


@compiles(month_of)
def _month_default(element, compiler, **kw):  # pragma: no cover - only SQLite and PG run
    raise NotImplementedError(compiler.dialect.name)


@compiles(month_of, "postgresql")
def _month_postgresql(element, compiler, **kw):
    (column,) = list(element.clauses)
    return f"to_char(timezone('Europe/Paris', {compiler.process(column, **kw)}), 'YYYY-MM')"


@compiles(month_of, "sqlite")
def _month_sqlite(element, compiler, **kw):
    (column,) = list(element.clauses)
    return f"strftime('%Y-%m', {compiler.process(column, **kw)})"


class seconds_between(FunctionElement):
    """later - earlier, in seconds."""
    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_default(element, compiler, **kw):  # pragma: no cover
    raise NotImplementedError(compiler.dialect.name)


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


class has_topic(FunctionElement):
    """The JSON list of topics holds this key (an empty list, "every topic", does not)."""
    type = Boolean()
    inherit_cache = True
    name = "has_topic"


@compiles(has_topic)
def _topic_default(element, compiler, **kw):  # pragma: no cover
    raise NotImplementedError(compiler.dialect.name)


@compiles(has_topic, "postgresql")
def _topic_postgresql(element, compiler, **kw):
    column, key = (compiler.process(c, **kw) for c in element.clauses)
    # jsonb_exists is the `?` operator spelled as a function (no `?` for the driver to see).
    return f"coalesce(jsonb_exists(CAST({column} AS JSONB), {key}), false)"


@compiles(has_topic, "sqlite")
def _topic_sqlite(element, compiler, **kw):
    column, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({column}) AS topic WHERE topic.value = {key})"


class no_topic(FunctionElement):
    """The JSON list of topics is empty or missing: the subscriber reads every topic."""
    type = Boolean()
    inherit_cache = True
    name = "no_topic"


@compiles(no_topic)
def _no_topic_default(element, compiler, **kw):  # pragma: no cover
    raise NotImplementedError(compiler.dialect.name)


@compiles(no_topic, "postgresql")
def _no_topic_postgresql(element, compiler, **kw):
    (column,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"coalesce(CAST({column} AS JSONB), '[]'::jsonb) IN ('[]'::jsonb, 'null'::jsonb)"


@compiles(no_topic, "sqlite")
def _no_topic_sqlite(element, compiler, **kw):
    (column,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"coalesce(json_array_length({column}), 0) = 0"
