"""The consent texts, in one place, and their versions.

Each purpose has one current text (French, as shown on the form). `current_version` gets or creates
the `ConsentVersion` row of that exact text, so every proof (`ConsentRecord`) names the version and
keeps a copy of the words; changing a text below makes a new version at the next proof, the old
ones stay for the proofs that name them.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import utcnow
from subscribers.models import ConsentVersion


def N_(text: str) -> str:
    """Marks a string for the catalogues (a default Babel keyword) without translating it."""
    return text


NEWSLETTER = "newsletter"
REGISTRATION = "registration"

# The subscription form's box (subscribers/forms.py), recorded with each subscription and
# re-consent.
NEWSLETTER_TEXT = ("J'accepte de recevoir la lettre Parentalités par e-mail. Je peux me désabonner "
                   "à tout moment par le lien présent dans chaque lettre.")
# The event registration form's box: events/forms.py shows it translated (`_l(REGISTRATION_TEXT)`);
# N_ marks it for the catalogues and leaves the French text, the version of reference.
REGISTRATION_TEXT = N_("J'accepte que mes coordonnées servent à l'organisation de cet événement "
                       "(confirmation, rappels, liste des présents). Elles ne sont pas cédées.")

TEXTS: dict[str, str] = {NEWSLETTER: NEWSLETTER_TEXT, REGISTRATION: REGISTRATION_TEXT}


def text_hash(text: str) -> str:
    """SHA-256 of the text as shown (UTF-8): the identity of a version."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_text(purpose: str) -> str:
    try:
        return TEXTS[purpose]
    except KeyError:
        raise ValueError(f"unknown consent purpose: {purpose!r}") from None


def version_for(db: Session, purpose: str, text: str) -> ConsentVersion:
    """The version row of this exact text, created if new. Two processes creating it at once get
    the same row: INSERT … ON CONFLICT DO NOTHING on (purpose, text_hash), then SELECT."""
    digest = text_hash(text)
    found = db.scalar(select(ConsentVersion).where(ConsentVersion.purpose == purpose,
                                                   ConsentVersion.text_hash == digest))
    if found is not None:
        return found
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.execute(insert(ConsentVersion)
               .values(purpose=purpose, text=text, text_hash=digest, created_at=utcnow())
               .on_conflict_do_nothing(index_elements=["purpose", "text_hash"]))
    return db.execute(select(ConsentVersion).where(ConsentVersion.purpose == purpose,
                                                   ConsentVersion.text_hash == digest)).scalar_one()


def current_version(db: Session, purpose: str) -> ConsentVersion:
    """The version of the text shown today for `purpose` (got or created)."""
    return version_for(db, purpose, current_text(purpose))
