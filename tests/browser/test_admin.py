"""An admin invites an editor in a real browser (issue 11, item 5): the form, the e-mail through the
outbox and real SMTP, the invited person's first visit; and the new back-office pages (accounts,
e-mail texts, journal, fiche import) as screenshots at desktop and phone width."""
from __future__ import annotations

import re

from sqlalchemy import select

from accounts import journal
from accounts.auth import create_user
from accounts.models import Role, User
from mailing.outbox import send_outbound
from tests.browser.helpers import PHONE, local, log_in
from tests.conftest import FIXTURES
from tests.integration.helpers import outbox


def test_an_admin_invites_an_editor_who_joins(browser, live_server, db, world, smtp, artifacts, captured_jobs):
    from playwright.sync_api import expect
    create_user(db, "admin@reaap.test", "Inès Admin", Role.admin, "mdp-admin-123")
    db.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, live_server, "admin@reaap.test", "mdp-admin-123")
        page.get_by_role("link", name="Comptes de la rédaction").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Comptes de la rédaction")
        page.get_by_label("Adresse e-mail").fill("nour.saidi@reaap.test")
        page.get_by_label("Nom et prénom").fill("Nour Saïdi")
        page.get_by_label("Rôle", exact=True).select_option("editor")
        page.get_by_role("button", name="Envoyer l'invitation").click()
        expect(page.get_by_role("alert").or_(page.locator(".alert-success"))).to_contain_text(
            "Invitation envoyée à nour.saidi@reaap.test")
        accounts = page.get_by_role("list", name="Comptes de la rédaction et de l'administration")
        expect(accounts).to_contain_text("Nour Saïdi")
        page.screenshot(path=artifacts / "admin-1-accounts.png", full_page=True)
    finally:
        context.close()

    [mail] = outbox(db, "account_invitation")
    send_outbound(db, mail.id)
    db.commit()
    [received] = smtp.to("nour.saidi@reaap.test")
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https://parentalites\.test/connexion/invitation/\S+", text).group(0)

    invited = browser.new_context(**PHONE, locale="fr-FR")
    page = invited.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(local(link, live_server))
        expect(page.get_by_role("heading", level=1)).to_have_text("Bienvenue dans l'équipe de la lettre")
        page.get_by_label("Nouveau mot de passe").fill("une phrase facile à retenir")
        page.get_by_label("Confirmez le mot de passe").fill("une phrase facile à retenir")
        page.get_by_role("button", name="Enregistrer et entrer").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Rédaction")
        page.screenshot(path=artifacts / "admin-2-invited-editor-phone.png", full_page=True)
    finally:
        invited.close()
    db.expire_all()
    nour = db.scalar(select(User).where(User.email == "nour.saidi@reaap.test"))
    assert nour.role is Role.editor and nour.password_hash and nour.last_login_at


def test_the_back_office_pages_at_desktop_and_phone_width(browser, live_server, db, world, artifacts,
                                                           captured_jobs):
    from playwright.sync_api import expect
    admin = create_user(db, "admin@reaap.test", "Inès Admin", Role.admin, "mdp-admin-123")
    journal.record(db, admin, "account.role_changed", "Rôle de Claire Martin <redaction@reaap.test> : "
                   "rédaction → administration", target=f"user:{world['editor'].id}")
    journal.record(db, world["editor"], "contribution.accepted", "Contribution acceptée : « Café des parents » "
                   "(Centre social Les Tilleuls)", target="contribution:12")
    db.commit()
    for name, options in (("desktop", {"viewport": {"width": 1280, "height": 900}}), ("phone", PHONE)):
        context = browser.new_context(**options, locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            log_in(page, live_server, "admin@reaap.test", "mdp-admin-123")
            page.goto(live_server + "/redaction/modeles/event_reminder")
            page.get_by_role("button", name="Aperçu").click()
            expect(page.get_by_role("heading", name="Aperçu avec des valeurs d'exemple")).to_be_visible()
            page.screenshot(path=artifacts / f"admin-3-email-text-{name}.png", full_page=True)
            page.get_by_label("Texte").fill("Bonjour {{ inconnu }}")
            page.get_by_role("button", name="Enregistrer").click()
            expect(page.locator("#error-summary")).to_contain_text("variable inconnue « inconnu »")
            page.screenshot(path=artifacts / f"admin-4-email-text-error-{name}.png", full_page=True)
            page.goto(live_server + "/redaction/fiches/import/")
            page.get_by_label("Fichier des fiches action").set_input_files(str(FIXTURES / "actions_sample.csv"))
            page.get_by_role("button", name="Voir ce que l'import fera").click()
            expect(page.get_by_role("table", name="Fiches refusées, avec leur ligne et la raison")).to_contain_text(
                "pas de titre")
            page.screenshot(path=artifacts / f"admin-5-fiche-import-{name}.png", full_page=True)
            page.goto(live_server + "/redaction/journal/")
            expect(page.get_by_role("heading", level=1)).to_have_text("Journal")
            page.screenshot(path=artifacts / f"admin-6-journal-{name}.png", full_page=True)
            page.goto(live_server + "/redaction/comptes/")
            page.screenshot(path=artifacts / f"admin-7-accounts-{name}.png", full_page=True)
            # No horizontal scrolling of the page itself on a phone.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        finally:
            context.close()
