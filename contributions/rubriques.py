"""The rubriques of the letter: the sections a contribution is filed under when accepted, in
their order in an issue (DESIGN.md), and the rubrique each kind of contribution lands in.

They live in the database (`Rubrique`, `RubriqueDefault`), seeded by the migration with the list
below; an admin adds, renames and reorders them and chooses each kind's default
(/redaction/rubriques). Items name their rubrique by its slug, which never changes.
"""
from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts import journal
from accounts.models import User
from contributions.models import KIND_LABELS, ContributionKind, Rubrique, RubriqueDefault

# The seed (migration 0014_content) and the fallback of a database that has none.
RUBRIQUES: list[tuple[str, str]] = [
    ("actualites", "Actualités du réseau"),
    ("parentalite", "Parentalité"),
    ("clas", "Accompagnement à la scolarité (CLAS)"),
    ("retour_soiree", "Retour sur une soirée du Réaap"),
    ("agenda", "Agenda"),
    ("ressources", "Ressources et publications"),
    ("appels_a_projets", "Appels à projets"),
]
RUBRIQUE_LABELS = dict(RUBRIQUES)

# Where each kind of contribution lands in an issue unless the editor chooses otherwise (seed).
DEFAULT_RUBRIQUE = {
    ContributionKind.actualite: "actualites",
    ContributionKind.evenement: "agenda",
    ContributionKind.fiche_action: "parentalite",
    ContributionKind.ressource: "ressources",
    ContributionKind.appel_a_projets: "appels_a_projets",
}

MAX_LABEL = 120

journal.register_actions({
    "rubrique.created": _l("Rubrique ajoutée"),
    "rubrique.renamed": _l("Rubrique renommée"),
    "rubrique.moved": _l("Rubrique déplacée"),
    "rubrique.default_changed": _l("Rubrique par défaut d'un type changée"),
})


class RubriqueError(ValueError):
    """A change of rubriques that is refused; the message says why, in French."""


# --- Reading ---------------------------------------------------------------------------------------

def ordered(db: Session) -> list[Rubrique]:
    rows = list(db.scalars(select(Rubrique).order_by(Rubrique.position, Rubrique.id)))
    return rows or _seed(db)


def _seed(db: Session) -> list[Rubrique]:
    """The seed's rubriques and defaults, for a database that has none (migration 0014 writes them;
    an emptied table gets them back on first use). A concurrent first use may win: then its rows."""
    try:
        with db.begin_nested():
            rows = [Rubrique(slug=slug, label=label, position=n) for n, (slug, label) in enumerate(RUBRIQUES, 1)]
            db.add_all(rows)
            db.flush()
            by_slug = {r.slug: r for r in rows}
            db.add_all([RubriqueDefault(kind=kind.value, rubrique_id=by_slug[slug].id)
                        for kind, slug in DEFAULT_RUBRIQUE.items()
                        if db.get(RubriqueDefault, kind.value) is None])
            db.flush()
    except IntegrityError:
        pass
    return list(db.scalars(select(Rubrique).order_by(Rubrique.position, Rubrique.id)))


def choices(db: Session) -> list[tuple[str, str]]:
    """(slug, label) in the letter's order."""
    return [(r.slug, r.label) for r in ordered(db)]


def labels(db: Session) -> dict[str, str]:
    return dict(choices(db))


def defaults(db: Session) -> dict[ContributionKind, str]:
    """Each kind's default rubrique (slug); the seed's for a kind the admin never set."""
    chosen = {kind: slug for kind, slug in db.execute(select(RubriqueDefault.kind, Rubrique.slug).join(Rubrique))}
    return {kind: chosen.get(kind.value, DEFAULT_RUBRIQUE[kind]) for kind in ContributionKind}


def default_for(db: Session, kind: ContributionKind) -> str:
    slug = defaults(db)[kind]
    known = labels(db)
    return slug if slug in known else next(iter(known))


# --- The admin's changes ---------------------------------------------------------------------------

def _label(label: str) -> str:
    label = " ".join((label or "").split())
    if not label:
        raise RubriqueError("Le nom de la rubrique est obligatoire.")
    if len(label) > MAX_LABEL:
        raise RubriqueError(f"Le nom de la rubrique est trop long ({MAX_LABEL} caractères au plus).")
    return label


def slugify(label: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:32] or "rubrique"


def add(db: Session, admin: User, label: str) -> Rubrique:
    """A new rubrique, last in the letter."""
    label = _label(label)
    if label.casefold() in {r.label.casefold() for r in ordered(db)}:
        raise RubriqueError(f"Une rubrique s'appelle déjà « {label} ».")
    base = slug = slugify(label)
    taken = set(db.scalars(select(Rubrique.slug)))
    n = 1
    while slug in taken:
        n += 1
        slug = f"{base}_{n}"
    position = (db.scalar(select(func.max(Rubrique.position))) or 0) + 1
    rubrique = Rubrique(slug=slug, label=label, position=position)
    db.add(rubrique)
    db.flush()
    journal.record(db, admin, "rubrique.created", f"Rubrique « {label} » ajoutée.", target=f"rubrique:{rubrique.id}")
    return rubrique


def rename(db: Session, admin: User, rubrique: Rubrique, label: str) -> None:
    """A new name for the next letters; a sent letter keeps its frozen copy."""
    label = _label(label)
    if label == rubrique.label:
        return
    if label.casefold() in {r.label.casefold() for r in ordered(db) if r.id != rubrique.id}:
        raise RubriqueError(f"Une rubrique s'appelle déjà « {label} ».")
    old, rubrique.label = rubrique.label, label
    db.flush()
    journal.record(db, admin, "rubrique.renamed", f"Rubrique « {old} » renommée « {label} ».",
                   target=f"rubrique:{rubrique.id}", details={"before": old, "after": label})


def move(db: Session, admin: User, rubrique: Rubrique, direction: int) -> bool:
    """Swap with the neighbour (-1: up, +1: down); False when already first or last."""
    rows = ordered(db)
    for position, row in enumerate(rows, start=1):  # positions made dense, whatever came before
        row.position = position
    index = rows.index(rubrique) + (1 if direction > 0 else -1)
    if not 0 <= index < len(rows):
        return False
    other = rows[index]
    rubrique.position, other.position = other.position, rubrique.position
    db.flush()
    journal.record(db, admin, "rubrique.moved",
                   f"Rubrique « {rubrique.label} » {'descendue' if direction > 0 else 'montée'} d'un rang.",
                   target=f"rubrique:{rubrique.id}")
    return True


def set_default(db: Session, admin: User, kind: ContributionKind, rubrique: Rubrique) -> None:
    row = db.get(RubriqueDefault, kind.value)
    if row is not None and row.rubrique_id == rubrique.id:
        return
    if row is None:
        db.add(RubriqueDefault(kind=kind.value, rubrique_id=rubrique.id))
    else:
        row.rubrique_id = rubrique.id
    db.flush()
    journal.record(db, admin, "rubrique.default_changed",
                   f"Les contributions « {KIND_LABELS[kind]} » vont par défaut dans « {rubrique.label} ».",
                   target=f"rubrique:{rubrique.id}", details={"kind": kind.value})
