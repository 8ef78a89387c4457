"""The editors' hand on the content: edit any contribution (before or after accepting it), write
the network's own articles, and record when an editor opens a submission.

- Every edit keeps the partner's original (the first revision's `before`) and records a revision
  (before/after snapshots: contributions/revisions.py), shown as a diff in the history.
- Two editors at once: the form carries the version it was read at; a save from an older version
  is refused with `StaleEdit`, and the form shows the editor their text (nothing lost).
- Text goes through the same cleaning as a partner's (services._apply), and is rendered through
  the same Markdown sanitizer everywhere.
- Every action writes its journal line in the same transaction.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import journal
from accounts.models import User
from contributions import revisions, services
from contributions.models import (
    Contribution,
    ContributionRevision,
    ContributionTransition,
    Structure,
    StructureKind,
)
from contributions.models import ContributionStatus as S
from contributions.services import ContributionData, Forbidden, ModerationError
from contributions.uploads import ProcessedFile
from core import site_settings
from core.db import utcnow
from core.text import strip_controls

journal.register_actions({
    "contribution.edited": _l("Contribution modifiée par la rédaction"),
    "contribution.created_by_network": _l("Article du réseau écrit"),
    "contribution.accepted_by_network": _l("Article du réseau accepté"),
})

MAX_ALT = 500


class StaleEdit(ModerationError):
    """The contribution changed since the form was read (another editor saved first)."""

    def __init__(self, contribution: Contribution, editor_name: str | None):
        who = f"{editor_name} " if editor_name else "quelqu'un d'autre "
        super().__init__(
            f"Cette contribution a été modifiée par {who}pendant que vous la modifiiez : votre version "
            "n'est pas enregistrée. Votre texte est ci-dessous, rien n'est perdu ; comparez avec la version "
            "enregistrée, puis enregistrez de nouveau pour remplacer celle-ci par la vôtre.")
        self.contribution = contribution


def network_structure(db: Session) -> Structure:
    """The network's own structure (settings: NETWORK_NAME): the signature of its articles."""
    name = site_settings.current().network_name
    structure = db.scalar(select(Structure).where(Structure.name == name).order_by(Structure.id).limit(1))
    if structure is None:
        structure = Structure(name=name, kind=StructureKind.autre)
        db.add(structure)
        db.flush()
    return structure


def is_network(contribution: Contribution) -> bool:
    """Written by the network itself (an editor's article, the draft « Retour sur… »)."""
    return contribution.source in ("network", "event")


def mark_opened(db: Session, editor: User, contribution: Contribution) -> bool:
    """The editor opened the submission (review or edit page): from now on its partner may no
    longer change it. True the first time."""
    if not editor.is_editor or contribution.opened_at is not None or contribution.status is not S.submitted:
        return False
    contribution.opened_at = utcnow()
    contribution.opened_by_id = editor.id
    db.flush()
    return True


def _set_alt_texts(contribution: Contribution, alt_texts: dict[int, str]) -> None:
    for f in contribution.files:
        if f.kind == "image" and f.id in alt_texts:
            alt = strip_controls(" ".join(alt_texts[f.id].split()))[:MAX_ALT]
            if not alt:
                raise ModerationError(f"Décrivez l'image « {f.filename} » (texte alternatif obligatoire).")
            f.alt_text = alt


def edit(db: Session, editor: User, contribution: Contribution, data: ContributionData, *, version: int | None,
         files: list[ProcessedFile] | None = None, remove_file_ids: set[int] | frozenset[int] = frozenset(),
         alt_texts: dict[int, str] | None = None) -> ContributionRevision | None:
    """An editor's edit of any contribution, whatever its status. `version` is the one the form
    was read at: an older one raises StaleEdit. Returns the revision, None when nothing changed."""
    if not editor.is_editor:
        raise Forbidden()
    services.lock(db, contribution)
    if version is None or version != contribution.version:
        last = contribution.revisions[-1] if contribution.revisions else None
        raise StaleEdit(contribution, last.editor.name if last is not None and last.editor else None)
    if data.kind is not contribution.kind:
        raise ModerationError("Le type d'une contribution ne change pas : créez-en une nouvelle.")
    files = files or []
    remaining = [f for f in contribution.files if f.id not in remove_file_ids]
    services._validate(data, submitting=contribution.status is not S.draft, has_files=bool(files or remaining))
    before = revisions.snapshot(contribution)
    try:
        services._apply(contribution, data)
        _set_alt_texts(contribution, alt_texts or {})
        services._attach(contribution, files, set(remove_file_ids))
        db.flush()
        after = revisions.snapshot(contribution)
        if after == before:
            return None
        contribution.version += 1
        revision = ContributionRevision(contribution=contribution, editor_id=editor.id, version=contribution.version,
                                        before=before, after=after)
        db.add(revision)
        db.flush()
        lines = revisions.change_lines(before, after)
        journal.record(db, editor, "contribution.edited",
                       f"« {contribution.title} » modifiée : " + " ; ".join(lines),
                       target=f"contribution:{contribution.id}",
                       details={"fields": revisions.changed_fields(before, after), "version": contribution.version})
    except Exception:
        db.rollback()  # nothing half-made stays in the session: the form is shown again
        raise
    return revision


def create_network_article(db: Session, editor: User, data: ContributionData, *, accept: bool,
                           files: list[ProcessedFile] | None = None) -> Contribution:
    """The network's own article, signed by the network (no structure needed): accepted at once
    (ready for a letter), or kept as a draft."""
    if not editor.is_editor:
        raise Forbidden()
    files = files or []
    services._validate(data, submitting=accept, has_files=bool(files))
    try:
        contribution = Contribution(structure_id=network_structure(db).id, author_id=editor.id, status=S.draft,
                                    source="network")
        services._apply(contribution, data)
        services._attach(contribution, files, set())
        db.add(contribution)
        db.flush()
        db.add(ContributionTransition(contribution=contribution, from_status=None, to_status=S.draft.value,
                                      actor_id=editor.id))
        if accept:
            db.add(ContributionTransition(contribution=contribution, from_status=S.draft.value,
                                          to_status=S.accepted.value, actor_id=editor.id,
                                          comment="Article du réseau, écrit par la rédaction."))
            contribution.status = S.accepted
        db.flush()
        journal.record(db, editor, "contribution.created_by_network",
                       f"Article du réseau « {contribution.title} » écrit"
                       + (" et accepté." if accept else " (brouillon)."),
                       target=f"contribution:{contribution.id}", details={"kind": contribution.kind.value})
    except Exception:
        db.rollback()
        raise
    return contribution


def accept_network_article(db: Session, editor: User, contribution: Contribution) -> None:
    """A network's draft (its article, the draft « Retour sur… ») accepted by the editor who
    completed it: no partner to tell."""
    if not editor.is_editor:
        raise Forbidden()
    if not is_network(contribution) or contribution.status not in (S.draft, S.submitted):
        raise ModerationError("Seul un brouillon du réseau s'accepte depuis cette page.")
    services._validate(services_data(contribution), submitting=True, has_files=bool(contribution.files))
    db.add(ContributionTransition(contribution=contribution, from_status=contribution.status.value,
                                  to_status=S.accepted.value, actor_id=editor.id,
                                  comment="Article du réseau, complété par la rédaction."))
    contribution.status = S.accepted
    db.flush()
    journal.record(db, editor, "contribution.accepted_by_network",
                   f"Article du réseau « {contribution.title} » accepté.", target=f"contribution:{contribution.id}")


def services_data(contribution: Contribution) -> ContributionData:
    """The saved contribution as the service's data (to check it is complete)."""
    c = contribution
    return ContributionData(kind=c.kind, title=c.title, body_md=c.body_md, link=c.link, event_start=c.event_start,
                            event_end=c.event_end, place=c.place, audience=c.audience, contact=c.contact,
                            deadline=c.deadline, resource_kind=c.resource_kind)
