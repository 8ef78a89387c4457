"""An editor imports the network's list in a real browser: upload a CSV, read the preview (counts,
refused rows with their line and reason), confirm, see the result; the list holds what was shown."""
from __future__ import annotations

from sqlalchemy import func, select

from subscribers.models import Subscriber, SubscriberStatus

CSV = ("email;nom;thèmes;base légale;date du consentement\n"
       "anne@example.org;Anne Roy;Réaap;;12/03/2024\n"
       "bruno@example.org;Bruno Petit;CLAS;intérêt légitime;\n"
       "chloe@example.org;Chloé Martin;;;\n"
       "pas-une-adresse;Dora;;;\n")


def test_an_editor_imports_a_csv_preview_confirm_result(browser, live_server, db, world, artifacts, tmp_path,
                                                       captured_jobs):
    from playwright.sync_api import expect
    path = tmp_path / "reseau.csv"
    path.write_text(CSV, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(live_server + "/connexion")
        page.get_by_label("Adresse e-mail").fill("redaction@reaap.test")
        page.get_by_label("Mot de passe").fill("mdp-redaction")
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_role("link", name="Importer des abonnés (CSV)").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Importer des abonnés")

        page.get_by_label("Fichier CSV").set_input_files(str(path))
        page.get_by_role("button", name="Voir ce que l'import fera").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Aperçu de l'import de reseau.csv")
        expect(page.get_by_role("listitem").filter(has_text="nouveaux abonnés")).to_have_text(
            "3 nouveaux abonnés (2 actifs, 1 en attente de confirmation)")
        refused = page.get_by_role("table", name="Lignes refusées, avec leur numéro et la raison")
        expect(refused.get_by_role("row")).to_have_count(2)  # the header and line 5
        expect(refused).to_contain_text("5")
        expect(refused).to_contain_text("il faut exactement un « @ »")
        page.screenshot(path=artifacts / "import-1-preview.png", full_page=True)
        assert db.scalar(select(func.count(Subscriber.id))) == 0  # nothing before the confirmation

        page.get_by_role("button", name="Confirmer l'import").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Import de reseau.csv terminé")
        expect(page.get_by_role("status")).to_contain_text("3 nouveaux abonnés")
        page.screenshot(path=artifacts / "import-2-result.png", full_page=True)
    finally:
        context.close()
    db.expire_all()
    statuses = dict(db.execute(select(Subscriber.email, Subscriber.status)).all())
    assert statuses == {"anne@example.org": SubscriberStatus.active, "bruno@example.org": SubscriberStatus.active,
                        "chloe@example.org": SubscriberStatus.pending}
