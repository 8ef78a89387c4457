"""A real browser on the real stack (Chromium, the Flask app with CSRF on, a Celery worker, Redis,
PostgreSQL, aiosmtpd): the last seat of an event is taken, the next person is waitlisted, the first
cancels through the link of their confirmation e-mail, and the second is promoted and told."""
from __future__ import annotations

import re
from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import select

from core.db import utcnow
from events import services
from events.models import Registration, RegistrationStatus
from tests.browser.helpers import BASE_URL, PHONE, local
from tests.integration.helpers import make_event, wait_for

FIRST = "ines.soiree@example.org"
SECOND = "paul.soiree@example.org"


def status_of(db, email: str) -> RegistrationStatus:
    db.expire_all()
    return db.scalar(select(Registration.status).where(Registration.email == email,
                                                       Registration.status != RegistrationStatus.cancelled)
                     ) or RegistrationStatus.cancelled


def register_in_browser(page, server: str, event_id: int, name: str, email: str, button: str) -> None:
    page.goto(f"{server}/agenda/{event_id}/")
    page.get_by_label("Nom et prénom").fill(name)
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Structure (facultatif)").fill("Centre social Les Tilleuls")
    page.get_by_label(re.compile(r"^J'accepte que mes coordonnées")).check()
    page.get_by_role("button", name=button, exact=True).click()


def test_last_seat_waitlist_cancel_from_the_email_and_promotion(
        browser, live_server, db, smtp, celery_worker, artifacts):
    from playwright.sync_api import expect
    start = (utcnow() + timedelta(days=12)).replace(microsecond=0)
    event = make_event(db, capacity=2, title="Soirée-rencontre du Réaap : les écrans en famille",
                       starts_at=start, ends_at=start + timedelta(hours=2))
    services.register(db, event, "Déjà inscrite", "deja.soiree@example.org", consent=True)  # one seat left
    db.commit()

    context = browser.new_context(**PHONE, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        # 1. The first person takes the last seat.
        page.goto(f"{live_server}/agenda/{event.id}/")
        expect(page.get_by_text("1 place(s) restante(s) sur 2")).to_be_visible()
        register_in_browser(page, live_server, event.id, "Inès Martin", FIRST, "M'inscrire")
        # The same answer for everyone (issue 13 item 12): the status and the link go by e-mail.
        expect(page.get_by_text(re.compile("Un e-mail vient de partir vers cette adresse"))).to_be_visible()
        page.screenshot(path=artifacts / "event-1-confirmed.png", full_page=True)
        assert status_of(db, FIRST) is RegistrationStatus.confirmed

        # 2. The second is waitlisted (another visitor: a fresh browser context).
        other = browser.new_context(**PHONE, locale="fr-FR")
        other_page = other.new_page()
        other_page.set_default_timeout(15_000)
        other_page.goto(f"{live_server}/agenda/{event.id}/")
        expect(other_page.get_by_text("Complet — inscription en liste d'attente").first).to_be_visible()
        register_in_browser(other_page, live_server, event.id, "Paul Durand", SECOND, "M'inscrire en liste d'attente")
        expect(other_page.get_by_text(re.compile("Un e-mail vient de partir vers cette adresse"))).to_be_visible()
        other_page.screenshot(path=artifacts / "event-2-waitlisted.png", full_page=True)
        other.close()
        assert status_of(db, SECOND) is RegistrationStatus.waitlisted

        # 3. The confirmation e-mail, sent by the worker: the invitation and the self-service link.
        [confirmation] = wait_for(lambda: smtp.to(FIRST), 60, message="the confirmation e-mail")
        message = confirmation.message
        [invitation] = list(message.iter_attachments())
        assert invitation.get_content_type() == "text/calendar" and invitation.get_param("method") == "REQUEST"
        assert str(Calendar.from_ical(invitation.get_content()).walk("VEVENT")[0]["UID"]) == event.uid
        text = message.get_body(("plain",)).get_content()
        links = re.findall(re.escape(BASE_URL) + r"/agenda/inscription/\S+", text)
        assert len(set(links)) == 1, text

        # 4. The first person cancels through that link (GET shows, the button POSTs).
        page.goto(local(links[0], live_server))
        expect(page.get_by_role("heading", level=1)).to_have_text("Votre inscription")
        assert status_of(db, FIRST) is RegistrationStatus.confirmed
        page.get_by_role("button", name="Annuler mon inscription").click()
        expect(page.get_by_text("Votre inscription est annulée. Merci de nous avoir prévenus.")).to_be_visible()
        page.screenshot(path=artifacts / "event-3-cancelled.png", full_page=True)
        assert status_of(db, FIRST) is RegistrationStatus.cancelled

        # 5. The second is promoted, and told by e-mail with their invitation.
        assert status_of(db, SECOND) is RegistrationStatus.confirmed

        def promoted():
            return [m for m in smtp.to(SECOND) if "Une place s'est libérée" in m.message["Subject"]]
        [mail] = wait_for(promoted, 60, message="the promotion e-mail")
        assert "/agenda/inscription/" in mail.message.get_body(("plain",)).get_content()
        [attachment] = list(mail.message.iter_attachments())
        assert attachment.get_content_type() == "text/calendar"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the registration page overflows on a phone: {width}px"
    finally:
        context.close()


def test_editor_marks_attendance_without_javascript_on_a_phone(
        browser, live_server, db, world, artifacts, captured_jobs):
    from playwright.sync_api import expect
    event = make_event(db, capacity=3, title="Rencontre des référents CLAS")
    came = services.register(db, event, "Inès Martin", "ines@example.org", "CLAS Bondy", "Référente CLAS",
                             "", 1, consent=True)
    absent = services.register(db, event, "Paul Durand", "paul@example.org", "EVS du Pont", "Parent",
                               "", 2, consent=True)
    db.commit()
    context = browser.new_context(**PHONE, locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(live_server + "/connexion")
        page.get_by_label("Adresse e-mail").fill("redaction@reaap.test")
        page.get_by_label("Mot de passe").fill("mdp-redaction")
        page.get_by_role("button", name="Se connecter").click()
        page.goto(f"{live_server}/redaction/evenements/{event.id}/inscriptions")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Inscriptions")
        page.get_by_label("Inès Martin est venu·e").check()
        page.get_by_role("button", name="Enregistrer les présences").click()
        expect(page.get_by_text("Présences enregistrées (2 modification(s)).")).to_be_visible()
        page.screenshot(path=artifacts / "phone-event-registrations.png", full_page=True)
        for path in (f"/redaction/evenements/{event.id}/inscriptions", f"/redaction/evenements/{event.id}/",
                     "/redaction/evenements/", f"/redaction/evenements/{event.id}/emargement"):
            page.goto(live_server + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} overflows horizontally on a phone: {width}px"
    finally:
        context.close()
    db.expire_all()
    assert (db.get(Registration, came.id).attended, db.get(Registration, absent.id).attended) == (True, False)
