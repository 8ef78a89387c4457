"""A partner and an editor in a real browser (Debian's Chromium through Playwright), on the real
app served over HTTP with CSRF on, PostgreSQL behind it:

the partner submits a fiche action with an image → the editor requests changes with a comment →
the partner reads the comment, edits and resubmits → the editor accepts → the partner sees
"Acceptée" and the whole history.
"""
from __future__ import annotations

from PIL import Image
from sqlalchemy import select

from contributions.models import Contribution
from contributions.models import ContributionStatus as S
from mailing.models import OutboundEmail
from tests.browser.helpers import PHONE, log_in


def png_file(tmp_path):
    """A real PNG made for the test (a gradient, so that re-encoding has something to do)."""
    image = Image.new("RGB", (1600, 900))
    image.putdata([(x % 256, (x // 7) % 256, 120) for x in range(1600)] * 900)
    path = tmp_path / "atelier-parents.png"
    image.save(path, "PNG")
    return path



def test_partner_submits_a_fiche_action_editor_asks_changes_then_accepts(
        browser, live_server, db, world, captured_jobs, artifacts, tmp_path):
    from playwright.sync_api import expect
    image_path = png_file(tmp_path)
    partner_ctx = browser.new_context(**PHONE, locale="fr-FR")
    editor_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    partner, editor = partner_ctx.new_page(), editor_ctx.new_page()
    for page in (partner, editor):
        page.set_default_timeout(15_000)
    try:
        # 1. The partner chooses "Fiche action", fills it in and attaches an image.
        log_in(partner, live_server, "amina@tilleuls.test", "mdp-partenaire")
        partner.goto(live_server + "/partenaires/")
        partner.get_by_role("link", name="Proposer une contribution").first.click()
        partner.get_by_role("link", name="Fiche action").click()
        expect(partner.get_by_role("heading", level=1)).to_have_text("Proposer : Fiche action")
        partner.get_by_label("Nom de l'action").fill("Café des parents du samedi")
        partner.get_by_label("Année").fill("2026")
        partner.get_by_label("En cours").check()
        partner.get_by_label("Mots clés").fill("Parentalité, Lien social")
        partner.get_by_label("Résumé").fill("Un **café** pour les parents, chaque samedi matin.")
        partner.get_by_label("Territoire concerné").select_option("Un quartier")
        partner.get_by_label("Public", exact=True).fill("Parents\nGrands-parents")
        partner.get_by_label("Ajouter une image ou un PDF (facultatif)").set_input_files(str(image_path))
        partner.get_by_label("Description de l'image (texte alternatif)").fill(
            "Des parents autour d'une table au centre social")
        partner.screenshot(path=artifacts / "contribution-1-form.png", full_page=True)
        partner.get_by_role("button", name="Envoyer à la rédaction").click()
        expect(partner.get_by_role("status").first).to_contain_text("envoyée à la rédaction")
        expect(partner.get_by_text("En attente de relecture").first).to_be_visible()
        image = partner.get_by_role("img", name="Des parents autour d'une table au centre social")
        expect(image).to_be_visible()
        assert partner.evaluate("(img) => img.naturalWidth", image.element_handle()) == 1200

        contribution = db.scalar(select(Contribution))
        assert contribution.status is S.submitted and contribution.fiche.keywords == ["Parentalité", "Lien social"]
        assert contribution.fiche.public == ["Parents", "Grands-parents"]
        [stored] = contribution.files
        assert stored.kind == "image" and stored.width == 1200

        # 2. The editor finds it in the queue (waiting longest first) and asks for changes.
        log_in(editor, live_server, "redaction@reaap.test", "mdp-redaction")
        editor.goto(live_server + "/redaction/moderation/?type=fiche_action")
        editor.get_by_role("link", name="Café des parents du samedi").click()
        expect(editor.get_by_role("img", name="Des parents autour d'une table au centre social")).to_be_visible()
        expect(editor.get_by_text("Un quartier")).to_be_visible()
        editor.get_by_label("Demander des modifications").check()
        editor.get_by_label("Commentaire pour le partenaire").fill("Précisez les horaires et le lieu, s'il vous plaît.")
        editor.get_by_role("button", name="Enregistrer la décision").click()
        expect(editor.get_by_role("status").first).to_contain_text("Modifications demandées")

        # 3. The partner reads the comment, edits and sends again.
        partner.reload()
        expect(partner.get_by_text("Précisez les horaires et le lieu, s'il vous plaît.").first).to_be_visible()
        partner.screenshot(path=artifacts / "contribution-2-changes-requested.png", full_page=True)
        partner.get_by_role("link", name="Modifier et renvoyer").click()
        expect(partner.get_by_label("Nom de l'action")).to_have_value("Café des parents du samedi")
        partner.get_by_label("Contact").fill("Amina, 01 23 45 67 89")
        partner.get_by_label("Résumé").fill("Un **café** pour les parents, chaque samedi de 10 h à 12 h, "
                                            "au centre social, 12 rue des Lilas.")
        partner.get_by_role("button", name="Envoyer à la rédaction").click()
        expect(partner.get_by_text("En attente de relecture").first).to_be_visible()

        # 4. The editor accepts.
        editor.goto(live_server + f"/redaction/moderation/{contribution.id}")
        expect(editor.get_by_text("10 h à 12 h")).to_be_visible()
        editor.get_by_label("Accepter").check()
        editor.get_by_role("button", name="Enregistrer la décision").click()
        expect(editor.get_by_role("status").first).to_contain_text("Acceptée")

        # 5. The partner sees "Acceptée" and the whole history.
        partner.reload()
        expect(partner.locator(".badge").first).to_have_text("Acceptée")
        history = partner.locator("ol.history > li")
        expect(history).to_have_count(5)
        expect(history.nth(2)).to_contain_text("Modifications demandées")
        expect(history.nth(2)).to_contain_text("Claire Martin")
        expect(history.nth(2)).to_contain_text("Précisez les horaires")
        expect(history.nth(4)).to_contain_text("Acceptée")
        partner.screenshot(path=artifacts / "contribution-3-accepted.png", full_page=True)
        width = partner.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the contribution page overflows on a phone: {width}px"

        db.expire_all()
        contribution = db.get(Contribution, contribution.id)
        assert [t.to_status for t in contribution.transitions] == [
            "draft", "submitted", "changes_requested", "submitted", "accepted"]
        mails = list(db.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))
        assert [m.to_addr for m in mails] == ["amina@tilleuls.test"] * 2
    finally:
        partner_ctx.close()
        editor_ctx.close()
