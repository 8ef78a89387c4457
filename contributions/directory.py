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
from sqlalchemy.orm import Session, selectinload

from contributions.fulltext import (  # noqa: F401  (re-exported: the directory's search vocabulary)
    GAP,
    PG_FICHE_COLUMNS,
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
    Structure,
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


def _pg_term_text(term: Term) -> str:
    return " or ".join((term.raw, *other_number(term.raw))) if term.alternatives else term.raw


# --- Keeping the SQLite index in sync --------------------------------------------------------------

def _is_sqlite(db: Session) -> bool:
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
    contribution_text, fiche_text = document_parts(m["title"], m["body_md"], fiche)
    return " ".join(lexemes(contribution_text) + lexemes(fiche_text))


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
        for row in rows:
            connection.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                               {"id": row.id, "doc": _fts_document(row)})


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def rebuild_sqlite_index(connection) -> int:
    """Write the whole FTS5 table again from the fiches (SQLite only). Returns the fiche count."""
    create_sqlite_index(connection)
    connection.execute(text(f"DELETE FROM {FTS_TABLE}"))
    rows = connection.execute(text(_FICHE_ROWS)).all()
    for row in rows:
        connection.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                           {"id": row.id, "doc": _fts_document(row)})
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

def _visible_ids_sql() -> str:
    return ("SELECT c.id FROM contributions c JOIN fiches_action f ON f.contribution_id = c.id "
            f"WHERE c.kind = 'fiche_action' AND c.status IN ({visible_statuses_sql()})")


_DEPARTEMENT_ROWS = ("SELECT c.id, f.departement, s.departement FROM contributions c "
                     "JOIN fiches_action f ON f.contribution_id = c.id JOIN structures s ON s.id = c.structure_id "
                     "WHERE c.kind = 'fiche_action'")


def _departement_ids(db: Session, code: str) -> set[int]:
    """The fiches of a département: the fiche's own, else its structure's (as the facet counts
    them), whichever way it is written."""
    return {row[0] for row in db.execute(text(_DEPARTEMENT_ROWS))
            if canonical("departement", row[1] or row[2] or "") == code}


def _pg_term_ids(param: str, departement_ids: set[int] | None = None) -> str:
    """Ids of the fiches holding one term (a word or a phrase), in the title and body or in the
    fiche's fields: each side answered by its GIN expression index alone; and those of the
    département the term names."""
    tsquery = f"websearch_to_tsquery('french', :{param})"
    sql = (f"SELECT id FROM contributions WHERE kind = 'fiche_action' AND {pg_contribution_document()} @@ {tsquery} "
           f"UNION SELECT contribution_id FROM fiches_action WHERE {pg_fiche_document()} @@ {tsquery}")
    if departement_ids:
        sql += f" UNION SELECT id FROM contributions WHERE id IN ({', '.join(str(int(i)) for i in departement_ids)})"
    return sql


def _pg_search(db: Session, query: Query) -> dict[int, float]:
    """Matching visible fiche ids → rank (PostgreSQL).

    Set operations over one index lookup per term, as the SQLite side does with FTS5: testing the
    whole document row by row would rebuild each candidate's tsvector (about 1.2 ms a fiche, so
    seconds for a common word; bench/directory.py). The rank reads the title only, for the same
    reason: cheap, and what a reader scans first."""
    params: dict[str, str] = {}
    groups = []
    for group in query.groups:
        matched = _visible_ids_sql()
        for term in group:
            name = f"t{len(params)}"
            params[name] = _pg_term_text(term)
            extra = _departement_ids(db, term.departement) if term.departement else None
            matched = f"({matched}) {'EXCEPT' if term.negated else 'INTERSECT'} ({_pg_term_ids(name, extra)})"
        groups.append(f"({matched})")
    positives = " or ".join(_pg_term_text(t) for t in query.positive_terms)
    rank = (f"ts_rank({_pg_document(['title'], 'c.')}, websearch_to_tsquery('french', :any))"
            if positives else "0")
    params["any"] = positives
    sql = (f"SELECT c.id, {rank} AS rank FROM contributions c "
           f"WHERE c.id IN ({' UNION '.join(groups)})")
    # A common word matches most fiches, and the planner then prefers a sequential scan that
    # rebuilds every row's tsvector: far dearer than its cost model says. Only for this query.
    db.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        return {row.id: float(row.rank) for row in db.execute(text(sql), params)}
    finally:
        db.execute(text("SET LOCAL enable_seqscan = on"))


def _fts_phrase(term: Term) -> str:
    phrase = '"' + " ".join(term.lexemes) + '"'
    return " OR ".join((phrase, *(f'"{lexeme}"' for lexeme in term.alternatives)))


def _sqlite_search(db: Session, query: Query) -> dict[int, float]:
    _ensure_sqlite_index(db)
    connection = db.connection()
    visible = {row.id for row in connection.execute(text(_visible_ids_sql()))}
    cache: dict[tuple[str, str | None], set[int]] = {}

    def ids(term: Term) -> set[int]:
        match = _fts_phrase(term)
        key = (match, term.departement)
        if key not in cache:
            cache[key] = {row[0] for row in connection.execute(
                text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :m"), {"m": match})}
            if term.departement:
                cache[key] |= _departement_ids(db, term.departement)
        return cache[key]

    found: set[int] = set()
    for group in query.groups:
        positives = [t for t in group if not t.negated]
        matched = set(visible)
        for term in positives:
            matched &= ids(term)
        for term in group:
            if term.negated:
                matched -= ids(term)
        found |= matched
    ranks = {i: 0.0 for i in found}
    positives = query.positive_terms
    if found and positives:
        any_match = " OR ".join(f"({_fts_phrase(t)})" for t in positives)
        for rowid, score in connection.execute(
                text(f"SELECT rowid, bm25({FTS_TABLE}) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :m"), {"m": any_match}):
            if rowid in ranks:
                ranks[rowid] = -float(score)  # bm25: lower is better
    return ranks


def matching_ids(db: Session, q: str | None) -> dict[int, float] | None:
    """Visible fiche ids matching the query, with a rank (higher is better); None: no query."""
    query = parse_query(q)
    if query.empty:
        return None
    return _sqlite_search(db, query) if _is_sqlite(db) else _pg_search(db, query)


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


def _row_values(row) -> dict[str, list[str]]:
    status = row.action_status
    departement = row.departement or row.structure_departement
    return {
        "departement": [departement] if departement else [],
        "dimension": [row.dimension] if row.dimension else [],
        "mot_cle": [v for v in _as_list(row.keywords) if v],
        "public": [v for v in _as_list(row.public) if v],
        "statut": [status] if status else [],
        "annee": [str(row.year)] if row.year else [],
    }


def _value_label(name: str, value: str) -> str:
    if name == "statut":
        return ACTION_STATUS_LABELS.get(value, value)
    if name == "departement":
        return departements.label(value)
    return value


def search(db: Session, q: str | None = None, filters: dict[str, list[str]] | None = None,
           page: int = 1, per_page: int = PER_PAGE) -> DirectoryPage:
    """One page of the directory: fiches matching the query and the facets, with facet counts.
    Within a facet the ticked values are alternatives (or); facets combine with and. Each facet
    counts what its values would give with the other facets as they are."""
    filters = {name: list(dict.fromkeys(canonical(name, v) for v in values if v and v.strip()))
               for name, values in (filters or {}).items() if name in FACET_LABELS}
    ranks = matching_ids(db, q)
    rows_query = (select(Contribution.id, Contribution.title, Contribution.created_at,
                         FicheAction.departement, Structure.departement.label("structure_departement"),
                         FicheAction.dimension, FicheAction.keywords, FicheAction.public,
                         FicheAction.action_status, FicheAction.year)
                  .join(FicheAction, FicheAction.contribution_id == Contribution.id)
                  .join(Structure, Structure.id == Contribution.structure_id)
                  .where(Contribution.kind == ContributionKind.fiche_action, Contribution.status.in_(VISIBLE_STATUSES)))
    rows = db.execute(rows_query).all()
    if ranks is not None:
        rows = [r for r in rows if r.id in ranks]
    raw = {r.id: _row_values(r) for r in rows}
    values = {row_id: {name: [canonical(name, v) for v in found] for name, found in facets.items()}
              for row_id, facets in raw.items()}
    # How each case-folded text value is spelled, to show one spelling.
    spellings: dict[tuple[str, str], Counter] = {}
    for facets_of_row in raw.values():
        for name in TEXT_FACETS:
            for v in set(facets_of_row[name]):
                spellings.setdefault((name, canonical(name, v)), Counter())[" ".join(v.split())] += 1

    def shown(name: str, key: str) -> str:
        """The value a facet's checkbox carries (in the URL): the code, or one spelling."""
        if (name, key) in spellings:
            return _display_form(spellings[(name, key)])
        return key

    def keeps(row_id: int, skip: str | None = None) -> bool:
        for name, wanted in filters.items():
            if name == skip or not wanted:
                continue
            if not set(wanted) & set(values[row_id][name]):
                return False
        return True

    facets = []
    for name, label, _multi in FACETS:
        counts: dict[str, int] = {}
        for r in rows:
            if keeps(r.id, skip=name):
                for v in set(values[r.id][name]):
                    counts[v] = counts.get(v, 0) + 1
        chosen = set(filters.get(name, []))
        for v in chosen:
            counts.setdefault(v, 0)
        if name == "annee":
            ordered = sorted(counts.items(), key=lambda kv: kv[0], reverse=True)
        else:
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], fold(_value_label(name, shown(name, kv[0])))))
        facets.append(Facet(name, label, [FacetValue(shown(name, v), _value_label(name, shown(name, v)), n, v in chosen)
                                          for v, n in ordered]))

    kept = [r for r in rows if keeps(r.id)]
    if ranks is not None:
        kept.sort(key=lambda r: (-ranks[r.id], fold(r.title), r.id))
    else:
        kept.sort(key=lambda r: (-(r.year or 0), fold(r.title), r.id))
    total = len(kept)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    page_ids = [r.id for r in kept[(page - 1) * per_page: page * per_page]]
    loaded = {c.id: c for c in db.scalars(
        select(Contribution).where(Contribution.id.in_(page_ids))
        .options(selectinload(Contribution.fiche), selectinload(Contribution.structure)))} if page_ids else {}
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
