"""Searching the archive (`/lettres/?q=`): French full-text search over the articles of every sent
letter, with the directory's engine (contributions/fulltext.py and the query parser of
contributions/directory.py), so the same words find the same articles on PostgreSQL and SQLite.

What is searched is what the archive froze: each letter's web version (`Issue.archive_html`) is
read back into one `LetterArticle` per article (and one for the édito) when the letter is
published (tasks.archive.index_letter), never the contributions, which may change after.
A letter published before this index existed, or whose job was lost, is indexed by the next
search (`ensure_indexed`).

- PostgreSQL: a GIN expression index over the accent-folded `to_tsvector('french', title || body)`
  (migration 0014_archive), one index lookup per term, combined with INTERSECT / EXCEPT / UNION.
- SQLite: an FTS5 table `letter_search` holding the same document analysed in Python
  (`fulltext.lexemes`: folded, stop words as gaps, Snowball-stemmed), one MATCH per term.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import lxml.html
from markupsafe import Markup, escape
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contributions.directory import Query, Term, parse_query, pg_term_text
from contributions.fulltext import GAP, _pg_document, lexemes
from newsletter.models import Issue, IssueKind, IssueStatus, LetterArticle

log = logging.getLogger(__name__)

FTS_TABLE = "letter_search"
MAX_QUERY_CHARS = 200   # beyond, the query is cut (and the reader told): no one types more
MAX_TERMS = 12          # each term is one index lookup
PER_PAGE = 20
EXCERPT_CHARS = 240


# --- Reading a frozen letter back into articles ----------------------------------------------------

@dataclass
class FrozenArticle:
    position: int
    anchor: str | None
    rubrique: str
    title: str
    body: str


def _text(element) -> str:
    return re.sub(r"\s+", " ", element.text_content()).strip()


def articles_of(archive_html: str | None) -> list[FrozenArticle]:
    """The articles of a letter's frozen web version (newsletter/mailout.render_web_version): the
    édito, then each `article.letter-item` with its rubrique (the section's h2) and title (h3)."""
    if not archive_html or not archive_html.strip():
        return []
    root = lxml.html.fragment_fromstring(archive_html, create_parent="div")
    found: list[FrozenArticle] = []
    for section in root.iter("section"):
        heading = next(section.iter("h2"), None)
        rubrique = _text(heading) if heading is not None else ""
        items = [a for a in section.iter("article") if "letter-item" in (a.get("class") or "").split()]
        if not items:  # the édito: the section's own text
            body = " ".join(_text(p) for p in section if p.tag != "h2")
            if body:
                anchor = heading.get("id") if heading is not None else None
                found.append(FrozenArticle(len(found), anchor, "", rubrique or "Édito", body))
            continue
        for item in items:
            title_element = next(item.iter("h3"), None)
            title = _text(title_element) if title_element is not None else rubrique
            # The text first (what an excerpt shows), then the meta line (structure, place, dates):
            # searched too, but a poor start for an excerpt.
            children = [child for child in item if child is not title_element]
            meta = [c for c in children if "letter-item-meta" in (c.get("class") or "").split()]
            body = " ".join(_text(child) for child in [c for c in children if c not in meta] + meta)
            found.append(FrozenArticle(len(found), item.get("id"), rubrique, title[:300], body))
    return found


# --- Keeping the index --------------------------------------------------------------------------------

def _is_sqlite(db: Session) -> bool:
    return db.get_bind().dialect.name == "sqlite"


def _fts_document(title: str, body: str) -> str:
    return " ".join(lexemes(title) + lexemes(body))


def _create_fts(db: Session) -> None:
    db.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                    "doc, tokenize = 'unicode61 remove_diacritics 2')"))


def index_letter(db: Session, issue: Issue) -> int:
    """(Re)write the articles of one published letter; returns how many. Idempotent."""
    old_ids = list(db.scalars(select(LetterArticle.id).where(LetterArticle.issue_id == issue.id)))
    if _is_sqlite(db):
        _create_fts(db)
        for start in range(0, len(old_ids), 500):
            marks = ", ".join(str(int(i)) for i in old_ids[start:start + 500])
            db.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks})"))
    db.execute(delete(LetterArticle).where(LetterArticle.issue_id == issue.id))
    rows = [LetterArticle(issue_id=issue.id, position=a.position, anchor=a.anchor, rubrique=a.rubrique[:120],
                          title=a.title[:300] or f"N°{issue.numero}", body=a.body)
            for a in articles_of(issue.archive_html)]
    db.add_all(rows)
    db.flush()
    if _is_sqlite(db):
        for row in rows:
            db.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                       {"id": row.id, "doc": _fts_document(row.title, row.body)})
    return len(rows)


def _published():
    return (Issue.kind == IssueKind.letter) & (Issue.status == IssueStatus.sent) & Issue.published_at.isnot(None)


def ensure_indexed(db: Session) -> int:
    """Index the published letters the index lacks (sent before it existed, or a lost job); on
    SQLite, rebuild the FTS5 table when it no longer counts the articles. Returns letters indexed."""
    missing = list(db.scalars(select(Issue).where(_published(), Issue.archive_html.isnot(None),
                                                  ~Issue.id.in_(select(LetterArticle.issue_id)))))
    for issue in missing:
        try:
            with db.begin_nested():
                index_letter(db, issue)
        except IntegrityError:  # another request or the worker indexed it meanwhile: theirs is as good
            log.info("letter n°%s indexed meanwhile by another process", issue.numero)
    if _is_sqlite(db):
        _create_fts(db)
        indexed = db.execute(text(f"SELECT count(*) FROM {FTS_TABLE}")).scalar()
        articles = db.scalar(select(func.count()).select_from(LetterArticle))
        if indexed != articles:
            db.execute(text(f"DELETE FROM {FTS_TABLE}"))
            for row in db.execute(select(LetterArticle.id, LetterArticle.title, LetterArticle.body)):
                db.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, doc) VALUES (:id, :doc)"),
                           {"id": row.id, "doc": _fts_document(row.title, row.body)})
    return len(missing)


def reindex_all(db: Session) -> int:
    """Every published letter again (the CLI's `archive reindex`). Returns the article count."""
    return sum(index_letter(db, issue) for issue in db.scalars(select(Issue).where(_published())))


# --- Searching ----------------------------------------------------------------------------------------

@dataclass
class Hit:
    numero: int
    letter_title: str
    issue_date: object
    rubrique: str
    title: Markup
    anchor: str | None
    excerpt: Markup


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    total: int
    page: int
    pages: int
    notices: list[str]


def clean_query(raw: str | None) -> tuple[str, list[str]]:
    """The query as searched, and what was changed for the reader's notice (in French; the view
    translates): control characters (NUL…) dropped, cut at MAX_QUERY_CHARS."""
    notices: list[str] = []
    q = "".join(ch if ch.isprintable() else " " for ch in (raw or "")).strip()
    if len(q) > MAX_QUERY_CHARS:
        q = q[:MAX_QUERY_CHARS].rsplit(" ", 1)[0] if " " in q[:MAX_QUERY_CHARS] else q[:MAX_QUERY_CHARS]
        notices.append("shortened")
    return q, notices


def _limited(query: Query) -> tuple[Query, bool]:
    kept, count, cut = Query(), 0, False
    for group in query.groups:
        terms = []
        for term in group:
            if count >= MAX_TERMS:
                cut = True
                break
            terms.append(term)
            count += 1
        if terms:
            kept.groups.append(terms)
    return kept, cut



def _pg_ids(db: Session, query: Query) -> set[int]:
    document = _pg_document(["title", "body"], "")
    params: dict[str, str] = {}
    published = ("SELECT a.id FROM letter_articles a JOIN issues i ON i.id = a.issue_id "
                 "WHERE i.kind = 'letter' AND i.status = 'sent' AND i.published_at IS NOT NULL")
    groups = []
    for group in query.groups:
        matched = published
        for term in sorted(group, key=lambda t: t.negated):  # EXCEPT after every INTERSECT
            name = f"t{len(params)}"
            params[name] = pg_term_text(term)
            lookup = f"SELECT id FROM letter_articles WHERE {document} @@ websearch_to_tsquery('french', :{name})"
            matched = f"({matched}) {'EXCEPT' if term.negated else 'INTERSECT'} ({lookup})"
        groups.append(f"({matched})")
    return {row[0] for row in db.execute(text(" UNION ".join(groups)), params)}


def _fts_phrase(term: Term) -> str:
    phrase = '"' + " ".join(term.lexemes) + '"'
    return " OR ".join((phrase, *(f'"{lexeme}"' for lexeme in term.alternatives)))


def _sqlite_ids(db: Session, query: Query) -> set[int]:
    published = {row[0] for row in db.execute(select(LetterArticle.id).join(Issue).where(_published()))}
    found: set[int] = set()
    cache: dict[str, set[int]] = {}

    def ids(term: Term) -> set[int]:
        match = _fts_phrase(term)
        if match not in cache:
            cache[match] = {row[0] for row in db.execute(
                text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :m"), {"m": match})}
        return cache[match]

    for group in query.groups:
        matched = set(published)
        for term in group:
            matched = matched - ids(term) if term.negated else matched & ids(term)
        found |= matched
    return found


_WORD = re.compile(r"[^\W_]+")


def excerpt(body: str, wanted: set[str], size: int = EXCERPT_CHARS) -> Markup:
    """A window of the article's text around its first matching word, the matching words in
    <mark>: in Python, so both databases show the same excerpt."""
    words = list(_WORD.finditer(body))
    hits = [m for m in words if _matches(m.group(), wanted)]
    start = 0
    if hits and len(body) > size:
        start = max(0, min(hits[0].start() - size // 3, len(body) - size))
        space = body.rfind(" ", 0, start)
        start = space + 1 if start and space >= 0 else start
    end = min(len(body), start + size)
    if end < len(body):
        space = body.rfind(" ", start, end)
        end = space if space > start else end
    out = Markup("…") if start else Markup("")
    cursor = start
    for m in hits:
        if m.start() < start or m.end() > end:
            continue
        out += escape(body[cursor:m.start()]) + Markup("<mark>") + escape(m.group()) + Markup("</mark>")
        cursor = m.end()
    out += escape(body[cursor:end])
    return out + (Markup("…") if end < len(body) else Markup(""))


def _matches(word: str, wanted: set[str]) -> bool:
    found = lexemes(word)
    return bool(found) and found[0] != GAP and found[0] in wanted


def search(db: Session, raw_query: str | None, page: int = 1, per_page: int = PER_PAGE) -> SearchResult:
    q, notices = clean_query(raw_query)
    query, cut = _limited(parse_query(q))
    if cut:
        notices.append("too_many_terms")
    if query.empty:
        if q:
            notices.append("no_words")
        return SearchResult(q, [], 0, 1, 1, notices)
    ensure_indexed(db)
    ids = _sqlite_ids(db, query) if _is_sqlite(db) else _pg_ids(db, query)
    total = len(ids)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.execute(select(LetterArticle, Issue.numero, Issue.title, Issue.issue_date)
                      .join(Issue, Issue.id == LetterArticle.issue_id)
                      .where(LetterArticle.id.in_(ids) if ids else text("1 = 0"))
                      .order_by(Issue.numero.desc(), LetterArticle.position)
                      .limit(per_page).offset((page - 1) * per_page)).all()
    wanted = {lexeme for term in query.positive_terms for lexeme in (*term.lexemes, *term.alternatives)
              if lexeme != GAP}
    hits = [Hit(numero=numero or 0, letter_title=title, issue_date=issue_date, rubrique=article.rubrique,
                title=excerpt(article.title, wanted, size=len(article.title)), anchor=article.anchor,
                excerpt=excerpt(article.body, wanted))
            for article, numero, title, issue_date in rows]
    return SearchResult(q, hits, total, page, pages, notices)

