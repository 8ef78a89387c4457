"""The directory of actions (`/actions/`): the accepted and published fiches action, searched in
French, narrowed by facets, one page per fiche, and an Atom feed of the new ones.

Search, the same on both databases:

- PostgreSQL: `to_tsvector('french', …)` over the fiche's text (its contribution's title and body,
  then every text field of the fiche), matched with `websearch_to_tsquery('french', q)`. Accents are
  folded first (`translate`, no extension needed) so that « creche » finds « crèche ». Two
  expression GIN indexes (migration 0005_directory_search), one per table; the query reads them
  through a prefilter (`_pg_candidates`) then checks the whole document.
- SQLite (the embedded default): an FTS5 table `fiche_search` (tokenizer `unicode61
  remove_diacritics 2`) holding the same document already analysed in Python the way PostgreSQL's
  `french` configuration does it: accents folded, the same stop words dropped (their position
  kept), every word stemmed by the same Snowball French stemmer. The query is parsed with
  websearch's rules (words are ANDed, "a phrase", -word, or) and evaluated term by term.
  The table is kept in sync on every flush that touches a fiche (`_sync_after_flush`), and rebuilt
  when it no longer counts the fiches (rows written outside the ORM).

So "parents" finds "parent", "jardins" finds "jardin", "sante" finds "santé", on both. A one-word
term is also searched in its other number (`other_number`): the stemmer alone sends « goûter » to
goût (a verb) and « goûters » to goûter, so neither found the other.

Départements are stored by their code ("93", core/departements.py): a query term that names one
("Seine-Saint-Denis", "val-de-marne", "93") also finds the fiches of that département (the fiche's,
else its structure's), on both databases.

Facets are normalised when they are counted: départements by code, shown "Seine-Saint-Denis (93)";
keywords, public and dimension case-folded ("parentalité" and "Parentalité" are one value, shown in
its most frequent spelling). Filters given in any of those spellings select the same fiches.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, joinedload, selectinload

from contributions.fulltext import (  # noqa: F401  (re-exported: the directory's search vocabulary)
    ACCENTED,
    GAP,
    LIGATURES,
    PG_FICHE_COLUMNS,
    PLAIN,
    _pg_document,
    _word,
    document_parts,
    fold,
    lexemes,
    pg_contribution_document,
    pg_fiche_document,
)
from contributions.fulltext import (
    JSON_COLUMNS as _PG_JSON_COLUMNS,
)
from contributions.models import (
    VISIBLE_STATUSES,
    Contribution,
    ContributionKind,
    FicheAction,
    visible_statuses_sql,
)
from core import departements

PER_PAGE = 20
FTS_TABLE = "fiche_search"

ACTION_STATUS_LABELS = {"en_cours": "En cours", "terminee": "Terminée"}

# --- Parsing a query with websearch_to_tsquery's rules -----------------------------------------------

@dataclass(frozen=True)
class Term:
    raw: str               # the words as typed (accents folded), for PostgreSQL
    lexemes: tuple[str, ...]
    negated: bool = False
    departement: str | None = None  # the code, when the term names a département
    alternatives: tuple[str, ...] = ()  # the lexemes of the word's other number (one-word terms)


def _term_departement(body: str) -> str | None:
    """The département a search term names ("seine-saint-denis", "93"), if any; a lone digit is a
    number, not the Ain."""
    if body.isdigit() and len(body) < 2:
        return None
    return departements.normalize(body)


_PLAIN_WORD = re.compile(r"[^\W\d_]{3,}")


def other_number(word: str) -> list[str]:
    """The word in its other grammatical number, as far as spelling tells: « gouters » → « gouter »,
    « gouter » → « gouters ». The Snowball stemmer reads some singulars as verbs (« goûter » → goût)
    and not their plurals (« goûters » → goûter): searching both forms finds either."""
    if not _PLAIN_WORD.fullmatch(word):
        return []
    if word.endswith(("s", "x")) and not word.endswith("ss"):
        return [word[:-1]]
    return [word + "s"]


@dataclass
class Query:
    groups: list[list[Term]] = field(default_factory=list)  # OR of ANDs

    @property
    def empty(self) -> bool:
        return not any(self.groups)

    @property
    def positive_terms(self) -> list[Term]:
        return [t for group in self.groups for t in group if not t.negated]

    @property
    def every_group_has_a_positive_term(self) -> bool:
        return all(any(not t.negated for t in group) for group in self.groups)


def parse_query(q: str | None) -> Query:
    query = Query()
    if not q or not q.strip():
        return query
    chunks = re.findall(r'-?"[^"]*"?|\S+', fold(q))
    group: list[Term] = []
    pending_or = False
    for chunk in chunks:
        negated = chunk.startswith("-") and len(chunk) > 1
        body = chunk[1:] if negated else chunk
        quoted = body.startswith('"')
        body = body.strip('"')
        if not quoted and not negated and body == "or" and group:
            pending_or = True
            continue
        words = lexemes(body)
        while words and words[0] == GAP:
            words.pop(0)
        while words and words[-1] == GAP:
            words.pop()
        if not words:
            continue
        if pending_or:
            query.groups.append(group)
            group = []
            pending_or = False
        raw = f'"{body}"' if quoted or len(words) > 1 else body
        alternatives = tuple(lexeme for lexeme in map(_word, other_number(raw)) if lexeme not in (GAP, words[0]))
        group.append(Term(raw=raw, lexemes=tuple(words), negated=negated, alternatives=alternatives,
                          departement=_term_departement(body)))
    if pending_or:  # "parents or": the trailing or is a word, as in PostgreSQL
        group.append(Term(raw="or", lexemes=(_word("or"),)))
    if group:
        query.groups.append(group)
    return query


def _websearch_text(query: Query) -> str:
    return " or ".join(" ".join(("-" if t.negated else "") + t.raw for t in group) for group in query.groups)


def pg_term_text(term: Term) -> str:
    """The term for websearch_to_tsquery, which reads a leading « - » as NOT: the term's own
    negation is already the EXCEPT around it, and « --parents » is « -parents », as on SQLite."""
    raw = term.raw if term.raw.startswith('"') else term.raw.lstrip("-")
    return " or ".join((raw, *other_number(raw))) if term.alternatives else raw


# --- Keeping the SQLite index in sync --------------------------------------------------------------

def is_sqlite(db: Session) -> bool:
    return db.get_bind().dialect.name == "sqlite"


_FICHE_ROWS = """
SELECT c.id, c.title, c.body_md, f.structure_label, f.departement, f.dimension, f.keywords, f.summary,
       f.initiative, f.territory, f.description, f.public, f.partners, f.partners_description,
       f.financial_resources, f.people_mobilised, f.result_territory, f.result_structure,
       f.result_inhabitants, f.limits, f.perspectives
FROM contributions c JOIN fiches_action f ON f.contribution_id = c.id
WHERE c.kind = 'fiche_action'
"""


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return list(value) if isinstance(value, list) else [str(value)]


def _fts_document(row) -> str:
    m = row._mapping
    fiche = {k: m[k] for k in PG_FICHE_COLUMNS}
    for name in _PG_JSON_COLUMNS:
        fiche[name] = _as_list(fiche[name])
    return fiche_document(m["title"], m["body_md"], fiche)


def _fts_exists(connection) -> bool:
    return connection.execute(text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": FTS_TABLE}).first() is not None


def create_sqlite_index(connection) -> None:
    connection.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                            "doc, tokenize = 'unicode61 remove_diacritics 2')"))


def _write(connection, ids: set[int]) -> None:
    if not ids:
        return
    for chunk in _chunks(sorted(ids), 500):
        marks = ", ".join(str(int(i)) for i in chunk)
        connection.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks})"))
        rows = connection.execute(text(_FICHE_ROWS + f" AND c.id IN ({marks})")).all()
        if rows:
            connection.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                               [{"id": row.id, "doc": _fts_document(row)} for row in rows])


def fiche_document(title: str | None, body_md: str | None, fiche: dict) -> str:
    """A fiche's FTS5 document from its values (`fiche`: the FicheAction fields, lists as lists)."""
    contribution_text, fiche_text = document_parts(title, body_md, fiche)
    return " ".join(lexemes(contribution_text) + lexemes(fiche_text))


def index_documents(session: Session, documents: dict[int, str]) -> None:
    """Write the FTS5 rows of new fiches (SQLite; PostgreSQL indexes by itself), their documents
    made by `fiche_document`: for rows written by bulk statements, which no flush sees."""
    if is_sqlite(session) and documents:
        connection = session.connection()
        if _fts_exists(connection):
            connection.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                               [{"id": i, "doc": doc} for i, doc in documents.items()])


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def rebuild_sqlite_index(connection) -> int:
    """Write the whole FTS5 table again from the fiches (SQLite only). Returns the fiche count."""
    create_sqlite_index(connection)
    connection.execute(text(f"DELETE FROM {FTS_TABLE}"))
    rows = connection.execute(text(_FICHE_ROWS)).all()
    for chunk in _chunks(rows, 1000):
        connection.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                           [{"id": row.id, "doc": _fts_document(row)} for row in chunk])
    return len(rows)


def _ensure_sqlite_index(db: Session) -> None:
    """Create or rebuild the FTS5 table when it is missing or no longer counts the fiches."""
    connection = db.connection()
    if not _fts_exists(connection):
        rebuild_sqlite_index(connection)
        return
    indexed = connection.execute(text(f"SELECT count(*) FROM {FTS_TABLE}")).scalar()
    fiches = connection.execute(text("SELECT count(*) FROM contributions c JOIN fiches_action f "
                                     "ON f.contribution_id = c.id WHERE c.kind = 'fiche_action'")).scalar()
    if indexed != fiches:
        rebuild_sqlite_index(connection)


def install_search_sync(session_factory) -> None:
    """Keep the SQLite FTS5 index in step with the fiches, for the sessions this factory makes
    (the bootstrap calls this once; PostgreSQL indexes by itself)."""
    if not event.contains(session_factory, "after_flush", _sync_after_flush):
        event.listen(session_factory, "after_flush", _sync_after_flush)


def _sync_after_flush(session: Session, _flush_context) -> None:
    """Rewrite the FTS5 rows of the fiches this flush touched (their SQL has run: the same
    transaction reads their new state, or finds a deleted one gone)."""
    touched: set[int] = set()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Contribution) and obj.id and obj.kind in (ContributionKind.fiche_action, "fiche_action"):
            touched.add(obj.id)
        elif isinstance(obj, FicheAction) and obj.contribution_id:
            touched.add(obj.contribution_id)
    if not touched:
        return
    try:
        bind = session.get_bind()
    except Exception:  # noqa: BLE001  an unbound session has nothing to sync
        return
    if bind.dialect.name != "sqlite":
        return
    connection = session.connection()
    if _fts_exists(connection):
        _write(connection, touched)


# --- Searching ---------------------------------------------------------------------------------------
# Every step runs in SQL: the matching ids come from the full-text indexes (one lookup per term,
# combined by set operations), then the facets are GROUP BY counts over them and the page is an
# ORDER BY … LIMIT. No fiche is loaded into Python but the page's own (bench/directory.py).

class _Params(dict):
    """Bind parameters of a statement being written: each value gets its own name."""

    def add(self, value) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f":{name}"

    def in_list(self, values) -> str:
        values = list(values)
        return "(" + ", ".join(self.add(v) for v in values) + ")" if values else "(NULL)"


def _visible_ids_sql() -> str:
    return ("SELECT c.id FROM contributions c JOIN fiches_action f ON f.contribution_id = c.id "
            f"WHERE c.kind = 'fiche_action' AND c.status IN ({visible_statuses_sql()})")


# A fiche's département: its own, else its structure's (an empty text is none).
_DEPARTEMENT_EXPR = "COALESCE(NULLIF(f.departement, ''), NULLIF(s.departement, ''))"
_FICHES_FROM = ("FROM contributions c JOIN fiches_action f ON f.contribution_id = c.id "
                "JOIN structures s ON s.id = c.structure_id ")


def _departement_spellings(db: Session, code: str) -> set[str]:
    """Every way the fiches and structures write the département `code` (a short list: the
    distinct values, not the fiches)."""
    rows = db.execute(text("SELECT DISTINCT departement FROM fiches_action "
                           "UNION SELECT DISTINCT departement FROM structures"))
    return {row[0] for row in rows if row[0] and canonical("departement", row[0]) == code}


def _departement_ids_sql(db: Session, params: _Params, code: str) -> str:
    """The fiches of a département: the fiche's own, else its structure's (as the facet counts
    them), whichever way it is written."""
    return (f"SELECT c.id {_FICHES_FROM}WHERE c.kind = 'fiche_action' AND "
            f"{_DEPARTEMENT_EXPR} IN {params.in_list(sorted(_departement_spellings(db, code)))}")


def _pg_term_ids(placeholder: str, departement_sql: str | None = None) -> str:
    """Ids of the fiches holding one term (a word or a phrase), in the title and body or in the
    fiche's fields: each side answered by its GIN expression index alone; and those of the
    département the term names."""
    tsquery = f"websearch_to_tsquery('french', {placeholder})"
    sql = (f"SELECT id FROM contributions WHERE kind = 'fiche_action' AND {pg_contribution_document()} @@ {tsquery} "
           f"UNION SELECT contribution_id FROM fiches_action WHERE {pg_fiche_document()} @@ {tsquery}")
    if departement_sql:
        sql += f" UNION {departement_sql}"
    return sql


def _pg_match_sql(db: Session, query: Query, params: _Params) -> str:
    """The matching visible fiche ids (PostgreSQL): set operations over one index lookup per term,
    as the SQLite side does with FTS5 (testing the whole document row by row would rebuild each
    candidate's tsvector: about 1.2 ms a fiche). A group starts from its first positive term's
    fiches, not from every visible fiche: a rare word reads a few rows."""
    groups = []
    for group in query.groups:
        ordered = sorted(group, key=lambda t: t.negated)
        matched = "" if ordered[0].negated else None
        for term in ordered:
            placeholder = params.add(pg_term_text(term))
            extra = _departement_ids_sql(db, params, term.departement) if term.departement else None
            lookup = _pg_term_ids(placeholder, extra)
            if matched is None:
                matched = f"({lookup})"
            elif matched == "":
                matched = f"(SELECT c.id FROM contributions c WHERE c.kind = 'fiche_action') EXCEPT ({lookup})"
            else:
                matched = f"({matched}) {'EXCEPT' if term.negated else 'INTERSECT'} ({lookup})"
        groups.append(f"({matched})")
    return (f"SELECT c.id FROM contributions c JOIN fiches_action f ON f.contribution_id = c.id "
            f"WHERE c.status IN ({visible_statuses_sql()}) AND c.id IN ({' UNION '.join(groups)})")


def _fts_phrase(term: Term) -> str:
    phrase = '"' + " ".join(term.lexemes) + '"'
    return " OR ".join((phrase, *(f'"{lexeme}"' for lexeme in term.alternatives)))


def _sqlite_match_sql(db: Session, query: Query, params: _Params) -> str:
    """The matching visible fiche ids (SQLite): the same set operations over the FTS5 table (a
    compound SELECT reads left to right: the positive terms first, then the negated ones)."""
    groups = []
    for group in query.groups:
        matched = _visible_ids_sql()
        for term in sorted(group, key=lambda t: t.negated):
            sql = f"SELECT rowid AS id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {params.add(_fts_phrase(term))}"
            if term.departement:
                sql += f" UNION {_departement_ids_sql(db, params, term.departement)}"
            matched += f" {'EXCEPT' if term.negated else 'INTERSECT'} SELECT id FROM ({sql})"
        groups.append(f"SELECT id FROM ({matched})")
    return " UNION ".join(groups)


def _matching(db: Session, query: Query) -> dict[int, float]:
    """The visible fiche ids matching a non-empty query → their rank (higher is better).

    On SQLite, FTS5's bm25 over the document. On PostgreSQL, how many of the positive terms the
    title and body hold (their GIN index answers, as for the match): `ts_rank` would rebuild the
    tsvector of every matching fiche, which costs more than the rest of the page."""
    params = _Params()
    positives = query.positive_terms
    if is_sqlite(db):
        _ensure_sqlite_index(db)
        sql = _sqlite_match_sql(db, query, params)
        if not positives:
            return {row[0]: 0.0 for row in db.execute(text(sql), params)}
        any_match = " OR ".join(f"({_fts_phrase(t)})" for t in positives)
        return {row[0]: float(row[1]) for row in db.execute(text(
            f"SELECT m.id, COALESCE(-r.score, 0) FROM ({sql}) m LEFT JOIN (SELECT rowid AS id, bm25({FTS_TABLE}) "
            f"AS score FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {params.add(any_match)}) r ON r.id = m.id"), params)}
    sql = _pg_match_sql(db, query, params)
    in_text = [f"CASE WHEN m.id IN (SELECT id FROM contributions WHERE kind = 'fiche_action' AND "
               f"{pg_contribution_document()} @@ websearch_to_tsquery('french', {params.add(pg_term_text(t))})) "
               "THEN 1 ELSE 0 END" for t in positives]
    # A common word matches most fiches, and the planner then prefers a sequential scan that
    # rebuilds every row's tsvector: far dearer than its cost model says. Only for this query.
    # (jit: see `search`; one statement for both settings, round trips cost more than they do)
    db.execute(text("SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)"))
    try:
        return {row[0]: float(row[1]) for row in db.execute(
            text(f"SELECT m.id, {' + '.join(in_text) or '0'} FROM ({sql}) m"), params)}
    finally:
        db.execute(text("SET LOCAL enable_seqscan = on"))


def matching_ids(db: Session, q: str | None) -> dict[int, float] | None:
    """Visible fiche ids matching the query, with a rank (higher is better); None: no query."""
    query = parse_query(q)
    if query.empty:
        return None
    return _matching(db, query)


def _ranked_join(db: Session, ranks: dict[int, float], params: _Params) -> str:
    """A JOIN of `c` with the matching ids and their rank (`r.rank`): two array parameters on
    PostgreSQL, a temporary table on SQLite."""
    if is_sqlite(db):
        # A temporary table with its primary key: joined to a json_each() subquery, SQLite may
        # read the whole JSON again for every fiche.
        connection = db.connection()
        connection.execute(text("CREATE TEMP TABLE IF NOT EXISTS search_ranks (id INTEGER PRIMARY KEY, rank REAL)"))
        connection.execute(text("DELETE FROM temp.search_ranks"))
        connection.execute(text("INSERT INTO temp.search_ranks (id, rank) VALUES (:id, :rank)"),
                           [{"id": i, "rank": rank} for i, rank in ranks.items()])
        return "JOIN temp.search_ranks r ON r.id = c.id "
    return (f"JOIN unnest(CAST({params.add(list(ranks))} AS integer[]), "
            f"CAST({params.add(list(ranks.values()))} AS double precision[])) AS r(id, rank) ON r.id = c.id ")


def _title_order(db: Session) -> str:
    """The order of titles: folded (no accents, no case), in code point order as Python sorts.
    On PostgreSQL the first letter folded then the title in lower case: folding whole titles
    (`translate`) costs more than the rest of the page, and accents after the first letter
    rarely decide an order."""
    if is_sqlite(db):
        db.connection().connection.driver_connection.create_function(  # type: ignore[union-attr]
            "parentalites_fold", 1, fold, deterministic=True)
        return "parentalites_fold(c.title)"
    first = "left(c.title, 1)"
    for ligature, letters in LIGATURES:
        first = f"replace({first}, '{ligature}', '{letters}')"
    return f"lower(translate({first}, '{ACCENTED}', '{PLAIN}')) COLLATE \"C\", lower(c.title) COLLATE \"C\""


# --- Facets ------------------------------------------------------------------------------------------

FACETS = [
    # (parameter, label, multi-valued)
    ("departement", "Département", False),
    ("dimension", "Dimension", False),
    ("mot_cle", "Mots clés", True),
    ("public", "Public", True),
    ("statut", "Statut de l'action", False),
    ("annee", "Année", False),
]
FACET_LABELS = {name: label for name, label, _ in FACETS}
# Free text written by partners and imports: one value whatever its case and spacing.
TEXT_FACETS = {"dimension", "mot_cle", "public"}


def canonical(name: str, value: str) -> str:
    """The key a facet value is counted and filtered under: a département's code (or its text
    when it names none), a case-folded keyword, or the value itself."""
    value = " ".join((value or "").split())
    if name == "departement":
        return departements.normalize(value) or value
    if name in TEXT_FACETS:
        return value.casefold()
    return value


def _display_form(spellings: Counter) -> str:
    """The spelling shown for a case-folded value: the most frequent, then a capitalised one."""
    return min(spellings.items(), key=lambda kv: (-kv[1], not kv[0][:1].isupper(), kv[0]))[0]


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class Facet:
    name: str
    label: str
    values: list[FacetValue]

    @property
    def has_selection(self) -> bool:
        return any(v.selected for v in self.values)


@dataclass
class DirectoryPage:
    query: str
    results: list[Contribution]
    total: int
    page: int
    pages: int
    facets: list[Facet]
    selected: dict[str, list[str]]


def _value_label(name: str, value: str) -> str:
    if name == "statut":
        return ACTION_STATUS_LABELS.get(value, value)
    if name == "departement":
        return departements.label(value)
    return value


def _json_items(db: Session, column: str) -> str:
    """A table of the items of a JSON list column (`k.value`), none when it holds no list."""
    if is_sqlite(db):
        return f"json_each(CASE WHEN json_type({column}) = 'array' THEN {column} ELSE '[]' END) AS k"
    return (f"jsonb_array_elements_text(CASE WHEN jsonb_typeof(CAST({column} AS jsonb)) = 'array' "
            f"THEN CAST({column} AS jsonb) ELSE '[]'::jsonb END) AS k(value)")


_FACET_COLUMNS = {"departement": "departement", "dimension": "dimension", "mot_cle": "keywords",
                  "public": "public", "statut": "action_status", "annee": "year"}


def _facet_counts(db: Session, base: str, params: _Params, names: list[str]) -> list[tuple[str, str, int]]:
    """(facet, value as written, fiches) for the fiches of `base`, counted by GROUP BY: the values
    are few, the fiches many. Multi-valued facets count a fiche once per value."""
    selects = []
    for name in names:
        if name in ("mot_cle", "public"):
            items = _json_items(db, "m." + _FACET_COLUMNS[name])
            selects.append(f"SELECT '{name}', k.value, count(DISTINCT m.id) FROM m, {items} "
                           "WHERE k.value IS NOT NULL AND k.value <> '' GROUP BY k.value")
        elif name == "annee":
            selects.append("SELECT 'annee', CAST(m.year AS VARCHAR(4)), count(*) FROM m "
                           "WHERE m.year IS NOT NULL AND m.year <> 0 GROUP BY m.year")
        else:
            column = f"m.{_FACET_COLUMNS[name]}"
            selects.append(f"SELECT '{name}', {column}, count(*) FROM m WHERE {column} IS NOT NULL AND {column} <> '' "
                           f"GROUP BY {column}")
    sql = f"WITH m AS ({base}) " + " UNION ALL ".join(selects)
    return [(row[0], str(row[1]), int(row[2])) for row in db.execute(text(sql), params)]


def _filter_condition(db: Session, name: str, written: list[str], params: _Params) -> str:
    """Fiches holding one of the spellings `written` of a facet's chosen values."""
    if name == "annee":
        return f"f.year IN {params.in_list(sorted({int(v) for v in written if v.isdigit()}))}"
    if name == "departement":
        return f"{_DEPARTEMENT_EXPR} IN {params.in_list(written)}"
    if name in ("mot_cle", "public"):
        return (f"EXISTS (SELECT 1 FROM {_json_items(db, 'f.' + _FACET_COLUMNS[name])} "
                f"WHERE k.value IN {params.in_list(written)})")
    return f"f.{_FACET_COLUMNS[name]} IN {params.in_list(written)}"


def search(db: Session, q: str | None = None, filters: dict[str, list[str]] | None = None,
           page: int = 1, per_page: int = PER_PAGE) -> DirectoryPage:
    """One page of the directory: fiches matching the query and the facets, with facet counts.
    Within a facet the ticked values are alternatives (or); facets combine with and. Each facet
    counts what its values would give with the other facets as they are."""
    filters = {name: list(dict.fromkeys(canonical(name, v) for v in values if v and v.strip()))
               for name, values in (filters or {}).items() if name in FACET_LABELS}
    filters = {name: wanted for name, wanted in filters.items() if wanted}
    query = parse_query(q)
    params = _Params()
    where = ["c.kind = 'fiche_action'", f"c.status IN ({visible_statuses_sql()})"]
    matched = ""
    if not query.empty:
        ranks = _matching(db, query)
        if ranks:
            matched = _ranked_join(db, ranks, params)
        else:
            where.append("1 = 0")
    if not is_sqlite(db) and query.empty:
        # The facets' JSON lists make the planner's estimates large enough to compile the query
        # (JIT), which then costs more than running it (`_matching` sets it off with a query).
        db.execute(text("SET LOCAL jit = off"))
    columns = (f"SELECT c.id, {_DEPARTEMENT_EXPR} AS departement, f.dimension, f.keywords, f.public, "
               "f.action_status, f.year ")

    def base(conditions: list[str]) -> str:
        return columns + _FICHES_FROM + matched + "WHERE " + " AND ".join(where + conditions)

    names = [name for name, _label, _multi in FACETS]
    # Every value of the matching fiches, as written: their spellings, and what a filter selects.
    unfiltered = _facet_counts(db, base([]), params, names)
    spellings: dict[tuple[str, str], Counter] = {}
    written: dict[str, dict[str, set[str]]] = {name: {} for name in names}
    for name, value, count in unfiltered:
        key = canonical(name, value)
        written[name].setdefault(key, set()).add(value)
        if name in TEXT_FACETS:
            spellings.setdefault((name, key), Counter())[" ".join(value.split())] += count
    conditions = {name: _filter_condition(db, name, sorted(set().union(*(written[name].get(k, set()) for k in wanted))),
                                          params)
                  for name, wanted in filters.items()}

    def shown(name: str, key: str) -> str:
        """The value a facet's checkbox carries (in the URL): the code, or one spelling."""
        if (name, key) in spellings:
            return _display_form(spellings[(name, key)])
        return key

    # Each facet counts with the other facets' filters: facets sharing the same filters share a query.
    by_filters: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        by_filters.setdefault(tuple(n for n in filters if n != name), []).append(name)
    raw_counts: dict[str, dict[str, int]] = {name: {} for name in names}
    for applied, facet_names in by_filters.items():
        facet_rows = unfiltered if not applied else _facet_counts(
            db, base([conditions[n] for n in applied]), params, facet_names)
        for name, value, count in facet_rows:
            if name in facet_names:
                key = canonical(name, value)
                raw_counts[name][key] = raw_counts[name].get(key, 0) + count

    facets = []
    for name, label, _multi in FACETS:
        counts = raw_counts[name]
        chosen = set(filters.get(name, []))
        for v in chosen:
            counts.setdefault(v, 0)
        if name == "annee":
            ordered = sorted(counts.items(), key=lambda kv: kv[0], reverse=True)
        else:
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], fold(_value_label(name, shown(name, kv[0])))))
        facets.append(Facet(name, label, [FacetValue(shown(name, v), _value_label(name, shown(name, v)), n, v in chosen)
                                          for v, n in ordered]))

    kept = where + list(conditions.values())
    order = ["COALESCE(f.year, 0) DESC"] if query.empty or not matched else ["r.rank DESC"]
    order += [_title_order(db), "c.id"]
    page_sql = (f"SELECT c.id, count(*) OVER () AS total {_FICHES_FROM}{matched}WHERE {' AND '.join(kept)} "
                f"ORDER BY {', '.join(order)} LIMIT :limit OFFSET :offset")
    page = max(1, page)
    rows = db.execute(text(page_sql), params | {"limit": per_page, "offset": (page - 1) * per_page}).all()
    if rows:
        total = rows[0].total
    else:
        total = db.scalar(text(f"SELECT count(*) {_FICHES_FROM}{matched}WHERE {' AND '.join(kept)}"), params) or 0
    pages = max(1, math.ceil(total / per_page))
    if page > pages:  # past the last page: show the last one
        page = pages
        rows = db.execute(text(page_sql), params | {"limit": per_page, "offset": (page - 1) * per_page}).all()
    page_ids = [row.id for row in rows]
    loaded = {c.id: c for c in db.scalars(  # one query: a fiche and a structure per contribution
        select(Contribution).where(Contribution.id.in_(page_ids))
        .options(joinedload(Contribution.fiche), joinedload(Contribution.structure)))} if page_ids else {}
    return DirectoryPage(query=q or "", results=[loaded[i] for i in page_ids], total=total, page=page,
                         pages=pages, facets=facets, selected=filters)



def get_fiche(db: Session, contribution_id: int) -> Contribution | None:
    """A fiche the public may see (accepted or published), with its structure and files."""
    return db.scalar(select(Contribution).where(
        Contribution.id == contribution_id, Contribution.kind == ContributionKind.fiche_action,
        Contribution.status.in_(VISIBLE_STATUSES))
        .options(selectinload(Contribution.fiche), selectinload(Contribution.structure),
                 selectinload(Contribution.files)))


def newest(db: Session, limit: int = 30) -> list[Contribution]:
    """The newest visible fiches, for the Atom feed."""
    return list(db.scalars(
        select(Contribution).where(Contribution.kind == ContributionKind.fiche_action,
                                   Contribution.status.in_(VISIBLE_STATUSES))
        .order_by(Contribution.created_at.desc(), Contribution.id.desc()).limit(limit)
        .options(selectinload(Contribution.fiche), selectinload(Contribution.structure))))


def text_as_markdown(value: str | None) -> str:
    """Imported text keeps its line breaks: each line is a paragraph, "- " lines stay list items."""
    if not value:
        return ""
    out: list[str] = []
    previous_item = False
    for line in value.splitlines():
        line = line.rstrip()
        if not line.strip():
            previous_item = False
            continue
        item = bool(re.match(r"^\s*[-*•]\s+\S", line))
        if out:
            out.append("\n" if item and previous_item else "\n\n")
        out.append(re.sub(r"^\s*•\s+", "- ", line) if item else line)
        previous_item = item
    return "".join(out)
