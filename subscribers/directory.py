"""The editors' list of subscribers (`/redaction/abonnes/`) and its export (web and CLI).

- `parse_filters(args)` turns the query string into `Filters`: never raises, whatever the input;
  a value it cannot use is dropped and named in `Filters.problems` (French), so a bad link shows the
  list with a notice, never an error page.
- `condition(filters)` is the SQL condition (status apart, so that the counts per status can be
  taken over the same selection); `search(db, filters, page)` gives one page, the total and the counts.
- Search is on the address, the name and the structure, case- and accent-insensitive: both sides go
  through `fold` (Python) / `folded` (SQL: `translate` on PostgreSQL, nested `replace` on SQLite),
  every word of the query must appear (`LIKE '%word%'`, wildcards escaped).
- The topic, role and commune filters follow the segments' rules (subscribers/segments.py): a
  subscriber who picked no topic counts for every topic, so the count is who a segment would reach.
- `csv_chunks(rows)` is THE CSV writer (UTF-8 with BOM, `;`, formulas defused), used by the web
  export and by `parentalites subscribers export`.
"""
from __future__ import annotations

import csv
import io
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, String, and_, func, literal, literal_column, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from core import departements
from subscribers.models import (
    LEGAL_BASIS_LABELS,
    ROLES,
    TOPICS,
    ConsentRecord,
    LegalBasis,
    Subscriber,
    SubscriberStatus,
)
from subscribers.segments import clean_commune, topics_match

PAGE_SIZE = 50
MAX_QUERY_LENGTH = 200
MAX_WORDS = 8

STATUS_LABELS = {
    SubscriberStatus.pending: "en attente",
    SubscriberStatus.active: "actif",
    SubscriberStatus.unsubscribed: "désabonné",
    SubscriberStatus.suppressed: "suspendu",
}
# The import's vocabulary (subs-import): `consentement`, `intérêt légitime`.
BASIS_EXPORT = {LegalBasis.consent: "consentement", LegalBasis.legitimate_interest: "intérêt légitime"}

# Accents folded the same way as contributions/fulltext.py (kept apart: sibling packages).
ACCENTED = "ÀÂÄÁÃÅàâäáãåÇçÉÈÊËéèêëÎÏÍÌîïíìÔÖÓÒÕôöóòõÙÛÜÚùûüúŸÝÿýÑñ"
PLAIN = "AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuYYyyNn"
LIGATURES = (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE"))
_FOLD = str.maketrans(ACCENTED, PLAIN)


def fold(value: str) -> str:
    """Lower case, accents and ligatures folded: « Zoé Lœuvre » → « zoe loeuvre »."""
    for ligature, letters in LIGATURES:
        value = value.replace(ligature, letters)
    return value.translate(_FOLD).lower()


class folded(FunctionElement):
    """`fold` in SQL, compiled per dialect below."""

    type = String()
    inherit_cache = True
    name = "folded"


@compiles(folded)
def _folded_default(element, compiler, **kw):  # pragma: no cover - only SQLite and PG run
    raise NotImplementedError(f"subscribers.directory: dialect {compiler.dialect.name} not supported")


@compiles(folded, "postgresql")
def _folded_postgresql(element, compiler, **kw):
    sql = compiler.process(list(element.clauses)[0], **kw)
    for ligature, letters in LIGATURES:
        sql = f"replace({sql}, '{ligature}', '{letters}')"
    # translate first: lower() of a non-ASCII letter depends on the database's locale.
    return f"lower(translate({sql}, '{ACCENTED}', '{PLAIN}'))"


@compiles(folded, "sqlite")
def _folded_sqlite(element, compiler, **kw):
    # SQLite has no translate() and its lower() folds ASCII only; nested replace() calls overflow its
    # parser once a search has a few words: `fold` itself, given to the connection by prepare().
    return f"{SQLITE_FOLD}({compiler.process(list(element.clauses)[0], **kw)})"


SQLITE_FOLD = "parentalites_fold"


def _sql_fold(value: str | None) -> str | None:
    return None if value is None else fold(value)


def prepare(db: Session) -> None:
    """On SQLite, give the session's connection the `parentalites_fold` function (cheap; a connection
    may have been opened before this module was used). Nothing to do on PostgreSQL."""
    if db.get_bind().dialect.name == "sqlite":
        raw = db.connection().connection.driver_connection
        if isinstance(raw, sqlite3.Connection):
            raw.create_function(SQLITE_FOLD, 1, _sql_fold, deterministic=True)


# --- Filters ------------------------------------------------------------------------------------

@dataclass
class Filters:
    q: str = ""
    status: SubscriberStatus | None = None
    topic: str | None = None
    role: str | None = None
    commune: str | None = None
    departement: str | None = None
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def words(self) -> list[str]:
        return [w for w in fold(self.q).split() if w][:MAX_WORDS]

    def args(self, **override) -> dict[str, str | int]:
        """The query string of this selection (for links: pages, export), without empty values."""
        values: dict[str, str | int | None] = {
            "q": self.q, "statut": self.status.value if self.status else None, "theme": self.topic,
            "fonction": self.role, "commune": self.commune, "departement": self.departement}
        values.update(override)
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.topic or self.role or self.commune or self.departement)


def _one(args: Mapping, key: str) -> str:
    value = args.get(key)
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "".join(ch for ch in str(value or "") if ch.isprintable()).strip()


def clean_departement(value: str | None) -> str | None:
    """A département code as stored ("93", "2A", "971", "01"), given by code or by name; None when
    it names none (core.departements, the official list)."""
    return departements.normalize(value)


def parse_page(value: str | None) -> int:
    if not value or not value.isascii() or not value.isdigit() or len(value) > 9:
        return 1
    return max(int(value), 1)


def parse_filters(args: Mapping) -> Filters:
    """Read the list's query string (French keys: q, statut, theme, fonction, commune, departement,
    page). Never raises."""
    f = Filters()
    q = " ".join(_one(args, "q").split())
    if len(q) > MAX_QUERY_LENGTH:
        f.problems.append(f"Recherche raccourcie à {MAX_QUERY_LENGTH} caractères.")
        q = q[:MAX_QUERY_LENGTH]
    f.q = q
    status = _one(args, "statut")
    if status:
        try:
            f.status = SubscriberStatus(status)
        except ValueError:
            f.problems.append("Statut inconnu, filtre ignoré.")
    topic = _one(args, "theme")
    if topic:
        if topic in TOPICS:
            f.topic = topic
        else:
            f.problems.append("Thème inconnu, filtre ignoré.")
    role = _one(args, "fonction")
    if role:
        if role in ROLES:
            f.role = role
        else:
            f.problems.append("Fonction inconnue, filtre ignoré.")
    commune = clean_commune(_one(args, "commune"))[:120]
    f.commune = commune or None
    departement = _one(args, "departement")
    if departement:
        f.departement = clean_departement(departement)
        if f.departement is None:
            f.problems.append("Département inconnu (attendu : un code comme 93, 2A ou 971), filtre ignoré.")
    f.page = parse_page(_one(args, "page"))
    return f


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The searched text on PostgreSQL, written once: the migration 0012_subs_admin indexes exactly this
# expression with pg_trgm (GIN, gin_trgm_ops) when the extension is available, and the planner uses
# an index only for an identical expression (tests/integration/subscribers/test_admin.py checks it).
PG_SEARCH_DOCUMENT = (
    "lower(translate(replace(replace(replace(replace("
    "(email::text || ' ' || coalesce(name, '')::text || ' ' || coalesce(structure_name, '')::text), "
    "'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE'), "
    f"'{ACCENTED}', '{PLAIN}'))")


class search_document(FunctionElement):
    """The folded address, name and structure of a subscriber (PG_SEARCH_DOCUMENT on PostgreSQL)."""

    type = String()
    inherit_cache = True
    name = "search_document"


@compiles(search_document, "postgresql")
def _search_document_postgresql(element, compiler, **kw):
    return PG_SEARCH_DOCUMENT


@compiles(search_document)
def _search_document_default(element, compiler, **kw):
    document = (Subscriber.email + literal_column("' '") + func.coalesce(Subscriber.name, literal_column("''"))
                + literal_column("' '") + func.coalesce(Subscriber.structure_name, literal_column("''")))
    return compiler.process(folded(document), **kw)


def matching_communes(db: Session, commune: str) -> list[str]:
    """The communes as stored that are `commune` once case and accents are folded (« saint-etienne »
    finds « Saint-Étienne »): read from the (commune, status) index, compared in Python, so that the
    filter itself is an indexed `commune IN (…)`."""
    wanted = fold(clean_commune(commune))
    stored = db.scalars(select(Subscriber.commune).where(Subscriber.commune.isnot(None)).distinct())
    return sorted(c for c in stored if c and fold(clean_commune(c)) == wanted)


def condition(filters: Filters, with_status: bool = True, db: Session | None = None) -> ColumnElement[bool]:
    """The SQL condition of the selection (without the status with with_status=False). With `db`,
    the commune filter is resolved to the stored spellings first (see matching_communes)."""
    parts: list[ColumnElement[bool]] = []
    words = filters.words()
    if words:
        document = search_document()
        parts.extend(document.like(f"%{_like_escape(w)}%", escape="\\") for w in words)
    if with_status and filters.status is not None:
        parts.append(Subscriber.status == filters.status)
    if filters.topic:
        parts.append(topics_match(Subscriber.topics, literal(filters.topic)))
    if filters.role:
        parts.append(Subscriber.role == filters.role)
    if filters.commune:
        if db is not None:
            parts.append(Subscriber.commune.in_(matching_communes(db, filters.commune)))
        else:
            parts.append(folded(Subscriber.commune) == fold(filters.commune))
    if filters.departement:
        parts.append(Subscriber.departement == filters.departement)
    return and_(true(), *parts)


@dataclass
class Page:
    subscribers: list[Subscriber]
    total: int                                  # in the selection, status filter included
    counts: dict[SubscriberStatus, int]         # per status, over the selection without its status
    page: int
    pages: int

    @property
    def all_statuses(self) -> int:
        return sum(self.counts.values())

    def window(self, around: int = 2) -> list[int | None]:
        """The page numbers to link: the first, the last, `around` each side of the current one;
        None where numbers are left out."""
        shown = sorted({1, self.pages, *range(max(self.page - around, 1), min(self.page + around, self.pages) + 1)})
        out: list[int | None] = []
        for n in shown:
            if out and out[-1] is not None and n - out[-1] > 1:
                out.append(None)
            out.append(n)
        return out


def status_counts(db: Session, filters: Filters) -> dict[SubscriberStatus, int]:
    # count(*), not count(id): PostgreSQL can then answer from the (status) / (departement, status) /
    # (commune, status) indexes alone.
    rows = db.execute(select(Subscriber.status, func.count())
                      .where(condition(filters, with_status=False, db=db)).group_by(Subscriber.status))
    counts = dict.fromkeys(SubscriberStatus, 0)
    for status, n in rows:
        counts[SubscriberStatus(status)] = n
    return counts


def search(db: Session, filters: Filters, page_size: int = PAGE_SIZE) -> Page:
    """One page of the selection, most recent first; a page past the end shows the last one."""
    prepare(db)
    counts = status_counts(db, filters)
    total = counts[filters.status] if filters.status is not None else sum(counts.values())
    pages = max(math.ceil(total / page_size), 1)
    page = min(filters.page, pages)
    people = list(db.scalars(select(Subscriber).where(condition(filters, db=db))
                             .order_by(Subscriber.id.desc()).limit(page_size).offset((page - 1) * page_size)))
    return Page(subscribers=people, total=total, counts=counts, page=page, pages=pages)


# Every département code, for the filter's suggestions (no query: it would read every row).
DEPARTEMENTS = list(departements.DEPARTEMENTS)


# --- Export -------------------------------------------------------------------------------------

HEADER = ["email", "nom", "structure", "statut", "thèmes", "rôle", "commune", "département",
          "base légale", "date du consentement", "source", "inscrit le"]
CONSENT_ACTIONS = ("confirm", "import", "reconsent")
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ TAB or CR gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(DANGEROUS_FIRST) else text


def export_query(filters: Filters | None = None, db: Session | None = None):
    """The selection's rows for the export, oldest first, with the date of the last consent proof
    (the confirmation, an imported proof, a re-consent)."""
    consent = (select(ConsentRecord.subscriber_id.label("sid"), func.max(ConsentRecord.at).label("consent_at"))
               .where(ConsentRecord.action.in_(CONSENT_ACTIONS)).group_by(ConsentRecord.subscriber_id)
               .subquery())
    return (select(Subscriber.email, Subscriber.name, Subscriber.structure_name, Subscriber.status,
                   Subscriber.topics, Subscriber.role, Subscriber.commune, Subscriber.departement,
                   Subscriber.legal_basis, Subscriber.confirmed_at, consent.c.consent_at, Subscriber.source,
                   Subscriber.created_at)
            .outerjoin(consent, consent.c.sid == Subscriber.id)
            .where(condition(filters or Filters(), db=db))
            .order_by(Subscriber.id))


def export_count(db: Session, filters: Filters | None = None) -> int:
    prepare(db)
    return db.scalar(select(func.count()).select_from(Subscriber).where(condition(filters or Filters(), db=db))) or 0


def export_rows(db: Session, filters: Filters | None = None) -> Iterator:
    """The rows, fetched 2,000 at a time (a large list never sits in memory at once)."""
    prepare(db)
    yield from db.execute(export_query(filters, db).execution_options(yield_per=2000))


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _topics(value) -> str:
    return "|".join(TOPICS.get(t, str(t)) for t in (value or []))


def cells(row) -> list[str]:
    """One subscriber as the export's cells (French values, dates in UTC), defused."""
    consent_at = row.consent_at or row.confirmed_at
    basis = LegalBasis(row.legal_basis) if row.legal_basis else None
    values = [row.email, row.name, row.structure_name, STATUS_LABELS[SubscriberStatus(row.status)],
              _topics(row.topics), ROLES.get(row.role or "", row.role or ""), row.commune, row.departement,
              BASIS_EXPORT.get(basis, "") if basis else "", _date(consent_at), row.source, _date(row.created_at)]
    return [defuse(v) for v in values]


def csv_chunks(rows: Iterable, chunk_rows: int = 500) -> Iterator[str]:
    """THE CSV of subscribers: the BOM and the header first, then `chunk_rows` rows per chunk.
    Written to a file by the CLI, streamed by the web export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    buffer.write("\ufeff")
    writer.writerow(HEADER)
    pending = 0
    for row in rows:
        writer.writerow(cells(row))
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def legal_basis_label(value: LegalBasis | str | None) -> str:
    return LEGAL_BASIS_LABELS[LegalBasis(value)] if value else ""

