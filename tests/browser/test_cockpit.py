"""Issue 11 end to end, in a real browser (Debian's Chromium, CSRF on, PostgreSQL, real SMTP):
an admin sets the logo, the colour and the publisher, and invites an editor; the editor joins,
corrects a partner's text, places the network's soirée in the Agenda, adds a banner, looks at the
phone-width preview and sends a test; the test letter received over SMTP shows all of it."""
from __future__ import annotations

import re
from datetime import date

from PIL import Image

from accounts.auth import create_user
from accounts.models import Role
from contributions import services
from contributions.models import ContributionKind as K
from mailing.outbox import send_outbound
from newsletter import issues
from tests.browser.helpers import PHONE, local, log_in
from tests.integration.helpers import make_event, outbox

BANNER_ALT = "Bannière : la soirée des parents d'ados"



def deliver(db, smtp, template, address):
    for mail in outbox(db, template):
        if mail.to_addr == address:
            send_outbound(db, mail.id)
    db.commit()
    [received] = smtp.to(address)
    return received.message


def test_an_admin_sets_up_and_invites_an_editor_who_shapes_the_letter_and_sends_a_test(
        browser, live_server, db, world, smtp, captured_jobs, artifacts, tmp_path):
    from playwright.sync_api import expect
    create_user(db, "admin@reaap.test", "Inès Admin", Role.admin, "mdp-admin-123")
    c = services.create(db, world["partner"], services.ContributionData(
        kind=K.actualite, title="Café des parents", body_md="Tous les mardis au centre, venez nombreux !!!"))
    soiree = make_event(db, days=21, title="Soirée-rencontre : parents d'ados", place="Maison des parents",
                        address="3 rue Voltaire, Bobigny")
    issue = issues.create_issue(db, world["editor"], 4, "Lettre de décembre", date(2026, 12, 10), "Bonne lecture.")
    db.commit()
    logo = tmp_path / "logo.png"
    Image.new("RGB", (400, 100), (255, 255, 255)).save(logo, "PNG")
    banner = tmp_path / "banniere.png"
    Image.new("RGB", (1200, 300), (240, 180, 60)).save(banner, "PNG")

    # 1. The admin: logo, colour, publisher; then an invitation.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, live_server, "admin@reaap.test", "mdp-admin-123")
        page.goto(live_server + "/redaction/parametres")
        page.get_by_label("Directeur ou directrice de la publication").fill("Marie Dupont")
        page.get_by_label("Couleur principale").fill("#1d4e89")
        page.get_by_label("Logo").set_input_files(str(logo))
        page.get_by_role("button", name="Enregistrer les paramètres").click()
        expect(page.get_by_role("status")).to_contain_text("Paramètres enregistrés")
        page.goto(live_server + "/redaction/comptes/")
        page.get_by_label("Adresse e-mail").fill("nour.saidi@reaap.test")
        page.get_by_label("Nom et prénom").fill("Nour Saïdi")
        page.get_by_label("Rôle", exact=True).select_option("editor")
        page.get_by_role("button", name="Envoyer l'invitation").click()
        expect(page.get_by_role("alert").or_(page.locator(".alert-success"))).to_contain_text(
            "Invitation envoyée à nour.saidi@reaap.test")
    finally:
        ctx.close()

    invitation = deliver(db, smtp, "account_invitation", "nour.saidi@reaap.test")
    link = re.search(r"https://parentalites\.test/connexion/invitation/\S+",
                     invitation.get_body(preferencelist=("plain",)).get_content()).group(0)

    # 2. The new editor joins, corrects the partner's text, places the soirée, adds a banner.
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(local(link, live_server))
        page.get_by_label("Nouveau mot de passe").fill("une phrase facile à retenir")
        page.get_by_label("Confirmez le mot de passe").fill("une phrase facile à retenir")
        page.get_by_role("button", name="Enregistrer et entrer").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Rédaction")

        page.goto(f"{live_server}/redaction/moderation/{c.id}")
        page.get_by_role("link", name="Modifier le texte").click()
        page.get_by_label("Texte", exact=True).fill("Tous les mardis au centre social : venez nombreux !")
        page.get_by_role("button", name="Enregistrer les modifications").click()
        expect(page.get_by_text("Modifications enregistrées.")).to_be_visible()
        page.get_by_label("Accepter").check()
        page.get_by_role("button", name="Enregistrer la décision").click()

        page.goto(f"{live_server}/redaction/numeros/{issue.id}")
        page.get_by_role("button", name=f"Ajouter « {soiree.title} » à l'Agenda").click()
        expect(page.get_by_text("ajouté à l'Agenda")).to_be_visible()
        page.get_by_role("button", name="Ajouter « Café des parents » au numéro").click()
        page.locator("#ajouter-banner summary").click()
        form = page.locator("#ajouter-banner form")
        form.get_by_label("Emplacement").select_option("top")
        form.get_by_label("Image de la bannière").set_input_files(str(banner))
        form.get_by_label("Texte alternatif de l'image").fill(BANNER_ALT)
        form.get_by_role("button", name="Ajouter le bloc").click()
        expect(page.get_by_role("status")).to_contain_text("ajouté")

        # 3. The phone-width preview beside the desktop one shows the banner and the soirée.
        phone = page.frame_locator("iframe[title=\"Aperçu de l'e-mail sur téléphone\"]")
        expect(phone.locator(f"img[alt=\"{BANNER_ALT}\"]")).to_be_visible()
        expect(phone.get_by_role("heading", name=soiree.title)).to_be_visible()
        assert phone.locator(f"img[alt=\"{BANNER_ALT}\"]").evaluate("e => e.getBoundingClientRect().right") <= 375
        page.locator("#apercu-cote").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "cockpit-composer.png"))

        # 4. A test to the editor's own proofreading address.
        page.get_by_label("Adresse de test").fill("relecture@example.org")
        page.get_by_role("button", name="Envoyer un test").click()
        page.wait_for_load_state()
        page.screenshot(path=str(artifacts / "cockpit-test-sent.png"))
        expect(page.get_by_text("Envoi de test parti vers relecture@example.org")).to_be_visible()
    finally:
        ctx.close()

    phone_ctx = browser.new_context(**PHONE, locale="fr-FR")
    small = phone_ctx.new_page()
    try:
        log_in(small, live_server, "nour.saidi@reaap.test", "une phrase facile à retenir")
        small.goto(f"{live_server}/redaction/numeros/{issue.id}/apercu/email")
        assert small.evaluate("() => document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
        small.screenshot(path=str(artifacts / "cockpit-letter-phone.png"), full_page=True)
    finally:
        phone_ctx.close()

    # 5. The test letter, as received over SMTP, shows all of it.
    letter = deliver(db, smtp, "letter", "relecture@example.org")
    html = letter.get_body(("html",)).get_content()
    text = letter.get_body(("plain",)).get_content()
    assert letter["Subject"].startswith("[TEST] ")
    assert "https://parentalites.test/site/logo/" in html                  # the logo
    assert "#1d4e89" in html.lower()                                        # the colour
    assert "Marie Dupont" in html and "Marie Dupont" in text                # the publisher
    assert f'alt="{BANNER_ALT}"'.replace("'", "&#39;") in html or f'alt="{BANNER_ALT}"' in html  # the banner
    assert soiree.title.replace("'", "&#39;") in html or soiree.title in html  # the soirée in the Agenda
    assert f"/agenda/{soiree.id}/" in html and "S'inscrire" in text
    assert "centre social : venez nombreux" in html                         # the editor's correction
    assert "venez nombreux !!!" not in html
    assert html.index("Au sommaire") < html.index("Café des parents")       # table of contents first
