"""The editorial team's accounts (/redaction/comptes, issue 11 item 5): invitations by e-mail, roles,
deactivation that ends sessions at once, the last active admin, and 403 for editors."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from accounts import staff
from accounts.auth import create_user
from accounts.models import JournalEntry, Role, User
from mailing.models import OutboundStatus
from mailing.outbox import send_outbound
from tests.integration.helpers import login, outbox


@pytest.fixture
def admin(db, world):
    user = create_user(db, "admin@reaap.test", "Inès Admin", Role.admin, "mdp-admin-123")
    db.commit()
    return user


def reread(db, user_id: int) -> User:
    db.expire_all()
    return db.get(User, user_id)


def journal_actions(db) -> list[str]:
    db.expire_all()
    return [e.action for e in db.scalars(select(JournalEntry).order_by(JournalEntry.id))]


def test_admin_invites_an_editor_who_accepts_and_can_work(client, app, db, admin, smtp, captured_jobs):
    login(client, "admin@reaap.test", "mdp-admin-123")
    page = client.get("/redaction/comptes/")
    assert page.status_code == 200 and "Claire Martin" in page.get_data(as_text=True)
    response = client.post("/redaction/comptes/", data={"email": "Nour.Saidi@Reaap.test", "name": "Nour Saïdi",
                                                         "role": "editor"})
    assert response.status_code == 302
    user = db.scalar(select(User).where(User.email == "nour.saidi@reaap.test"))
    assert user.role is Role.editor and user.active and user.password_hash is None
    [mail] = outbox(db, "account_invitation")
    assert send_outbound(db, mail.id) is OutboundStatus.sent  # the real SMTP server
    db.commit()
    [received] = smtp.to("nour.saidi@reaap.test")
    assert received.message["Subject"] == "Invitation à la rédaction de la lettre Parentalités"
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    assert "Inès Admin vous invite" in text and "(rédaction)" in text
    path = re.search(r"https://parentalites\.test(/connexion/invitation/[\w.-]+)", text).group(1)

    invited = app.test_client()
    page = invited.get(path)
    assert page.status_code == 200 and "Bienvenue dans l'équipe de la lettre" in page.get_data(as_text=True)
    done = invited.post(path, data={"action": "password", "password": "une phrase facile",
                                    "password_confirm": "une phrase facile"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/redaction/")
    assert invited.get("/redaction/moderation/").status_code == 200
    assert invited.get("/redaction/comptes/").status_code == 403  # an editor, not an admin
    assert "account.invited" in journal_actions(db)


def test_an_editor_forging_posts_to_admin_pages_gets_403_and_changes_nothing(client, db, world, admin,
                                                                             captured_jobs):
    login(client, "redaction@reaap.test", "mdp-redaction")
    editor = world["editor"]
    assert client.get("/redaction/comptes/").status_code == 403
    assert client.post("/redaction/comptes/", data={"email": "pirate@reaap.test", "name": "Pirate",
                                                    "role": "admin"}).status_code == 403
    assert client.post(f"/redaction/comptes/{editor.id}/role", data={"role": "admin"}).status_code == 403
    assert client.post(f"/redaction/comptes/{admin.id}/desactiver").status_code == 403
    assert client.post(f"/redaction/comptes/{admin.id}/role", data={"role": "editor"}).status_code == 403
    assert reread(db, editor.id).role is Role.editor
    assert reread(db, admin.id).role is Role.admin and reread(db, admin.id).active
    assert db.scalar(select(User).where(User.email == "pirate@reaap.test")) is None
    assert outbox(db) == [] and journal_actions(db) == []
    # The dashboard does not offer the page either.
    assert "Comptes de la rédaction" not in client.get("/redaction/").get_data(as_text=True)


def test_a_partner_address_or_a_bad_address_is_refused_in_french(client, db, world, admin, captured_jobs):
    login(client, "admin@reaap.test", "mdp-admin-123")
    response = client.post("/redaction/comptes/", data={"email": "amina@tilleuls.test", "name": "Amina",
                                                         "role": "editor"})
    assert response.status_code == 422
    assert "compte partenaire" in response.get_data(as_text=True)
    assert reread(db, world["partner"].id).role is Role.partner
    response = client.post("/redaction/comptes/", data={"email": "pas-une-adresse", "name": "X", "role": "editor"})
    assert response.status_code == 422 and outbox(db) == []
    response = client.post("/redaction/comptes/", data={"email": "new@reaap.test", "name": "", "role": "editor"})
    assert response.status_code == 422 and "Indiquez le nom" in response.get_data(as_text=True)


def test_the_last_active_admin_cannot_step_down_nor_be_taken_away(client, db, world, admin, captured_jobs):
    other = create_user(db, "admin2@reaap.test", "Paul Admin", Role.admin, "mdp-admin-456")
    db.commit()
    login(client, "admin@reaap.test", "mdp-admin-123")
    # Two admins: one may deactivate the other.
    assert client.post(f"/redaction/comptes/{other.id}/desactiver").status_code == 302
    assert not reread(db, other.id).active
    # Now alone: neither demotion nor deactivation of oneself.
    refused = client.post(f"/redaction/comptes/{admin.id}/role", data={"role": "editor"})
    assert refused.status_code == 409
    assert "seul compte d&#39;administration actif" in refused.get_data(as_text=True)
    assert client.post(f"/redaction/comptes/{admin.id}/desactiver").status_code == 409
    assert reread(db, admin.id).role is Role.admin and reread(db, admin.id).active
    # The service says the same to anyone else who would take the last admin away.
    editor = reread(db, world["editor"].id)
    with pytest.raises(staff.AccountError, match="il doit en rester un"):
        staff.change_role(db, editor, reread(db, admin.id), Role.editor)
    db.rollback()
    # With a second active admin again, the first may step down, and lands on the dashboard.
    assert client.post(f"/redaction/comptes/{other.id}/reactiver").status_code == 302
    stepped = client.post(f"/redaction/comptes/{admin.id}/role", data={"role": "editor"})
    assert stepped.status_code == 302 and stepped.headers["Location"].endswith("/redaction/")
    assert reread(db, admin.id).role is Role.editor
    assert client.get("/redaction/comptes/").status_code == 403
    assert journal_actions(db) == ["account.deactivated", "account.reactivated", "account.role_changed"]


def test_deactivation_ends_an_open_session_at_once(app, client, db, world, admin):
    login(client, "admin@reaap.test", "mdp-admin-123")
    editor_browser = app.test_client()
    login(editor_browser, "redaction@reaap.test", "mdp-redaction")
    assert editor_browser.get("/redaction/moderation/").status_code == 200
    assert client.post(f"/redaction/comptes/{world['editor'].id}/desactiver").status_code == 302
    # The very next request of the open session is turned away.
    after = editor_browser.get("/redaction/moderation/")
    assert after.status_code == 302 and "/connexion" in after.headers["Location"]
    # And the password no longer opens a session.
    refused = editor_browser.post("/connexion", data={"email": "redaction@reaap.test", "password": "mdp-redaction"})
    assert refused.status_code == 200 and "incorrect" in refused.get_data(as_text=True)
    # Reactivated, the person logs in again.
    assert client.post(f"/redaction/comptes/{world['editor'].id}/reactiver").status_code == 302
    login(editor_browser, "redaction@reaap.test", "mdp-redaction")


def test_a_promoted_editor_gets_the_admin_pages(app, client, db, world, admin):
    login(client, "admin@reaap.test", "mdp-admin-123")
    editor_browser = app.test_client()
    login(editor_browser, "redaction@reaap.test", "mdp-redaction")
    assert editor_browser.get("/redaction/comptes/").status_code == 403
    assert client.post(f"/redaction/comptes/{world['editor'].id}/role", data={"role": "admin"}).status_code == 302
    assert editor_browser.get("/redaction/comptes/").status_code == 200
    [entry] = db.scalars(select(JournalEntry).where(JournalEntry.action == "account.role_changed")).all()
    assert entry.actor_email == "admin@reaap.test" and entry.target == f"user:{world['editor'].id}"
    assert "rédaction → administration" in entry.summary


def test_deactivating_a_partner_ends_their_session_too(app, client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    partner_browser = app.test_client()
    login(partner_browser, "amina@tilleuls.test", "mdp-partenaire")
    assert partner_browser.get("/partenaires/").status_code == 200
    partner = world["partner"]
    response = client.post(f"/redaction/structures/{world['tilleuls'].id}/comptes/{partner.id}/desactiver")
    assert response.status_code == 302
    assert partner_browser.get("/partenaires/").status_code == 302
    assert "partner.deactivated" in journal_actions(db)
