"""Blocks an editor adds to a letter besides the partners' contributions: a free text, an image
banner (with its alt text), a button (label and http(s) link), and « À la une » (one accepted
contribution featured at the top). Each block sits at a place of the letter: at the top (after the
édito), at the end of a rubrique, or at the end of the letter; « À la une » always opens it.

Free text is Markdown, shown through the same sanitiser as the contributions (core.text); a
banner is checked like a partner's image (contributions.uploads: content sniffed, size and pixel
limits, re-encoded). Every change is journalled (`letter.block_*`) in the same transaction.
"""
from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, backref, mapped_column, relationship

from accounts import journal
from accounts.models import User
from contributions.models import Contribution, ContributionStatus
from contributions.rubriques import RUBRIQUE_LABELS, RUBRIQUES
from contributions.uploads import EMAIL_WIDTH, UploadError, process_image
from core.db import Base, UTCDateTime, enum_column, utcnow
from core.text import WEB_SCHEMES, safe_url
from newsletter.models import Issue

TOP, BOTTOM = "top", "bottom"
TITLE_MAX, LABEL_MAX, BODY_MAX, URL_MAX = 200, 80, 20_000, 2000

journal.register_actions({
    "letter.block_added": _l("Bloc ajouté à une lettre"),
    "letter.block_edited": _l("Bloc de lettre modifié"),
    "letter.block_moved": _l("Bloc de lettre déplacé"),
    "letter.block_removed": _l("Bloc retiré d'une lettre"),
})


class BlockKind(enum.StrEnum):
    text = "text"
    banner = "banner"
    button = "button"
    featured = "featured"   # « À la une »


BLOCK_KIND_LABELS = {
    BlockKind.text: _l("Texte libre"), BlockKind.banner: _l("Bannière (image)"),
    BlockKind.button: _l("Bouton"), BlockKind.featured: _l("À la une"),
}


class BlockError(ValueError):
    """The block is refused; the message says why (French). `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class IssueBlock(Base):
    """A block of a letter, at a place (`placement`: "top", a rubrique's slug, "bottom") and a position."""

    __tablename__ = "issue_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    kind: Mapped[BlockKind] = mapped_column(enum_column(BlockKind, "block_kind"))
    placement: Mapped[str] = mapped_column(String(40), default=TOP)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    body_md: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str] = mapped_column(String(LABEL_MAX), default="")
    url: Mapped[str] = mapped_column(String(URL_MAX), default="")
    contribution_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id", ondelete="SET NULL"))
    alt_text: Mapped[str] = mapped_column(String(500), default="")
    # The banner, re-encoded at most 600 px wide for the letter (and the archive).
    image_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    image_type: Mapped[str | None] = mapped_column(String(40))
    image_width: Mapped[int | None] = mapped_column(Integer)
    image_height: Mapped[int | None] = mapped_column(Integer)
    image_version: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issue: Mapped[Issue] = relationship(backref=backref(
        "blocks", order_by="IssueBlock.position", cascade="all, delete-orphan", passive_deletes=True))
    contribution: Mapped[Contribution | None] = relationship()

    @property
    def image_path(self) -> str:
        extension = "png" if self.image_type == "image/png" else "jpg"
        return f"/lettres/images/{self.id}-{self.image_version}.{extension}"

    @property
    def kind_label(self) -> str:
        return str(BLOCK_KIND_LABELS[self.kind])

    @property
    def summary(self) -> str:
        """A few words saying what the block is, for the composer and the journal."""
        if self.kind is BlockKind.text:
            return self.title or " ".join(self.body_md.split())[:60]
        if self.kind is BlockKind.banner:
            return self.alt_text
        if self.kind is BlockKind.button:
            return f"{self.label} → {self.url}"
        return self.contribution.title if self.contribution else ""


def placements() -> list[tuple[str, str]]:
    """Where a block may go, in the order of the letter."""
    return [(TOP, str(_l("En tête de lettre (après l'édito)"))),
            *((slug, str(_l("À la fin de la rubrique « %(label)s »", label=label))) for slug, label in RUBRIQUES),
            (BOTTOM, str(_l("En fin de lettre")))]


# --- Checks ---------------------------------------------------------------------------------------

def _editable(issue: Issue) -> None:
    if not issue.is_editable:
        raise BlockError(str(_l("Ce numéro est envoyé ou en cours d'envoi : il ne peut plus être modifié.")))


def _placement(value: str | None) -> str:
    value = value or TOP
    if value not in (TOP, BOTTOM) and value not in RUBRIQUE_LABELS:
        raise BlockError(str(_l("Emplacement inconnu.")), "placement")
    return value


def _line(value: str | None, maximum: int, field: str, required: str | None = None) -> str:
    text = " ".join((value or "").split())
    if len(text) > maximum:
        raise BlockError(str(_l("%(n)s caractères au plus.", n=maximum)), field)
    if required and not text:
        raise BlockError(required, field)
    return text


def checked_url(value: str | None, field: str = "url", required: bool = True) -> str:
    """An http(s) link, else BlockError: javascript:, data:, mailto: or a relative link never are."""
    raw = (value or "").strip()
    if not raw and not required:
        return ""
    if len(raw) > URL_MAX or not safe_url(raw, WEB_SCHEMES):
        raise BlockError(str(_l("Le lien doit être une adresse web complète commençant par http:// ou "
                                "https:// (par exemple https://www.caf.fr/).")), field)
    return raw


def _body(value: str | None) -> str:
    body = (value or "").strip()
    if not body:
        raise BlockError(str(_l("Écrivez le texte du bloc.")), "body_md")
    if len(body) > BODY_MAX:
        raise BlockError(str(_l("%(n)s caractères au plus.", n=BODY_MAX)), "body_md")
    return body


def _featurable(db: Session, contribution_id: Any) -> Contribution:
    contribution = db.get(Contribution, contribution_id) if str(contribution_id or "").isdigit() else None
    if contribution is None or contribution.status not in (ContributionStatus.accepted, ContributionStatus.published):
        raise BlockError(str(_l("Choisissez une contribution acceptée à mettre à la une.")), "contribution_id")
    return contribution


def _banner(raw: bytes | None, filename: str | None, alt: str | None) -> tuple[bytes, str, int, int, str]:
    if not raw:
        raise BlockError(str(_l("Choisissez l'image de la bannière (JPEG, PNG ou WebP).")), "image")
    try:
        processed = process_image(raw, filename, alt)
    except UploadError as exc:
        raise BlockError(str(exc), "alt_text" if exc.field == "upload_alt" else "image") from exc
    data = processed.email_data or processed.data
    content_type = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    width = min(processed.width or EMAIL_WIDTH, EMAIL_WIDTH)
    height = round((processed.height or 0) * width / (processed.width or width)) or None
    return data, content_type, width, height or 1, processed.alt_text or ""


# --- Changes --------------------------------------------------------------------------------------

def _next_position(issue: Issue) -> int:
    return max((b.position for b in issue.blocks), default=0) + 1  # type: ignore[attr-defined]


def _record(db: Session, actor: User | None, action: str, block: IssueBlock, sentence: str) -> None:
    journal.record(db, actor, action, sentence, target=f"issue:{block.issue_id}",
                   details={"block": block.id, "kind": block.kind.value, "placement": block.placement})


def add_block(db: Session, issue: Issue, actor: User | None, kind: str, *, placement: str | None = None,
              title: str | None = None, body_md: str | None = None, label: str | None = None,
              url: str | None = None, contribution_id: Any = None, alt_text: str | None = None,
              image: bytes | None = None, filename: str | None = None) -> IssueBlock:
    """Check and add a block at the end of its place; BlockError (nothing added) when refused."""
    _editable(issue)
    try:
        block_kind = BlockKind(kind)
    except ValueError:
        raise BlockError(str(_l("Type de bloc inconnu.")), "kind") from None
    block = IssueBlock(kind=block_kind, placement=_placement(placement), position=_next_position(issue))
    if block_kind is BlockKind.text:
        block.title = _line(title, TITLE_MAX, "title")
        block.body_md = _body(body_md)
    elif block_kind is BlockKind.button:
        block.label = _line(label, LABEL_MAX, "label", str(_l("Écrivez le texte du bouton.")))
        block.url = checked_url(url)
    elif block_kind is BlockKind.banner:
        block.url = checked_url(url, required=False)
        (block.image_data, block.image_type, block.image_width, block.image_height,
         block.alt_text) = _banner(image, filename, alt_text)
        block.image_version = hashlib.sha256(block.image_data).hexdigest()[:16]
    else:
        if any(b.kind is BlockKind.featured for b in issue.blocks):  # type: ignore[attr-defined]
            raise BlockError(str(_l("Ce numéro a déjà un article à la une : retirez-le d'abord.")), "contribution_id")
        block.contribution = _featurable(db, contribution_id)
        block.placement = TOP
    issue.blocks.append(block)  # type: ignore[attr-defined]
    db.flush()
    _record(db, actor, "letter.block_added", block,
            f"Bloc « {block.kind_label} » ajouté au n°{issue.numero} : {block.summary}")
    return block


def _block(issue: Issue, block_id: int) -> IssueBlock:
    for block in issue.blocks:  # type: ignore[attr-defined]
        if block.id == block_id:
            return block
    raise BlockError(str(_l("Ce bloc n'est pas dans ce numéro.")))


def edit_block(db: Session, issue: Issue, actor: User | None, block_id: int, *, placement: str | None = None,
               title: str | None = None, body_md: str | None = None, label: str | None = None,
               url: str | None = None, alt_text: str | None = None) -> IssueBlock:
    """Change a block's words, link or place (a banner keeps its image; to change it, add another)."""
    _editable(issue)
    block = _block(issue, block_id)
    before = block.summary
    new_placement = _placement(placement) if block.kind is not BlockKind.featured else TOP
    if block.kind is BlockKind.text:
        block.title, block.body_md = _line(title, TITLE_MAX, "title"), _body(body_md)
    elif block.kind is BlockKind.button:
        block.label = _line(label, LABEL_MAX, "label", str(_l("Écrivez le texte du bouton.")))
        block.url = checked_url(url)
    elif block.kind is BlockKind.banner:
        block.url = checked_url(url, required=False)
        block.alt_text = _line(alt_text, 500, "alt_text", str(_l(
            "Décrivez l'image en quelques mots (texte alternatif) : il est lu aux personnes aveugles.")))
    if new_placement != block.placement:
        block.placement, block.position = new_placement, _next_position(issue)
    db.flush()
    _record(db, actor, "letter.block_edited", block,
            f"Bloc « {block.kind_label} » du n°{issue.numero} modifié : {before} → {block.summary}")
    return block


def move_block(db: Session, issue: Issue, actor: User | None, block_id: int, direction: int) -> bool:
    """Swap a block with its neighbour at the same place; False when it is already first or last."""
    _editable(issue)
    block = _block(issue, block_id)
    siblings = sorted((b for b in issue.blocks if b.placement == block.placement),  # type: ignore[attr-defined]
                      key=lambda b: b.position)
    index = siblings.index(block) + (1 if direction > 0 else -1)
    if not 0 <= index < len(siblings):
        return False
    other = siblings[index]
    block.position, other.position = other.position, block.position
    db.flush()
    issue.blocks.sort(key=lambda b: b.position)  # type: ignore[attr-defined]
    _record(db, actor, "letter.block_moved", block,
            f"Bloc « {block.kind_label} » du n°{issue.numero} {'descendu' if direction > 0 else 'monté'}")
    return True


def remove_block(db: Session, issue: Issue, actor: User | None, block_id: int) -> None:
    _editable(issue)
    block = _block(issue, block_id)
    _record(db, actor, "letter.block_removed", block,
            f"Bloc « {block.kind_label} » retiré du n°{issue.numero} : {block.summary}")
    issue.blocks.remove(block)  # type: ignore[attr-defined]
    db.flush()


def banner_image(db: Session, block_id: int, version: str) -> tuple[bytes, str] | None:
    """A banner's bytes and type, when `version` is its current one (the URL is not guessable)."""
    block = db.get(IssueBlock, block_id)
    if block is None or block.image_data is None or block.image_version != version:
        return None
    return block.image_data, block.image_type or "image/jpeg"


# --- What the letter's templates read -------------------------------------------------------------

def letter_context(issue: Issue) -> dict[str, Any]:
    """`featured` (a contribution or None), `blocks_at` (place → blocks in order), `sections`
    (the rubriques without the featured contribution, so it is not shown twice) and `toc` (anchor,
    label) for the table of contents."""
    blocks = list(getattr(issue, "blocks", []))
    featured = next((b.contribution for b in blocks if b.kind is BlockKind.featured and b.contribution), None)
    blocks_at: dict[str, list[IssueBlock]] = {}
    for block in sorted(blocks, key=lambda b: b.position):
        if block.kind is not BlockKind.featured:
            blocks_at.setdefault(block.placement, []).append(block)
    sections = []
    for slug, label, items in issue.items_by_rubrique():
        shown = [item for item in items if featured is None or item.contribution_id != featured.id]
        if shown or blocks_at.get(slug):
            sections.append((slug, label, shown))
    # A rubrique holding only blocks is still a rubrique of the letter.
    present = {slug for slug, _, _ in sections}
    for slug, label in RUBRIQUES:
        if slug in blocks_at and slug not in present:
            sections.append((slug, label, []))
    order = [slug for slug, _ in RUBRIQUES]
    sections.sort(key=lambda section: order.index(section[0]))
    toc = ([("a-la-une", "À la une")] if featured else []) + ([("edito", "Édito")] if issue.edito_md else [])
    toc += [(f"rubrique-{slug}", label) for slug, label, _ in sections]
    return {"featured": featured, "blocks_at": blocks_at, "sections": sections, "toc": toc}


def featurable_contributions(db: Session) -> list[Contribution]:
    """Accepted contributions an editor may put « À la une » (newest first)."""
    return list(db.scalars(select(Contribution).where(Contribution.status == ContributionStatus.accepted)
                           .order_by(Contribution.id.desc()).limit(200)))
