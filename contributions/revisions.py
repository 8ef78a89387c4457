"""The editors' edits of a contribution, as people read them: a snapshot of the fields an editor
may change, and word diffs between two snapshots (difflib), as accessible HTML (<ins>/<del>, each
with a visually hidden « ajouté » / « supprimé » for screen readers, which announce neither) and
as French lines for the partner's e-mail.

Snapshots hold what a reader sees (dates written out in French, the images' descriptions), so a
diff never shows a time zone or a file id.
"""
from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from core.formatting import date_time, long_date

if TYPE_CHECKING:
    from contributions.models import Contribution

# The fields an editor may change, in the order a diff lists them, with their French names.
FIELDS: list[tuple[str, str]] = [
    ("title", "Titre"),
    ("body_md", "Texte"),
    ("summary", "Résumé"),
    ("link", "Lien"),
    ("event_start", "Début"),
    ("event_end", "Fin"),
    ("place", "Lieu"),
    ("audience", "Public"),
    ("contact", "Contact"),
    ("deadline", "Date limite de réponse"),
    ("images", "Images"),
    ("documents", "Documents"),
]
FIELD_LABELS = dict(FIELDS)
SHORT_FIELDS = {"title", "link", "event_start", "event_end", "place", "audience", "contact", "deadline"}


def snapshot(contribution: Contribution) -> dict[str, str]:
    """The editable fields as shown to a reader, every value a string ("" when empty)."""
    c = contribution
    images = [f"{f.filename} — {f.alt_text or ''}" for f in c.files if f.kind == "image"]
    documents = [f.title or f.filename for f in c.files if f.kind == "pdf"]
    return {
        "title": c.title or "",
        "body_md": c.body_md or "",
        "summary": (c.fiche.summary or "") if c.fiche is not None else "",
        "link": c.link or "",
        "event_start": date_time(c.event_start) if c.event_start else "",
        "event_end": date_time(c.event_end) if c.event_end else "",
        "place": c.place or "",
        "audience": c.audience or "",
        "contact": c.contact or "",
        "deadline": long_date(c.deadline) if c.deadline else "",
        "images": "\n".join(images),
        "documents": "\n".join(documents),
    }


def changed_fields(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [name for name, _ in FIELDS if (before.get(name) or "") != (after.get(name) or "")]


_TOKENS = re.compile(r"\s+|[^\s]+")


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """(operation, text) runs, operation in "equal", "delete", "insert", word by word (spaces
    kept), so that joining the "equal" and "insert" runs gives `after` back."""
    a, b = _TOKENS.findall(before or ""), _TOKENS.findall(after or "")
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            runs.append(("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            runs.append(("insert", "".join(b[j1:j2])))
        if op == "equal":
            runs.append(("equal", "".join(a[i1:i2])))
    return runs


def diff_html(before: str, after: str, added: str = "ajouté", removed: str = "supprimé") -> Markup:
    """The word diff as HTML: every text escaped, removals in <del>, additions in <ins>, each
    starting with its visually hidden name (screen readers do not announce <ins>/<del>)."""
    parts = []
    for op, text in word_diff(before, after):
        if op == "equal":
            parts.append(escape(text))
        elif op == "delete":
            parts.append(Markup('<del><span class="visually-hidden">[{}] </span>{}</del>').format(removed, text))
        else:
            parts.append(Markup('<ins><span class="visually-hidden">[{}] </span>{}</ins>').format(added, text))
    return Markup("").join(parts)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_lines(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What changed, one French line per field, for the partner's e-mail and the journal."""
    lines = []
    for name in changed_fields(before, after):
        label = FIELD_LABELS[name]
        old, new = before.get(name) or "", after.get(name) or ""
        if name in SHORT_FIELDS:
            if not old:
                lines.append(f"{label} ajouté : « {_short(new)} »")
            elif not new:
                lines.append(f"{label} supprimé (était « {_short(old)} »)")
            else:
                lines.append(f"{label} : « {_short(old)} » → « {_short(new)} »")
            continue
        runs = word_diff(old, new)
        removed = [_short(t) for op, t in runs if op == "delete" and t.strip()]
        added = [_short(t) for op, t in runs if op == "insert" and t.strip()]
        detail = [f"{word} : " + " ; ".join(f"« {t} »" for t in texts[:3]) + (" …" if len(texts) > 3 else "")
                  for word, texts in (("retiré", removed), ("ajouté", added)) if texts]
        lines.append(f"{label} modifié" + (f" ({', '.join(detail)})" if detail else ""))
    return lines


def original(contribution: Contribution) -> dict[str, str]:
    """The partner's version, before any editor's edit (the current one when never edited)."""
    if contribution.revisions:
        return dict(contribution.revisions[0].before)
    return snapshot(contribution)


def changes_since_original(contribution: Contribution) -> list[str]:
    """The editors' changes to the partner's version (empty when none)."""
    if not contribution.revisions:
        return []
    return change_lines(original(contribution), snapshot(contribution))


def field_diffs(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, Markup]]:
    """(French field name, HTML diff) for each changed field, for the history."""
    return [(FIELD_LABELS[name], diff_html(before.get(name) or "", after.get(name) or ""))
            for name in changed_fields(before, after)]
