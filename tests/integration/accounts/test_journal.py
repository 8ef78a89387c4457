"""The journal keeps who did what with the action that did it, and outlives the account."""
from __future__ import annotations

from sqlalchemy import select

from accounts import journal
from accounts.models import JournalEntry


def test_a_line_is_committed_with_its_action_and_keeps_the_address_once_the_account_is_gone(db, world):
    editor = world["editor"]
    journal.record(db, editor, "contribution.edited", "Titre modifié\x00 : « A » → « B »",
                   target="contribution:12", details={"field": "title"})
    db.commit()
    entry = db.scalars(select(JournalEntry)).one()
    assert (entry.actor_id, entry.actor_email, entry.action, entry.target) == (
        editor.id, "redaction@reaap.test", "contribution.edited", "contribution:12")
    assert entry.summary == "Titre modifié : « A » → « B »" and entry.details == {"field": "title"}

    db.delete(editor)
    db.commit()
    db.expire_all()
    entry = db.scalars(select(JournalEntry)).one()
    assert entry.actor_id is None and entry.actor_email == "redaction@reaap.test"


def test_a_rolled_back_action_leaves_no_line(db, world):
    journal.record(db, None, "retention.purged", "Purge")
    db.rollback()
    assert db.scalars(select(JournalEntry)).all() == []
