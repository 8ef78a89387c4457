"""Segments: who receives an invitation or a letter sent to a part of the list.

A segment is `None` (every active subscriber) or a dict `{"topics": [...], "roles": [...],
"communes": [...], "departements": [...]}` (départements by code, core/departements.py): OR
inside a key, AND across keys; an absent or empty key does not restrict.
A subscriber who picked no topic counts as interested in every topic.

`condition(segment)` is a SQL condition on `subscribers`, usable in the mail-out engine's
`INSERT … SELECT`. Topics are a JSON list, so the topic test compiles per dialect: `json_each`
on SQLite, `jsonb_exists_any` on PostgreSQL (the column is `json`, cast to `jsonb`).
`matches()` says the same thing in Python; the tests hold the two to each other.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Boolean, ColumnElement, and_, func, literal, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from core import departements as departements_list
from subscribers.models import ROLES, TOPICS, Subscriber, SubscriberStatus

KEYS = ("topics", "roles", "communes", "departements")

Segment = dict[str, list[str]] | None


class SegmentError(ValueError):
    """The segment names a topic, a role or a département that does not exist; the message says which."""


def clean_commune(value: str | None) -> str:
    """A commune as stored and compared: trimmed, inner spaces collapsed."""
    return " ".join((value or "").split())


def normalize(segment: dict | None) -> Segment:
    """A segment in its canonical form (sorted, deduplicated, known keys only), or None when it
    restricts nothing. Raises SegmentError for an unknown topic, role or département (a
    département may be given by its code or its name; it is kept by its code)."""
    if not segment:
        return None
    out: dict[str, list[str]] = {}
    for key in KEYS:
        values = segment.get(key) or []
        if isinstance(values, str):
            values = [values]
        if key == "communes":
            cleaned = sorted({clean_commune(v) for v in values if clean_commune(v)})
        elif key == "departements":
            codes = {v: departements_list.normalize(v) for v in values if str(v).strip()}
            unknown = [str(v) for v, code in codes.items() if code is None]
            if unknown:
                raise SegmentError(f"Département inconnu : {', '.join(unknown)}")
            cleaned = sorted({code for code in codes.values() if code})
        else:
            known = TOPICS if key == "topics" else ROLES
            unknown = [v for v in values if v not in known]
            if unknown:
                what = "Thème inconnu" if key == "topics" else "Fonction inconnue"
                raise SegmentError(f"{what} : {', '.join(map(str, unknown))}")
            cleaned = sorted(set(values))
        if cleaned:
            out[key] = cleaned
    return out or None


class topics_match(FunctionElement):
    """True when the subscriber's JSON list of topics is empty (every topic) or shares one with
    the given values. Compiled per dialect below."""

    type = Boolean()
    inherit_cache = True
    name = "topics_match"


@compiles(topics_match)
def _topics_match_default(element, compiler, **kw):  # pragma: no cover - only SQLite and PG run
    raise NotImplementedError(f"segments: dialect {compiler.dialect.name} not supported")


def _parts(element, compiler, **kw) -> tuple[str, str]:
    column, *values = list(element.clauses)
    return compiler.process(column, **kw), ", ".join(compiler.process(v, **kw) for v in values)


@compiles(topics_match, "sqlite")
def _topics_match_sqlite(element, compiler, **kw):
    column, values = _parts(element, compiler, **kw)
    # json_array_length is NULL for SQL NULL and 0 for JSON null or [] : all mean "everything".
    return (f"(coalesce(json_array_length({column}), 0) = 0 OR EXISTS "
            f"(SELECT 1 FROM json_each({column}) AS topic WHERE topic.value IN ({values})))")


@compiles(topics_match, "postgresql")
def _topics_match_postgresql(element, compiler, **kw):
    column, values = _parts(element, compiler, **kw)
    # jsonb_exists_any is the `?|` operator spelled as a function (no `?` for the driver to see).
    return (f"(coalesce(CAST({column} AS JSONB), '[]'::jsonb) IN ('[]'::jsonb, 'null'::jsonb) "
            f"OR jsonb_exists_any(CAST({column} AS JSONB), ARRAY[{values}]::text[]))")


def condition(segment: dict | None) -> ColumnElement[bool]:
    """The SQL condition selecting the subscribers of `segment` (status is not tested here)."""
    segment = normalize(segment)
    if segment is None:
        return true()
    parts: list[ColumnElement[bool]] = []
    if segment.get("topics"):
        parts.append(topics_match(Subscriber.topics, *[literal(t) for t in segment["topics"]]))
    if segment.get("roles"):
        parts.append(Subscriber.role.in_(segment["roles"]))
    if segment.get("communes"):
        parts.append(Subscriber.commune.in_(segment["communes"]))
    if segment.get("departements"):
        parts.append(Subscriber.departement.in_(segment["departements"]))
    return and_(*parts)


def eligible(segment: dict | None) -> ColumnElement[bool]:
    """Active subscribers of the segment: who an invitation goes to."""
    return and_(Subscriber.status == SubscriberStatus.active, condition(segment))


def count(db: Session, segment: dict | None) -> int:
    """How many active subscribers the segment reaches (the editor's confirmation screen)."""
    return db.scalar(select(func.count(Subscriber.id)).where(eligible(segment))) or 0


def matches(subscriber: Subscriber, segment: dict | None) -> bool:
    """The same rule as `condition`, in Python."""
    segment = normalize(segment)
    if segment is None:
        return True
    topics = subscriber.topics or []
    if segment.get("topics") and topics and not set(topics) & set(segment["topics"]):
        return False
    if segment.get("roles") and subscriber.role not in segment["roles"]:
        return False
    if segment.get("communes") and subscriber.commune not in segment["communes"]:
        return False
    return not (segment.get("departements") and subscriber.departement not in segment["departements"])


def known_communes(db: Session) -> list[str]:
    """Communes declared by active subscribers, for the editor to pick from."""
    return list(db.scalars(select(Subscriber.commune).distinct().where(
        Subscriber.status == SubscriberStatus.active, Subscriber.commune.isnot(None),
        Subscriber.commune != "").order_by(Subscriber.commune)))


def known_departements(db: Session) -> list[str]:
    """Départements (codes) declared by active subscribers, in the official order."""
    found = set(db.scalars(select(Subscriber.departement).distinct().where(
        Subscriber.status == SubscriberStatus.active, Subscriber.departement.isnot(None))))
    return [code for code in departements_list.DEPARTEMENTS if code in found]


def describe(segment: dict | None) -> str:
    """The segment in French words, for lists and confirmations."""
    segment = normalize(segment)
    if segment is None:
        return "Tous les abonnés"
    parts = []
    if segment.get("topics"):
        parts.append("thèmes : " + ", ".join(TOPICS[t] for t in segment["topics"]))
    if segment.get("roles"):
        parts.append("fonctions : " + ", ".join(ROLES[r] for r in segment["roles"]))
    if segment.get("communes"):
        parts.append("communes : " + ", ".join(segment["communes"]))
    if segment.get("departements"):
        parts.append("départements : " + ", ".join(departements_list.label(d) for d in segment["departements"]))
    text = " ; ".join(parts)
    return text[:1].upper() + text[1:]


def from_lists(topics: Iterable[str] = (), roles: Iterable[str] = (), communes: Iterable[str] = (),
               departements: Iterable[str] = ()) -> Segment:
    return normalize({"topics": list(topics), "roles": list(roles), "communes": list(communes),
                      "departements": list(departements)})
