"""A subscriber, in a real browser on a phone, reads and downloads their data from their own page,
then erases it: one confirmation step, the POST with its CSRF token, and the link dies."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from core.db import utcnow
from subscribers import services
from subscribers.models import PrivacyRequest, Subscriber, SubscriberStatus
from tests.browser.helpers import PHONE
from tests.integration.helpers import make_event

EMAIL = "camille.rgpd@example.org"


def test_a_subscriber_downloads_then_erases_their_data(browser, live_server, db, artifacts, captured_jobs):
    from playwright.sync_api import expect
    sub = Subscriber(email=EMAIL, name="Camille Données", structure_name="EVS du Parc", status=SubscriberStatus.active,
                     confirmed_at=utcnow(), topics=["clas"], commune="Pantin")
    db.add(sub)
    db.flush()
    services.record_consent(db, sub, "subscribe", services.Request(ip="203.0.113.9", user_agent="Firefox"))
    db.commit()
    from events import services as events
    events.register(db, make_event(db), "Camille Données", EMAIL, consent=True)
    db.commit()
    token = sub.unsubscribe_token

    context = browser.new_context(**PHONE, locale="fr-FR", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server}/preferences/{token}")
        page.get_by_role("link", name="Télécharger mes données").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mes données")
        for text in (EMAIL, "EVS du Parc", "203.0.113.9", "Soirée-rencontre du Réaap"):
            expect(page.get_by_text(text).first).to_be_visible()
        page.screenshot(path=artifacts / "phone-privacy-1-my-data.png", full_page=True)

        with page.expect_download() as info:
            page.get_by_role("link", name="Télécharger mes données (JSON)").click()
        download = info.value
        assert download.suggested_filename == "mes-donnees-parentalites.json"
        data = json.loads(download.path().read_text(encoding="utf-8"))
        assert data["subscriber"]["email"] == EMAIL
        assert data["consents"][0]["ip"] == "203.0.113.9" and data["registrations"][0]["name"] == "Camille Données"

        page.get_by_role("link", name="Effacer mes données").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Effacer mes données")
        page.screenshot(path=artifacts / "phone-privacy-2-confirm.png", full_page=True)
        db.expire_all()
        assert db.scalar(select(func.count(Subscriber.id))) == 1  # nothing yet
        page.get_by_role("button", name="Effacer définitivement mes données").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Vos données sont effacées")
        page.screenshot(path=artifacts / "phone-privacy-3-erased.png", full_page=True)

        db.expire_all()
        assert db.scalar(select(func.count(Subscriber.id))) == 0
        assert [(r.kind, r.channel) for r in db.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id))] == [
            ("export", "web"), ("export", "web"), ("erase", "web")]
        # The link died with the data.
        response = page.goto(f"{live_server}/preferences/{token}/effacer")
        assert response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Lien non valable")
    finally:
        context.close()
