"""The editor's cockpit on content, in a real browser (Debian's Chromium, CSRF on, PostgreSQL):
the editor corrects a partner's text (the history shows the diff), places the network's soirée
in the Agenda of a letter with the keyboard, and the composer's e-mail preview shows it with its
« S'inscrire » link. Screenshots at desktop and phone width go to tests/artifacts/."""
from __future__ import annotations

import re
from datetime import date

from contributions import services
from contributions.models import ContributionKind as K
from newsletter import issues
from tests.browser.helpers import PHONE, log_in
from tests.integration.helpers import make_event


def test_editor_edits_a_partners_text_and_places_the_networks_soiree_in_the_agenda(
        browser, live_server, db, world, captured_jobs, artifacts):
    from playwright.sync_api import expect
    c = services.create(db, world["partner"], services.ContributionData(
        kind=K.actualite, title="Café des parents", body_md="Tous les mardis au centre, venez nombreux !!!"))
    soiree = make_event(db, days=21, title="Soirée-rencontre : parents d'ados", place="Maison des parents",
                        address="3 rue Voltaire, Bobigny")
    issue = issues.create_issue(db, world["editor"], 7, "Lettre de décembre", date(2026, 12, 10))
    db.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, live_server, "redaction@reaap.test", "mdp-redaction")
        # 1. The editor opens the submission and corrects the text.
        page.goto(f"{live_server}/redaction/moderation/{c.id}")
        page.get_by_role("link", name="Modifier le texte").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Modifier : Café des parents")
        page.screenshot(path=str(artifacts / "content-edit-desktop.png"), full_page=True)
        page.get_by_label("Texte", exact=True).fill("Tous les mardis au centre social : venez nombreux !")
        page.get_by_role("button", name="Enregistrer les modifications").click()
        expect(page.get_by_text("Modifications enregistrées.")).to_be_visible()
        history = page.locator(".revision-diff").first
        expect(history.locator("ins")).to_contain_text(["social"])
        expect(history.locator("del").first).to_contain_text("supprimé")
        page.screenshot(path=str(artifacts / "content-history-desktop.png"), full_page=True)
        # 2. Accepted: it will be placed; then the soirée goes to the Agenda, by keyboard.
        page.get_by_label("Accepter").check()
        page.get_by_role("button", name="Enregistrer la décision").click()
        page.goto(f"{live_server}/redaction/numeros/{issue.id}")
        add = page.get_by_role("button", name=f"Ajouter « {soiree.title} » à l'Agenda")
        add.focus()
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(page.get_by_text("ajouté à l'Agenda")).to_be_visible()
        summary = page.locator("#sommaire").locator("..")
        expect(summary.get_by_role("heading", name="Agenda")).to_be_visible()
        expect(summary).to_contain_text(soiree.title)
        page.get_by_role("button", name="Ajouter « Café des parents » au numéro").click()
        page.screenshot(path=str(artifacts / "content-composer-desktop.png"), full_page=True)
        # 3. The composer's e-mail preview shows the soirée with its registration link.
        page.goto(f"{live_server}/redaction/numeros/{issue.id}/apercu/email")
        expect(page.get_by_role("heading", name=soiree.title)).to_be_visible()
        expect(page.get_by_text("Maison des parents", exact=False)).to_be_visible()
        link = page.get_by_role("link", name=re.compile("^S'inscrire"))
        expect(link).to_have_attribute("href", re.compile(rf"/agenda/{soiree.id}/$"))
        expect(page.get_by_text("centre social : venez nombreux")).to_be_visible()
        page.screenshot(path=str(artifacts / "content-letter-preview-desktop.png"), full_page=True)
        phone = browser.new_context(**PHONE, locale="fr-FR")
        small = phone.new_page()
        log_in(small, live_server, "redaction@reaap.test", "mdp-redaction")
        for name, path in [("composer", f"/redaction/numeros/{issue.id}"),
                           ("edit", f"/redaction/contributions/{c.id}/modifier"),
                           ("history", f"/redaction/moderation/{c.id}"),
                           ("letter-preview", f"/redaction/numeros/{issue.id}/apercu/email")]:
            small.goto(live_server + path)
            assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
            small.screenshot(path=str(artifacts / f"content-{name}-phone.png"), full_page=True)
        phone.close()
    finally:
        context.close()


def test_an_admin_renames_and_moves_a_rubrique_with_the_keyboard(browser, live_server, db, world, artifacts):
    from playwright.sync_api import expect

    from accounts.auth import create_user
    from accounts.models import Role
    create_user(db, "admin@reaap.test", "Nadia Admin", Role.admin, "mdp-admin")
    db.commit()
    for name, options in [("desktop", {"viewport": {"width": 1280, "height": 900}}), ("phone", PHONE)]:
        context = browser.new_context(**options, locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            log_in(page, live_server, "admin@reaap.test", "mdp-admin")
            page.goto(live_server + "/redaction/")
            page.get_by_role("link", name="Rubriques de la lettre").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Rubriques de la lettre")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
            page.screenshot(path=str(artifacts / f"content-rubriques-{name}.png"), full_page=True)
            page.goto(live_server + "/redaction/contributions/nouvel-article/evenement")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
            page.screenshot(path=str(artifacts / f"content-new-article-{name}.png"), full_page=True)
        finally:
            context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    try:
        log_in(page, live_server, "admin@reaap.test", "mdp-admin")
        page.goto(live_server + "/redaction/rubriques/")
        label = page.get_by_label("Nom de la rubrique n°5")
        label.fill("Agenda du réseau")
        label.press("Enter")  # submits its own form
        expect(page.get_by_text("Rubrique renommée « Agenda du réseau »")).to_be_visible()
        page.get_by_role("button", name="Monter « Agenda du réseau »").focus()
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(page.get_by_label("Nom de la rubrique n°4")).to_have_value("Agenda du réseau")
    finally:
        context.close()
