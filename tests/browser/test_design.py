"""Issue 11, items 3 and 4, in a real browser (Debian's Chromium, CSRF on): an admin sets the
primary colour and the logo in /redaction/parametres; an editor adds a banner to the letter and
sees the e-mail at phone width beside the desktop one. Screenshots in tests/artifacts/."""
from __future__ import annotations

from datetime import date

from PIL import Image

from accounts.auth import create_user
from accounts.models import Role
from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from newsletter import issues
from tests.browser.helpers import PHONE, log_in


def image_file(tmp_path, name, size, colour):
    path = tmp_path / name
    Image.new("RGB", size, colour).save(path, "PNG")
    return path


def test_admin_sets_colour_and_logo_then_editor_adds_a_banner_and_previews_on_a_phone(
        browser, live_server, db, world, captured_jobs, artifacts, tmp_path):
    from playwright.sync_api import expect
    create_user(db, "admin@reaap.test", "Alex Admin", Role.admin, "mdp-administration")
    issue = issues.create_issue(db, world["editor"], 1, "Lettre d'hiver", date(2026, 12, 1), "Bonne lecture.")
    c = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title="Atelier goûter", body_md="Un goûter partagé.",
        link="https://exemple.org/gouter"))
    contributions.decide(db, world["editor"], c, S.accepted)
    issues.add_item(db, issue, c, "actualites")
    db.commit()
    logo = image_file(tmp_path, "logo.png", (400, 100), (255, 255, 255))
    banner = image_file(tmp_path, "banniere.png", (1200, 300), (240, 180, 60))

    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    admin = admin_ctx.new_page()
    admin.set_default_timeout(15_000)
    try:
        log_in(admin, live_server, "admin@reaap.test", "mdp-administration")
        admin.goto(live_server + "/redaction/parametres")
        # Too light first: refused with the computed ratio, nothing lost.
        admin.get_by_label("Directeur ou directrice de la publication").fill("Marie Dupont")
        admin.get_by_label("Couleur principale").fill("#999999")
        admin.get_by_role("button", name="Enregistrer les paramètres").click()
        expect(admin.locator("#error-summary")).to_contain_text("2,85:1")
        expect(admin.get_by_label("Directeur ou directrice de la publication")).to_have_value("Marie Dupont")
        admin.get_by_label("Couleur principale").fill("#1d4e89")
        expect(admin.locator("#contrast-ratio")).to_have_text("#1d4e89 : 8,39:1 ✓")  # before saving
        admin.get_by_label("Logo").set_input_files(str(logo))
        admin.get_by_role("button", name="Enregistrer les paramètres").click()
        expect(admin.get_by_role("status")).to_contain_text("Paramètres enregistrés")
        expect(admin.locator(".brand-preview img")).to_be_visible()
        background = admin.locator(".brand-preview").evaluate("e => getComputedStyle(e).backgroundColor")
        assert background == "rgb(29, 78, 137)"
        admin.screenshot(path=str(artifacts / "design-settings-desktop.png"), full_page=True)
    finally:
        admin_ctx.close()

    editor_ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    editor = editor_ctx.new_page()
    editor.set_default_timeout(15_000)
    try:
        log_in(editor, live_server, "redaction@reaap.test", "mdp-redaction")
        editor.goto(f"{live_server}/redaction/numeros/{issue.id}")
        editor.locator("#ajouter-banner summary").click()
        form = editor.locator("#ajouter-banner form")
        form.get_by_label("Emplacement").select_option("top")
        form.get_by_label("Image de la bannière").set_input_files(str(banner))
        form.get_by_label("Texte alternatif de l'image").fill("Bannière de la journée des porteurs de projet")
        form.get_by_role("button", name="Ajouter le bloc").click()
        expect(editor.get_by_role("status")).to_contain_text("Bloc « Bannière (image) » ajouté")
        # The two previews, side by side: 600 px and 375 px wide.
        phone = editor.frame_locator("iframe[title=\"Aperçu de l'e-mail sur téléphone\"]")
        desktop = editor.frame_locator("iframe[title=\"Aperçu de l'e-mail sur ordinateur\"]")
        expect(phone.locator("img[alt='Bannière de la journée des porteurs de projet']")).to_be_visible()
        expect(desktop.locator("img[alt='Réseau Parentalités']")).to_be_visible()  # the logo, named by the network
        phone_box = editor.locator("iframe[title=\"Aperçu de l'e-mail sur téléphone\"]").bounding_box()
        desktop_box = editor.locator("iframe[title=\"Aperçu de l'e-mail sur ordinateur\"]").bounding_box()
        assert round(phone_box["width"]) in (375, 377) and round(desktop_box["width"]) in (600, 602)
        assert phone_box["x"] > desktop_box["x"] and abs(phone_box["y"] - desktop_box["y"]) < 5  # side by side
        # At phone width nothing overflows: the banner fits the 375 px frame.
        width = phone.locator("img[alt='Bannière de la journée des porteurs de projet']").evaluate(
            "e => e.getBoundingClientRect().right")
        assert width <= 375
        editor.locator("#apercu-cote").scroll_into_view_if_needed()
        editor.screenshot(path=str(artifacts / "design-composer-previews.png"))
    finally:
        editor_ctx.close()

    # The letter itself on a phone, as subscribers will see it.
    phone_ctx = browser.new_context(**PHONE, locale="fr-FR")
    page = phone_ctx.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, live_server, "redaction@reaap.test", "mdp-redaction")
        page.goto(f"{live_server}/redaction/numeros/{issue.id}/apercu/email")
        scroll = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll <= PHONE["viewport"]["width"]  # no sideways scrolling
        page.screenshot(path=str(artifacts / "design-letter-phone.png"), full_page=True)
        # The web version (the archive's page once sent): its table of contents, the banner, no sideways scroll.
        page.goto(f"{live_server}/redaction/numeros/{issue.id}/apercu/web")
        expect(page.get_by_role("navigation", name="Au sommaire")).to_be_visible()
        expect(page.locator("img[alt='Bannière de la journée des porteurs de projet']")).to_have_count(1)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
        page.screenshot(path=str(artifacts / "design-web-phone.png"), full_page=True)
    finally:
        phone_ctx.close()
