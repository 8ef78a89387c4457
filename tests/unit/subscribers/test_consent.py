"""The consent texts: one place, one version per exact text (in-memory SQLite)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from subscribers import consent
from subscribers.models import ConsentVersion


@pytest.fixture
def db():
    engine = create_engine("sqlite://")
    ConsentVersion.__table__.create(engine)
    with Session(engine) as session:
        yield session


def test_each_purpose_has_one_current_text():
    assert consent.current_text(consent.NEWSLETTER) == consent.NEWSLETTER_TEXT
    assert consent.current_text(consent.REGISTRATION) == consent.REGISTRATION_TEXT
    with pytest.raises(ValueError, match="unknown consent purpose"):
        consent.current_text("marketing")


def test_the_form_and_the_proof_show_the_same_words():
    from subscribers.services import CONSENT_WORDING
    assert CONSENT_WORDING == consent.NEWSLETTER_TEXT


def test_text_hash_is_the_sha256_of_the_utf8_text():
    import hashlib
    assert consent.text_hash("J'accepte é") == hashlib.sha256("J'accepte é".encode()).hexdigest()
    assert consent.text_hash("a") != consent.text_hash("a ")


def test_get_or_create_gives_the_same_row_for_the_same_text(db):
    first = consent.current_version(db, consent.NEWSLETTER)
    again = consent.current_version(db, consent.NEWSLETTER)
    assert first.id == again.id
    assert (first.purpose, first.text, first.text_hash) == (
        consent.NEWSLETTER, consent.NEWSLETTER_TEXT, consent.text_hash(consent.NEWSLETTER_TEXT))
    assert db.scalar(select(func.count(ConsentVersion.id))) == 1


def test_a_changed_text_is_a_new_version_and_the_old_one_stays(db, monkeypatch):
    old = consent.current_version(db, consent.NEWSLETTER)
    monkeypatch.setitem(consent.TEXTS, consent.NEWSLETTER, consent.NEWSLETTER_TEXT + " Nouvelle phrase.")
    new = consent.current_version(db, consent.NEWSLETTER)
    assert new.id != old.id and new.text.endswith("Nouvelle phrase.")
    assert db.scalar(select(func.count(ConsentVersion.id))) == 2
    # The same words for another purpose are another version.
    other = consent.version_for(db, consent.REGISTRATION, consent.NEWSLETTER_TEXT)
    assert other.id not in (old.id, new.id)
