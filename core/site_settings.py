"""The site's settings an admin changes in the back office (/redaction/parametres): the network's
name, the sender, reply-to, List-Id, logo, primary colour, footer, publisher (directeur de la
publication), privacy contact and issues per year.

The environment (core/settings.py) gives every default and keeps the secrets (SMTP credentials,
DKIM key: never here); a value saved in the back office wins, and each change is logged.
`current()` returns one frozen `SiteSettings` with every effective value. It reads the tiny
`site_settings` table at each call (one small query on its own connection, kept for the length of a
web request), so a worker sees a change at its next message without any signal between processes.
A process without a database (a unit test rendering an e-mail) gets the environment's values.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr

from flask import g, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import LargeBinary, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import db as database
from core.db import Base, UTCDateTime, utcnow
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEFAULT_PRIMARY_COLOUR = "#7a1f5c"
MIN_CONTRAST = 4.5  # WCAG 2.1 AA, normal text: white text on the primary colour
LOGO_KEY = "logo"


class SiteSetting(Base):
    """One value set in the back office; a key absent from the table takes the environment's value."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # The logo's bytes (already checked and re-encoded); None for every other key.
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SiteSettingError(ValueError):
    """A value refused; str() says why, in French (or the reader's language)."""


# --- Colours --------------------------------------------------------------------------------------

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\Z")


def parse_colour(raw: str) -> str:
    """`#rrggbb` (lower case) from `#rgb`, `rrggbb` or `#RRGGBB`; SiteSettingError otherwise."""
    found = _HEX.match((raw or "").strip())
    if not found:
        raise SiteSettingError(_("« %(value)s » n'est pas une couleur : indiquez-la en hexadécimal, "
                                 "par exemple #7a1f5c.", value=raw))
    digits = found.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of `#rrggbb`."""
    digits = parse_colour(colour)[1:]
    channels = []
    for i in (0, 2, 4):
        c = int(digits[i:i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str = "#ffffff") -> float:
    """WCAG 2.1 contrast ratio of two colours (1 to 21); #777777 on white gives 4.48."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def french_ratio(ratio: float) -> str:
    return f"{ratio:.2f}".replace(".", ",") + ":1"


def check_primary_colour(raw: str) -> str:
    """The colour when white text on it reaches WCAG AA (4.5:1), else SiteSettingError giving the ratio."""
    colour = parse_colour(raw)
    ratio = contrast_ratio(colour)
    # Rounded down to two decimals as WCAG tools show it: 4.497 is not 4.5.
    if int(ratio * 100) < MIN_CONTRAST * 100:
        raise SiteSettingError(_(
            "Contraste insuffisant : du texte blanc sur %(colour)s a un rapport de contraste de %(ratio)s ; "
            "il faut au moins 4,5:1 (niveau AA des WCAG). Choisissez une couleur plus foncée.",
            colour=colour, ratio=french_ratio(ratio)))
    return colour


# --- The fields -----------------------------------------------------------------------------------

_DOMAIN = re.compile(r"(?=.{1,253}\Z)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}\Z", re.IGNORECASE)
_LIST_ID = re.compile(r"[^<>\r\n]*<[^<>@\s]+\.[^<>@\s]+>\Z")


def _one_line(raw: str, maximum: int) -> str:
    value = " ".join((raw or "").split())
    if len(value) > maximum:
        raise SiteSettingError(_("%(n)s caractères au plus.", n=maximum))
    return value


def _required_line(maximum: int):
    def parse(raw: str) -> str:
        value = _one_line(raw, maximum)
        if not value:
            raise SiteSettingError(_("Ce champ ne peut pas être vide (ou revenez à la valeur par défaut)."))
        return value
    return parse


def _address(raw: str) -> str:
    value = (raw or "").strip()
    local, at, domain = value.rpartition("@")
    if not (local and at and _DOMAIN.match(domain)) or any(c.isspace() or c in "<>\"," for c in value):
        raise SiteSettingError(_("« %(value)s » n'est pas une adresse e-mail (par exemple lettre@reseau.fr).",
                                 value=raw))
    if not value.isascii():
        raise SiteSettingError(_("L'adresse ne peut pas contenir d'accent : notre serveur d'envoi ne "
                                 "pourrait pas l'utiliser."))
    return value


def _optional_address(raw: str) -> str:
    return _address(raw) if (raw or "").strip() else ""


def _list_id(raw: str) -> str:
    value = " ".join((raw or "").split())
    if not _LIST_ID.match(value) or len(value) > 250:
        raise SiteSettingError(_("« %(value)s » n'est pas de la forme « Nom <identifiant.domaine> » (RFC 2919), "
                                 "par exemple « Lettre Parentalités <lettre.reseau.fr> ».", value=raw))
    return value


def _issues_per_year(raw: str) -> str:
    value = (raw or "").strip()
    if not value.isdigit() or not 1 <= int(value) <= 12:
        raise SiteSettingError(_("Indiquez un nombre de lettres par an entre 1 et 12."))
    return str(int(value))


def _footer(raw: str) -> str:
    value = "\n".join(line.strip() for line in (raw or "").strip().splitlines())
    value = re.sub(r"\n{3,}", "\n\n", value)
    if len(value) > 1000:
        raise SiteSettingError(_("%(n)s caractères au plus.", n=1000))
    return value


@dataclass(frozen=True)
class Field:
    """One setting: its label, how a typed value is checked (returns the stored text, or raises
    SiteSettingError), and the environment variable its default comes from (None: no variable)."""
    key: str
    label: object
    parse: object
    variable: str | None = None


FIELDS: tuple[Field, ...] = (
    Field("network_name", _l("Nom du réseau"), _required_line(120), "NETWORK_NAME"),
    Field("sender_name", _l("Nom de l'expéditeur"), _required_line(120), "MAIL_FROM"),
    Field("sender_address", _l("Adresse de l'expéditeur"), _address, "MAIL_FROM"),
    Field("reply_to", _l("Adresse de réponse (Reply-To)"), _optional_address),
    Field("list_id", _l("Identifiant de liste (List-Id)"), _list_id, "LIST_ID"),
    Field("primary_colour", _l("Couleur principale"), check_primary_colour),
    Field("footer_text", _l("Texte du pied de lettre"), _footer),
    Field("publisher", _l("Directeur ou directrice de la publication"), lambda raw: _one_line(raw, 200)),
    Field("privacy_contact", _l("Contact pour les données personnelles"), _address, "PRIVACY_CONTACT"),
    Field("issues_per_year", _l("Lettres par an"), _issues_per_year, "ISSUES_PER_YEAR"),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}


@dataclass(frozen=True)
class Logo:
    version: str      # a hash of the bytes: the logo's URL changes with it (cached for ever)
    content_type: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return "png" if self.content_type == "image/png" else "jpg"

    @property
    def path(self) -> str:
        return f"/site/logo/{self.version}.{self.extension}"


@dataclass(frozen=True)
class SiteSettings:
    """Every effective value: the back office's where one is set, else the environment's."""
    network_name: str
    sender_name: str
    sender_address: str
    reply_to: str
    list_id: str
    primary_colour: str
    footer_text: str
    publisher: str
    privacy_contact: str
    issues_per_year: int
    logo: Logo | None = None
    overridden: frozenset[str] = field(default_factory=frozenset)  # the keys set in the back office

    @property
    def mail_from(self) -> str:
        """The From header: « Name <address> »."""
        name = self.sender_name.replace('"', "").replace("\\", "")
        if not name:
            return self.sender_address
        # Quoted when the name holds a character that ends a name in an address header (a comma…).
        if re.search(r'[()<>@,;:\[\]."]', name):
            return f'"{name}" <{self.sender_address}>'
        return f"{name} <{self.sender_address}>"

    @property
    def mail_from_address(self) -> str:
        return self.sender_address

    @property
    def header_colour(self) -> str:
        """A light tint of the primary colour for rules and borders."""
        digits = self.primary_colour[1:]
        mixed = [round(int(digits[i:i + 2], 16) * 0.18 + 255 * 0.82) for i in (0, 2, 4)]
        return "#" + "".join(f"{c:02x}" for c in mixed)

    def shown(self, key: str) -> str:
        value = getattr(self, key)
        return str(value) if value is not None else ""


def defaults(settings: Settings | None = None) -> dict[str, str]:
    """Each key's value from the environment (or the built-in default), as text."""
    settings = settings or get_settings()
    sender_name, sender_address = parseaddr(settings.mail_from)
    return {
        "network_name": settings.network_name,
        "sender_name": sender_name,
        "sender_address": sender_address,
        "reply_to": "",
        "list_id": settings.list_id,
        "primary_colour": DEFAULT_PRIMARY_COLOUR,
        "footer_text": "",
        "publisher": "",
        "privacy_contact": settings.privacy_contact,
        "issues_per_year": str(settings.issues_per_year),
    }


def _build(stored: dict[str, str]) -> SiteSettings:
    values = {**defaults(), **{k: v for k, v in stored.items() if k in FIELD_BY_KEY}}
    logo = None
    if LOGO_KEY in stored:
        try:
            meta = json.loads(stored[LOGO_KEY])
            logo = Logo(meta["version"], meta["content_type"], int(meta["width"]), int(meta["height"]))
        except (ValueError, KeyError, TypeError):
            log.warning("site setting logo unreadable: ignored")
    return SiteSettings(
        network_name=values["network_name"], sender_name=values["sender_name"],
        sender_address=values["sender_address"], reply_to=values["reply_to"], list_id=values["list_id"],
        primary_colour=values["primary_colour"], footer_text=values["footer_text"], publisher=values["publisher"],
        privacy_contact=values["privacy_contact"], issues_per_year=int(values["issues_per_year"]), logo=logo,
        overridden=frozenset(stored))


def from_environment() -> SiteSettings:
    """The values of the environment alone (no database)."""
    return _build({})


def _read() -> dict[str, str]:
    # Its own short connection: never the caller's transaction, which may be aborted or long.
    with database.get_engine().connect() as connection:
        rows = connection.execute(select(SiteSetting.key, SiteSetting.value)).all()
    return {key: value for key, value in rows}


def current() -> SiteSettings:
    """Every effective value, read now (within a web request, once per request)."""
    if database._engine is None:  # no database in this process (a unit test): the environment's values
        return from_environment()
    if has_app_context() and "site_settings" in g:
        return g.site_settings
    try:
        site = _build(_read())
    except SQLAlchemyError as exc:  # not migrated yet: the environment still works
        log.warning("site settings unreadable, the environment's values are used: %s", exc)
        return from_environment()
    if has_app_context():
        g.site_settings = site
    return site


def invalidate() -> None:
    """Forget this request's copy (after a change)."""
    if has_app_context():
        g.pop("site_settings", None)


# --- Changes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    key: str
    old: str
    new: str


def set_value(db: Session, key: str, raw: str) -> Change | None:
    """Check and save one value; None when it is the effective value already. Raises
    SiteSettingError (French) and saves nothing when it is refused."""
    spec = FIELD_BY_KEY[key]
    new = spec.parse(raw)  # type: ignore[operator]
    old = current().shown(key)
    if new == old:
        return None
    row = db.get(SiteSetting, key)
    if row is None:
        db.add(SiteSetting(key=key, value=new))
    else:
        row.value = new
        row.updated_at = utcnow()
    db.flush()
    invalidate()
    return Change(key, old, new)


def reset(db: Session, key: str) -> Change | None:
    """Back to the environment's value (the logo: back to none). None when nothing was set."""
    row = db.get(SiteSetting, key)
    if row is None:
        return None
    old = "logo" if key == LOGO_KEY else current().shown(key)
    db.delete(row)
    db.flush()
    invalidate()
    return Change(key, old, "" if key == LOGO_KEY else defaults().get(key, ""))


def set_logo(db: Session, data: bytes, content_type: str, width: int, height: int) -> Change:
    """Save an already checked and re-encoded logo."""
    import hashlib
    version = hashlib.sha256(data).hexdigest()[:16]
    meta = json.dumps({"version": version, "content_type": content_type, "width": width, "height": height})
    row = db.get(SiteSetting, LOGO_KEY)
    old = current().logo
    if row is None:
        db.add(SiteSetting(key=LOGO_KEY, value=meta, data=data))
    else:
        row.value, row.data, row.updated_at = meta, data, utcnow()
    db.flush()
    invalidate()
    return Change(LOGO_KEY, old.version if old else "", version)


def log_change(change: Change, actor: str) -> None:
    """Say in the logs that a value set in the back office now wins (called once it is kept)."""
    log.info("site setting %s changed in the back office by %s: %r -> %r", change.key, actor, change.old, change.new)


def logo_bytes(db: Session, version: str) -> tuple[bytes, str] | None:
    """The logo's bytes and type when `version` is the current one."""
    row = db.get(SiteSetting, LOGO_KEY)
    if row is None or row.data is None:
        return None
    meta = json.loads(row.value)
    if meta.get("version") != version:
        return None
    return row.data, meta["content_type"]
