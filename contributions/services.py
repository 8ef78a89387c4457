"""Contributions and their moderation workflow.

draft → submitted → (changes_requested ⇄ submitted) → accepted → published; or rejected; or
withdrawn by the partner. Every transition is recorded (who, when, comment), and the partner is
told of each decision by e-mail.

"Accepted" (the editor's decision) stays apart from "published" (the contribution went out in a
sent letter: `mark_published`, called by the mail-out). A fiche action is shown in the directory
of actions as soon as it is accepted (`VISIBLE_STATUSES`): the directory is the place where
accepted fiches live, and "published" keeps the one meaning "in a sent letter", so an accepted
fiche can still be placed in a letter afterwards.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import journal
from accounts.models import User
from contributions import revisions, rubriques, signals
from contributions.models import (
    VISIBLE_STATUSES,
    Contribution,
    ContributionFile,
    ContributionTransition,
    FicheAction,
    ResourceKind,
    Structure,
)
from contributions.models import (
    ContributionKind as K,
)
from contributions.models import (
    ContributionStatus as S,
)
from contributions.uploads import MAX_FILES_PER_CONTRIBUTION, ProcessedFile
from core import departements, urls
from core.db import utcnow
from core.text import safe_url, strip_controls
from mailing.outbox import queue_email

# Who may move a contribution from one status to another.
PARTNER_MOVES = {
    (S.draft, S.submitted), (S.changes_requested, S.submitted),
    (S.draft, S.withdrawn), (S.submitted, S.withdrawn), (S.changes_requested, S.withdrawn),
}
EDITOR_MOVES = {
    (S.submitted, S.accepted), (S.submitted, S.rejected), (S.submitted, S.changes_requested),
    (S.changes_requested, S.rejected),
}
SYSTEM_MOVES = {(S.accepted, S.published)}
DECISIONS = {S.accepted, S.rejected, S.changes_requested}
EDITABLE_BY_PARTNER = {S.draft, S.changes_requested}

ACTION_STATUS_LABELS = {"en_cours": "En cours", "terminee": "Terminée"}
TERRITORIES = ["Un quartier", "Plusieurs quartiers", "Une commune", "Plusieurs communes",
               "Un département", "Autre"]


class ModerationError(ValueError):
    """A move the workflow does not allow, or a contribution that is incomplete; the message
    says why, in French."""


class Forbidden(PermissionError):
    """The account may not see or change this contribution."""


@dataclass
class FicheData:
    """The fields of a fiche action beyond the title and the description (see FicheAction).
    Empty stays empty: None for text, [] for lists."""

    structure_label: str | None = None
    departement: str | None = None
    year: int | None = None
    action_status: str | None = None  # en_cours, terminee
    status_reason: str | None = None
    dimension: str | None = None
    keywords: list[str] = field(default_factory=list)
    summary: str | None = None
    initiative: list[str] = field(default_factory=list)
    territory: str | None = None
    public: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    partners_description: str | None = None
    financial_resources: str | None = None
    people_mobilised: str | None = None
    result_territory: str | None = None
    result_structure: str | None = None
    result_inhabitants: str | None = None
    limits: str | None = None
    perspectives: str | None = None
    contact: str | None = None


# Markdown fields of a fiche (rendered through the sanitizer everywhere).
FICHE_MARKDOWN_FIELDS = ("summary", "partners_description", "financial_resources", "people_mobilised",
                         "result_territory", "result_structure", "result_inhabitants", "limits",
                         "perspectives")


@dataclass
class ContributionData:
    kind: K
    title: str
    body_md: str = ""
    link: str | None = None
    event_start: datetime | None = None
    event_end: datetime | None = None
    place: str | None = None
    audience: str | None = None
    contact: str | None = None
    deadline: date | None = None
    resource_kind: ResourceKind | None = None
    fiche: FicheData | None = None

    def columns(self) -> dict:
        """The values that live on the Contribution row itself."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "fiche"}


def split_list(text: str | None) -> list[str]:
    """A list typed in a text area: one item per line, or, on a single line, items separated by
    commas or semicolons. Bullets ("- ", "• ") are dropped, duplicates kept once."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) == 1:
        lines = [part.strip() for part in lines[0].replace(";", ",").split(",")]
    items: list[str] = []
    for line in lines:
        item = line.lstrip("-•*· \t").strip()
        if item and item not in items:
            items.append(item[:200])
    return items


# --- Who may do what ---------------------------------------------------------------------------

def can_view(user: User, contribution: Contribution) -> bool:
    return user.is_editor or (user.structure_id is not None and user.structure_id == contribution.structure_id)


def is_public(contribution: Contribution) -> bool:
    return contribution.status in VISIBLE_STATUSES


def can_see_file(user, file: ContributionFile) -> bool:
    """A visitor sees the files of accepted and published contributions; the editor and the
    contribution's structure see them all."""
    contribution = file.contribution
    if is_public(contribution):
        return True
    return bool(user is not None and getattr(user, "is_authenticated", False) and can_view(user, contribution))


def partner_may_edit(contribution: Contribution) -> bool:
    """A draft, one the editors sent back, or one sent that no editor has opened yet."""
    return contribution.status in EDITABLE_BY_PARTNER or (
        contribution.status is S.submitted and contribution.opened_at is None)


OPENED_MESSAGE = ("La rédaction a commencé la relecture de cette contribution : elle n'est plus modifiable. "
                  "Votre texte est encore dans le formulaire ci-dessous : copiez-le et écrivez à la rédaction "
                  "si une correction est nécessaire.")


def check_can_edit(user: User, contribution: Contribution) -> None:
    if user.is_editor:
        return
    if user.structure_id != contribution.structure_id:
        raise Forbidden()
    if not partner_may_edit(contribution):
        if contribution.status is S.submitted:
            raise ModerationError(OPENED_MESSAGE)
        raise ModerationError("Cette contribution n'est plus modifiable.")


def lock(db: Session, contribution: Contribution) -> Contribution:
    """Read the contribution's row again, locked until the end of the transaction (PostgreSQL), so
    that an editor opening it or another edit cannot slip between the check and the save."""
    if db.get_bind().dialect.name == "postgresql":
        db.refresh(contribution, with_for_update=True)
    else:
        db.refresh(contribution)
    return contribution


# --- Validation ----------------------------------------------------------------------------------

def _validate(data: ContributionData, *, submitting: bool, has_files: bool) -> None:
    """What the workflow needs whatever the form: a draft needs a title; sending to the editors
    needs what each kind must say."""
    if not data.title.strip():
        raise ModerationError("Le titre est obligatoire.")
    if data.link and not safe_url(data.link):
        raise ModerationError("Le lien doit être une adresse web complète commençant par https:// ou http://.")
    if data.event_start and data.event_end and data.event_end < data.event_start:
        raise ModerationError("La fin de l'événement précède son début.")
    fiche = data.fiche
    if fiche and fiche.action_status not in (None, "en_cours", "terminee"):
        raise ModerationError("Statut de l'action inconnu.")
    if not submitting:
        return
    if data.kind is K.evenement and data.event_start is None:
        raise ModerationError("Un événement doit avoir une date de début.")
    if data.kind is K.appel_a_projets and data.deadline is None:
        raise ModerationError("Un appel à projets doit avoir une date limite de réponse.")
    if data.kind is K.ressource:
        if data.resource_kind is None:
            raise ModerationError("Précisez le type de ressource.")
        if not data.link and not has_files:
            raise ModerationError("Une ressource doit avoir un lien ou un fichier joint.")
    if data.kind is K.fiche_action and fiche and fiche.action_status == "terminee" \
            and not (fiche.status_reason or "").strip():
        raise ModerationError("Une action terminée doit dire pourquoi elle s'est arrêtée.")


def _clean(value):
    # NUL and the other controls but tab and newlines (PostgreSQL refuses NUL in text, and no reader
    # needs the others), and Unicode non-characters (MJML's parser refuses them).
    if isinstance(value, str) and not isinstance(value, enum.Enum):
        return strip_controls(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _apply(contribution: Contribution, data: ContributionData) -> None:
    for key, value in data.columns().items():
        setattr(contribution, key, _clean(value))
    if data.kind is not K.fiche_action:
        return
    fiche = contribution.fiche or FicheAction()
    values = data.fiche or FicheData()
    for f in fields(values):
        setattr(fiche, f.name, _clean(getattr(values, f.name)))
    # A département by its code ("Seine-Saint-Denis" → "93"); the forms refuse one that names none.
    fiche.departement = departements.normalize(fiche.departement) or fiche.departement
    # The description is the contribution's text; mirrored on the fiche for the directory.
    fiche.description = _clean(data.body_md) or None
    contribution.fiche = fiche


def _attach(contribution: Contribution, new_files: list[ProcessedFile], remove_ids: set[int]) -> None:
    for existing in list(contribution.files):
        if existing.id in remove_ids:
            contribution.files.remove(existing)
    if len(contribution.files) + len(new_files) > MAX_FILES_PER_CONTRIBUTION:
        raise ModerationError(f"Une contribution peut porter au plus {MAX_FILES_PER_CONTRIBUTION} fichiers.")
    position = max((f.position for f in contribution.files), default=0)
    for processed in new_files:
        position += 1
        contribution.files.append(ContributionFile(
            kind=processed.kind, filename=_clean(processed.filename), content_type=processed.content_type,
            alt_text=_clean(processed.alt_text), title=_clean(processed.title), size=processed.size,
            sha256=processed.sha256, width=processed.width, height=processed.height,
            data=processed.data, email_data=processed.email_data, position=position))


# --- The workflow --------------------------------------------------------------------------------

def _move(db: Session, contribution: Contribution, to: S, actor: User | None, comment: str | None) -> None:
    db.add(ContributionTransition(contribution=contribution, from_status=contribution.status.value,
                                  to_status=to.value, actor_id=actor.id if actor else None,
                                  comment=(comment or "").strip() or None))
    contribution.status = to
    if to is S.submitted:
        contribution.submitted_at = utcnow()
        contribution.opened_at = contribution.opened_by_id = None  # a new version: not opened yet


def create(db: Session, author: User, data: ContributionData, *, submit: bool = True,
           files: list[ProcessedFile] | None = None) -> Contribution:
    """A new contribution of the author's structure, with its files, saved in one transaction:
    everything is saved, or nothing."""
    if author.structure_id is None:
        raise Forbidden()
    files = files or []
    _validate(data, submitting=submit, has_files=bool(files))
    try:
        contribution = Contribution(structure_id=author.structure_id, author_id=author.id, status=S.draft)
        _apply(contribution, data)
        _attach(contribution, files, set())
        db.add(contribution)
        db.flush()
        db.add(ContributionTransition(contribution=contribution, from_status=None, to_status=S.draft.value,
                                      actor_id=author.id))
        if submit:
            _move(db, contribution, S.submitted, author, None)
        db.flush()
    except Exception:
        db.rollback()  # nothing half-made stays in the session: the form is shown again
        raise
    return contribution


def update(db: Session, actor: User, contribution: Contribution, data: ContributionData, *,
           submit: bool = False, files: list[ProcessedFile] | None = None,
           remove_file_ids: set[int] | frozenset[int] = frozenset()) -> Contribution:
    """Change a draft or a contribution the editors sent back; `submit` sends it (again) to the
    editors. Files are added and removed in the same transaction as the text."""
    if not actor.is_editor:
        lock(db, contribution)  # opened by an editor since the form was shown: refused below
    check_can_edit(actor, contribution)
    if data.kind is not contribution.kind:
        raise ModerationError("Le type d'une contribution ne change pas : créez-en une nouvelle.")
    files = files or []
    remaining = [f for f in contribution.files if f.id not in remove_file_ids]
    sending = submit and not actor.is_editor and contribution.status is not S.submitted
    _validate(data, submitting=sending or contribution.status not in EDITABLE_BY_PARTNER,
              has_files=bool(files or remaining))
    try:
        _apply(contribution, data)
        _attach(contribution, files, set(remove_file_ids))
        if sending:
            _move(db, contribution, S.submitted, actor, None)
        contribution.version = (contribution.version or 1) + 1
        db.flush()
    except Exception:
        db.rollback()  # nothing half-made stays in the session: the form is shown again
        raise
    return contribution


def withdraw(db: Session, partner: User, contribution: Contribution) -> None:
    if partner.structure_id != contribution.structure_id:
        raise Forbidden()
    if (contribution.status, S.withdrawn) not in PARTNER_MOVES:
        raise ModerationError("Cette contribution ne peut plus être retirée.")
    _move(db, contribution, S.withdrawn, partner, None)
    db.flush()


DECISION_SUMMARIES = {S.accepted: "Contribution acceptée", S.rejected: "Contribution refusée",
                      S.changes_requested: "Modifications demandées"}
journal.register_actions({
    "contribution.accepted": _l("Contribution acceptée"),
    "contribution.rejected": _l("Contribution refusée"),
    "contribution.changes_requested": _l("Modifications demandées"),
})


def decide(db: Session, editor: User, contribution: Contribution, decision: S, comment: str = "") -> None:
    """Accept, reject or request changes; the partner is told by e-mail (with what the editors
    changed in their text, when accepted with edits)."""
    if not editor.is_editor:
        raise Forbidden()
    if decision not in DECISIONS or (contribution.status, decision) not in EDITOR_MOVES:
        raise ModerationError("Cette décision n'est pas possible dans l'état actuel de la contribution.")
    if decision in (S.changes_requested, S.rejected) and not comment.strip():
        raise ModerationError("Expliquez au partenaire ce qui doit changer (commentaire obligatoire).")
    _move(db, contribution, decision, editor, comment)
    changes = editorial_changes(contribution) if decision is S.accepted else []
    notify_partner(db, contribution, comment, changes)
    db.flush()
    journal.record(db, editor, f"contribution.{decision.value}",
                   f"{DECISION_SUMMARIES[decision]} : « {contribution.title} » ({contribution.structure.name})"
                   + (f" — {comment.strip()[:300]}" if comment.strip() else ""),
                   target=f"contribution:{contribution.id}")
    if decision is S.accepted:
        signals.contribution_accepted.send(db, contribution=contribution, editor=editor)


def editorial_changes(contribution: Contribution) -> list[str]:
    """What the editors changed in the partner's text, one French line per field (none unedited)."""
    return revisions.changes_since_original(contribution)


def notify_partner(db: Session, contribution: Contribution, comment: str, changes: list[str] | None = None) -> None:
    recipients = {m.email for m in contribution.structure.members if m.active}
    if contribution.author is not None and contribution.author.active:
        recipients = {contribution.author.email}
    for address in sorted(recipients):
        queue_email(db, "moderation_decision", address, {
            "contribution": contribution, "comment": comment.strip(), "changes": changes or [],
            "url": urls.absolute(f"/partenaires/contributions/{contribution.id}"),
        })


def mark_published(db: Session, contributions: list[Contribution], note: str) -> None:
    for contribution in contributions:
        if (contribution.status, S.published) in SYSTEM_MOVES:
            _move(db, contribution, S.published, None, note)


# --- Lists ---------------------------------------------------------------------------------------

def for_structure(db: Session, structure_id: int) -> list[Contribution]:
    return list(db.scalars(select(Contribution).where(Contribution.structure_id == structure_id)
                           .order_by(Contribution.updated_at.desc())))


def kinds_for_rubrique(db: Session, rubrique: str) -> list[K]:
    return [kind for kind, slug in rubriques.defaults(db).items() if slug == rubrique]


def moderation_queue(db: Session, status: S | None = S.submitted, *, kind: K | None = None,
                     structure_id: int | None = None, rubrique: str | None = None) -> list[Contribution]:
    """Contributions matching the filters, the one waiting longest first."""
    query = select(Contribution).join(Structure)
    if status is not None:
        query = query.where(Contribution.status == status)
    if kind is not None:
        query = query.where(Contribution.kind == kind)
    if structure_id is not None:
        query = query.where(Contribution.structure_id == structure_id)
    if rubrique is not None and rubrique in rubriques.labels(db):
        query = query.where(Contribution.kind.in_(kinds_for_rubrique(db, rubrique)))
    return list(db.scalars(query.order_by(Contribution.submitted_at.asc().nulls_last(), Contribution.id)))


def waiting_since(contribution: Contribution) -> datetime | None:
    """Since when the editors have had the ball: the last move to "submitted", while it still is."""
    if contribution.status is not S.submitted:
        return None
    return contribution.submitted_at


def structures_with_contributions(db: Session) -> list[Structure]:
    return list(db.scalars(select(Structure).where(Structure.id.in_(select(Contribution.structure_id)))
                           .order_by(Structure.name)))


def accepted_not_placed(db: Session, exclude_ids: set[int]) -> list[Contribution]:
    query = select(Contribution).where(Contribution.status == S.accepted).order_by(Contribution.submitted_at)
    return [c for c in db.scalars(query) if c.id not in exclude_ids]


def visible_file(db: Session, file_id: int, user) -> ContributionFile | None:
    """The file when this user (or an anonymous visitor, user None) may see it."""
    file = db.get(ContributionFile, file_id)
    if file is None or not can_see_file(user, file):
        return None
    return file
