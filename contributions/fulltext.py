"""French full-text search, the same on PostgreSQL and SQLite (see contributions/directory.py).

This module holds the text analysis done in Python for SQLite's FTS5 table (accents folded, the
stop words of PostgreSQL's `french` configuration, the same Snowball French stemmer) and the
PostgreSQL expressions of the GIN indexes. It imports no model: contributions/models.py declares
the indexes with these expressions.
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain

import snowballstemmer

ACCENTED = "ÀÂÄÁÃÅàâäáãåÇçÉÈÊËéèêëÎÏÍÌîïíìÔÖÓÒÕôöóòõÙÛÜÚùûüúŸÝÿýÑñ"
PLAIN = "AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuYYyyNn"
LIGATURES = (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE"))
_FOLD = str.maketrans(ACCENTED, PLAIN)

# PostgreSQL's french.stop words that can still match once accents are folded (the accented ones
# never do, in PostgreSQL either, since the text reaches to_tsvector already folded).
STOP_WORDS = frozenset("""
au aux avec ce ces dans de des du elle en et eux il je la le leur lui ma mais me mes moi mon ne nos
notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous
c d j l m n s t y suis es est sommes sont serai seras sera serons serez seront serais serait serions
seriez seraient fus fut furent sois soit soyons soyez soient fusse fusses fussions fussiez fussent
ayant ayante ayantes ayants eu eue eues eus ai as avons avez ont aurai auras aura aurons aurez auront
aurais aurait aurions auriez auraient avais avait avions aviez avaient eut eurent aie aies ait ayons
ayez aient eusse eusses eussions eussiez eussent
""".split())  # noqa: SIM905 -- 133 words read better as text than as 133 literals
GAP = "x0x"  # stands where PostgreSQL keeps a position without a lexeme (stop word, compound word)

_TOKEN = re.compile(
    r"(?P<email>[^\W_][\w.+-]*@[^\W_][\w-]*(?:\.[\w-]+)+)"
    r"|(?P<url>(?:https?://|www\.)[^\s<>\"]+)"
    # PostgreSQL keeps "parents/enfants", "ville.fr", "M.J.C" or "8.310" as one token (file,
    # host, float): so do we, or a word inside them would be found here and not there.
    r"|(?P<path>/?[^\W_][\w-]*(?:[./][\w-]*[^\W_])+)"
    r"|(?P<hword>[^\W_]+(?:-[^\W_]+)+)"
    r"|(?P<word>[^\W_]+)")


_FOLDED = {**{a: p for a, p in zip(ACCENTED, PLAIN, strict=True)}, **dict(LIGATURES)}
_TO_FOLD = re.compile("[" + "".join(_FOLDED) + "]")


def fold(value: str) -> str:
    """Accents and ligatures out, lower case: what PostgreSQL's `translate` expression does. (A
    regex substitution touches only the accented letters: `str.translate` with a dict costs a
    lookup per character.)"""
    if value.isascii():
        return value.lower()
    return _TO_FOLD.sub(lambda m: _FOLDED[m.group()], value).lower()


@lru_cache(maxsize=1)
def _stemmer():
    return snowballstemmer.stemmer("french")


@lru_cache(maxsize=50_000)
def _word(word: str) -> str:
    if any(ch.isdigit() for ch in word):
        return word  # numbers and words with digits: PostgreSQL's `simple` dictionary, unstemmed
    if word in STOP_WORDS:
        return GAP
    return _stemmer().stemWord(word)


def lexemes(value: str | None) -> list[str]:
    """The words of `value` as the search sees them: folded, stop words as gaps, stemmed."""
    if not value:
        return []
    # No token spans a space: each run of other characters is analysed alone, once (cached).
    return list(chain.from_iterable(map(_chunk_lexemes, value.split())))


@lru_cache(maxsize=200_000)
def _chunk_lexemes(chunk: str) -> tuple[str, ...]:
    """The lexemes of a run of characters without a space (most are one plain word)."""
    chunk = fold(chunk)
    if chunk.isalnum():
        return (_word(chunk),)
    out: list[str] = []
    for match in _TOKEN.finditer(chunk):
        kind, token = match.lastgroup, match.group()
        if kind in ("email", "url", "path"):
            out.append("x0" + re.sub(r"[\W_]", "", token))
        elif kind == "hword":
            parts = token.split("-")
            if not any(ch.isdigit() for ch in token):
                out.append(GAP)  # PostgreSQL indexes the compound itself at one more position
            out.extend(_word(part) for part in parts)
        else:
            out.append(_word(token))
    return tuple(out)


def _join(values) -> str:
    return " ".join(v for v in values if v)


def document_parts(title: str | None, body_md: str | None, fiche: dict) -> tuple[str, str]:
    """The searched text, in the order the PostgreSQL expressions concatenate it."""
    contribution_text = f"{title or ''} {body_md or ''}"
    fiche_text = " ".join([
        fiche.get("structure_label") or "", fiche.get("departement") or "", fiche.get("dimension") or "",
        _join(fiche.get("keywords") or []), fiche.get("summary") or "", _join(fiche.get("initiative") or []),
        fiche.get("territory") or "", fiche.get("description") or "", _join(fiche.get("public") or []),
        _join(fiche.get("partners") or []), fiche.get("partners_description") or "",
        fiche.get("financial_resources") or "", fiche.get("people_mobilised") or "",
        fiche.get("result_territory") or "", fiche.get("result_structure") or "",
        fiche.get("result_inhabitants") or "", fiche.get("limits") or "", fiche.get("perspectives") or "",
    ])
    return contribution_text, fiche_text


# --- The PostgreSQL expressions ------------------------------------------------------------------------
# Written exactly as PostgreSQL prints them back (pg_get_indexdef, pretty): the migration creates the indexes
# on these, the models declare them (so that `alembic check` finds no difference), and the search
# queries use them, which is what lets the planner use the indexes.

PG_FICHE_COLUMNS = [
    "structure_label", "departement", "dimension", "keywords", "summary", "initiative", "territory",
    "description", "public", "partners", "partners_description", "financial_resources",
    "people_mobilised", "result_territory", "result_structure", "result_inhabitants", "limits",
    "perspectives",
]
JSON_COLUMNS = {"keywords", "initiative", "public", "partners"}
VARCHAR_COLUMNS = {"title", "structure_label", "departement", "dimension", "territory"}


def _pg_column(name: str, prefix: str) -> str:
    column = prefix + name
    if name in JSON_COLUMNS:
        return f"COALESCE({column}::jsonb::text, ''::text)"
    if name in VARCHAR_COLUMNS:
        return f"COALESCE({column}, ''::character varying)::text"
    return f"COALESCE({column}, ''::text)"


def _pg_concat(names: list[str], prefix: str) -> str:
    expr = _pg_column(names[0], prefix)
    if len(names) == 1:
        return expr
    for name in names[1:]:
        expr = f"(({expr} || ' '::text) || {_pg_column(name, prefix)})"
    return expr[1:-1]  # the outermost operation, as a function's argument, has no parentheses


def _pg_document(names: list[str], prefix: str) -> str:
    expr = _pg_concat(names, prefix)
    for ligature, letters in LIGATURES:
        expr = f"replace({expr}, '{ligature}'::text, '{letters}'::text)"
    return f"to_tsvector('french'::regconfig, translate({expr}, '{ACCENTED}'::text, '{PLAIN}'::text))"


def pg_contribution_document(prefix: str = "") -> str:
    """The contribution's part of a fiche's document: title and body."""
    return _pg_document(["title", "body_md"], prefix)


def pg_fiche_document(prefix: str = "") -> str:
    """The fiche's own fields, in the order of `document_parts`."""
    return _pg_document(PG_FICHE_COLUMNS, prefix)
