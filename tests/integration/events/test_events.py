"""Events: registrations (capacity in people, waitlist, promotion, duplicates, the last seat under
concurrency on PostgreSQL), the iCalendar feed, and the public agenda pages."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from core.db import utcnow
from events import services
from events.models import (
    Event,
    EventStatus,
    EventType,
    Registration,
    RegistrationStatus,
)
from tests.integration.helpers import make_event, outbox, run_concurrently

LONG_ACCENTED = ("Soirée-rencontre du Réaap : « Être parent d'adolescent·e·s aujourd'hui », échanges "
                 "entre parents, éducatrices et référent·e·s CLAS — goûter partagé, garde d'enfants "
                 "assurée, interprète en langue des signes française présente à l'accueil")


def reg(db, event, email, party_size=1, name="Parent"):
    registration = services.register(db, event, name, email, party_size=party_size, consent=True)
    db.commit()  # the request's boundary: the event's lock is released
    return registration


# --- Registration ---------------------------------------------------------------------------------

def test_capacity_counts_people_not_registrations(db, captured_jobs):
    event = make_event(db, capacity=5)
    a = reg(db, event, "a@exemple.org", party_size=3)
    b = reg(db, event, "b@exemple.org", party_size=2)
    c = reg(db, event, "c@exemple.org", party_size=1)
    assert (a.status, b.status, c.status) == (RegistrationStatus.confirmed, RegistrationStatus.confirmed,
                                              RegistrationStatus.waitlisted)
    assert services.seats_taken(db, event) == 5 and services.seats_left(db, event) == 0
    assert services.is_full(db, event)
    [mail] = [m for m in outbox(db, "event_registration") if m.to_addr == "a@exemple.org"]
    assert f"/agenda/inscription/{a.token}" in mail.text_body and "confirmée" in mail.subject


def test_a_party_that_does_not_fit_waits_and_nobody_jumps_the_queue(db, captured_jobs):
    event = make_event(db, capacity=4)
    reg(db, event, "a@exemple.org", party_size=3)
    big = reg(db, event, "b@exemple.org", party_size=2)   # 3 + 2 > 4
    small = reg(db, event, "c@exemple.org", party_size=1)  # would fit, but someone is waiting
    assert big.status is RegistrationStatus.waitlisted
    assert small.status is RegistrationStatus.waitlisted
    assert big.position < small.position


def test_cancellation_promotes_the_first_waitlisted_in_order_and_tells_them(db, captured_jobs):
    event = make_event(db, capacity=2)
    first = reg(db, event, "premier@exemple.org")
    reg(db, event, "deuxieme@exemple.org")
    w1 = reg(db, event, "attente1@exemple.org", name="Inès")
    w2 = reg(db, event, "attente2@exemple.org")
    assert (w1.status, w2.status) == (RegistrationStatus.waitlisted, RegistrationStatus.waitlisted)

    promoted = services.cancel(db, first)
    assert [r.id for r in promoted] == [w1.id]
    db.refresh(w1), db.refresh(w2), db.refresh(first)
    assert first.status is RegistrationStatus.cancelled and first.cancelled_at is not None
    assert w1.status is RegistrationStatus.confirmed and w1.promoted_at is not None
    assert w2.status is RegistrationStatus.waitlisted
    [mail] = outbox(db, "event_promoted")
    assert mail.to_addr == "attente1@exemple.org"
    assert "Inès" in mail.text_body and f"/agenda/inscription/{w1.token}" in mail.text_body
    assert services.seats_taken(db, event) == 2

    assert services.cancel(db, first) == []  # twice: nothing more
    assert len(outbox(db, "event_promoted")) == 1


def test_cancellation_of_a_large_party_promotes_several(db, captured_jobs):
    event = make_event(db, capacity=3)
    big = reg(db, event, "famille@exemple.org", party_size=3)
    w = [reg(db, event, f"w{i}@exemple.org") for i in range(4)]
    promoted = services.cancel(db, big)
    assert [r.id for r in promoted] == [w[0].id, w[1].id, w[2].id]
    assert w[3].status is RegistrationStatus.waitlisted
    assert sorted(m.to_addr for m in outbox(db, "event_promoted")) == ["w0@exemple.org", "w1@exemple.org",
                                                                       "w2@exemple.org"]


def test_registering_twice_changes_nothing(db, captured_jobs):
    event = make_event(db, capacity=10)
    first = services.register(db, event, "Marie Dupont", "Marie.Dupont@Exemple.ORG", "CLAS Bondy",
                              "Référente", "", 2, consent=True)
    again = services.register(db, event, "Autre Nom", " marie.dupont@exemple.org ", "Autre", "Autre",
                              "Fauteuil", 5, consent=True)
    assert again.id == first.id and again.already_registered
    db.expire_all()
    [only] = db.scalars(select(Registration)).all()
    assert (only.name, only.structure, only.party_size, only.accessibility_needs, only.status) == (
        "Marie Dupont", "CLAS Bondy", 2, "", RegistrationStatus.confirmed)
    assert services.seats_taken(db, event) == 2
    # Kindly: the link goes again to the address (never to the page, which anyone can fill in).
    mails = outbox(db, "event_registration")
    assert len(mails) == 2 and all(m.to_addr == "marie.dupont@exemple.org" for m in mails)


def test_a_cancelled_registration_does_not_block_a_new_one(db, captured_jobs):
    event = make_event(db, capacity=10)
    first = reg(db, event, "a@exemple.org")
    services.cancel(db, first)
    second = reg(db, event, "a@exemple.org")
    assert second.id != first.id and second.status is RegistrationStatus.confirmed


def test_registration_refused_when_closed_or_without_consent(db, captured_jobs):
    cancelled = make_event(db, status=EventStatus.cancelled)
    with pytest.raises(services.RegistrationClosed):
        reg(db, cancelled, "a@exemple.org")
    not_yet = make_event(db, registration_opens_at=utcnow() + timedelta(days=1))
    with pytest.raises(services.RegistrationClosed):
        reg(db, not_yet, "a@exemple.org")
    open_event = make_event(db)
    with pytest.raises(services.ConsentRequired):
        services.register(db, open_event, "A", "a@exemple.org", consent=False)
    with pytest.raises(services.InvalidEmail):
        reg(db, open_event, "pas-une-adresse")
    assert db.scalar(select(func.count(Registration.id))) == 0


def _race_for_the_last_seat(db, emails):
    event_id = db.scalar(select(Event.id))
    stale: dict[int, Event] = {}

    def load(session, index):  # loaded before the race: a stale view of the seats
        stale[index] = session.get(Event, event_id)

    statuses = run_concurrently(lambda session, index: reg(session, stale[index], emails[index]).status,
                                len(emails), before_barrier=load, timeout=30)
    return dict(zip(emails, statuses, strict=True))


def test_two_people_never_both_take_the_last_seat(db, captured_jobs):
    """Against PostgreSQL, two sessions in two threads released together by a barrier."""
    assert db.get_bind().dialect.name == "postgresql"
    event = make_event(db, capacity=3)
    reg(db, event, "deja@exemple.org", party_size=2)
    for round_ in range(5):  # a few rounds: the race is real, not lucky
        results = _race_for_the_last_seat(db, [f"x{round_}@exemple.org", f"y{round_}@exemple.org"])
        assert sorted(s.value for s in results.values()) == ["confirmed", "waitlisted"], results
        assert services.seats_taken(db, event) == 3
        confirmed = db.scalar(select(Registration).where(
            Registration.email.in_(list(results)), Registration.status == RegistrationStatus.confirmed))
        services.cancel(db, confirmed)  # frees the seat and promotes the other one
        db.commit()
        db.expire_all()
        assert services.seats_taken(db, event) == 3
        # make the seat free again for the next round
        promoted = db.scalar(select(Registration).where(
            Registration.email.in_(list(results)), Registration.status == RegistrationStatus.confirmed))
        services.cancel(db, promoted)
        db.commit()
        assert services.seats_taken(db, event) == 2


# --- iCalendar ------------------------------------------------------------------------------------

def test_agenda_ics_is_valid_rfc5545(client, db):
    event = make_event(db, capacity=20, title=LONG_ACCENTED, description_md=LONG_ACCENTED * 2,
                       starts_at=datetime(2030, 3, 14, 17, 30, tzinfo=UTC),
                       ends_at=datetime(2030, 3, 14, 20, 0, tzinfo=UTC))
    postponed = make_event(db, title="Journée des porteurs de projet", type=EventType.journee_porteurs,
                           status=EventStatus.postponed, sequence=2)
    cancelled = make_event(db, title="Rencontre des référents CLAS", status=EventStatus.cancelled, sequence=1)
    response = client.get("/agenda.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    raw = response.get_data()
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in lines), max(lines, key=len)
    assert any(line.startswith(b" ") for line in lines)  # long lines were folded
    raw.decode("utf-8")  # folding never cut a UTF-8 character in two

    cal = Calendar.from_ical(raw)
    assert cal["VERSION"] == "2.0" and "PRODID" in cal
    [tz] = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Europe/Paris"
    vevents = {str(v["UID"]): v for v in cal.walk("VEVENT")}
    assert set(vevents) == {event.uid, postponed.uid, cancelled.uid}
    v = vevents[event.uid]
    assert str(v["SUMMARY"]) == LONG_ACCENTED  # round trip through folding
    assert str(v["DESCRIPTION"]).startswith(LONG_ACCENTED * 2)
    assert v["DTSTART"].dt == datetime(2030, 3, 14, 17, 30, tzinfo=UTC)
    assert str(v["DTSTART"].dt.tzinfo) == "Europe/Paris" and v["DTSTART"].params["TZID"] == "Europe/Paris"
    assert v["DTSTART"].dt.hour == 18  # 17:30 UTC is 18:30 in Paris in March
    assert v["DTEND"].dt == datetime(2030, 3, 14, 20, 0, tzinfo=UTC)
    assert v["DTSTAMP"].dt.tzinfo is not None and "SEQUENCE" in v and int(v["SEQUENCE"]) == 0
    assert str(v["STATUS"]) == "CONFIRMED"
    assert "Bobigny" in str(v["LOCATION"]) and str(v["URL"]).endswith(f"/agenda/{event.id}/")
    assert str(v["ORGANIZER"]) == "mailto:reaap@exemple.org"
    assert (str(vevents[postponed.uid]["STATUS"]), int(vevents[postponed.uid]["SEQUENCE"])) == ("TENTATIVE", 2)
    assert (str(vevents[cancelled.uid]["STATUS"]), int(vevents[cancelled.uid]["SEQUENCE"])) == ("CANCELLED", 1)
    # Stable: the same feed twice is the same bytes (UID and DTSTAMP do not move).
    assert client.get("/agenda.ics").get_data() == raw


# --- Pages ----------------------------------------------------------------------------------------

def test_agenda_lists_upcoming_first_and_past_apart(client, db):
    make_event(db, title="Rencontre dans un mois", days=30)
    make_event(db, title="Soirée dans une semaine", days=7)
    make_event(db, title="Journée de l'an dernier", days=-300)
    page = client.get("/agenda/").get_data(as_text=True)
    assert page.index("Soirée dans une semaine") < page.index("Rencontre dans un mois")
    assert "Journée de l&#39;an dernier" not in page and "Journée de l'an dernier" not in page
    assert 'aria-current="page">Agenda<' in page
    past = client.get("/agenda/?passes=1").get_data(as_text=True)
    assert "an dernier" in past and "dans une semaine" not in past


def test_full_event_page_says_waitlist(client, db, captured_jobs):
    event = make_event(db, capacity=1)
    reg(db, event, "a@exemple.org")
    page = client.get(f"/agenda/{event.id}/").get_data(as_text=True)
    assert "Complet — inscription en liste d&#39;attente" in page or "Complet — inscription en liste d'attente" in page
    assert client.get("/agenda/999999/").status_code == 404


def test_event_form_errors_keep_the_input(client, db, captured_jobs):
    event = make_event(db, capacity=10)
    response = client.post(f"/agenda/{event.id}/", data={
        "name": "Fatou Diallo", "email": "fatou@", "structure": "EVS du Pont", "party_size": "2",
        "needs": "Accès en fauteuil"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="error-summary"' in page and 'aria-invalid="true"' in page
    assert 'value="Fatou Diallo"' in page and 'value="EVS du Pont"' in page and "Accès en fauteuil" in page
    assert 'value="2"' in page
    assert db.scalar(select(func.count(Registration.id))) == 0
    response = client.post(f"/agenda/{event.id}/", data={
        "name": "Fatou Diallo", "email": "fatou@exemple.org", "party_size": "0", "consent": "y"})
    assert response.status_code == 422 and db.scalar(select(func.count(Registration.id))) == 0


def test_register_then_cancel_through_the_self_service_page(client, db, captured_jobs):
    event = make_event(db, capacity=1)
    response = client.post(f"/agenda/{event.id}/", data={
        "name": "Fatou Diallo", "email": "Fatou@Exemple.org", "party_size": "1", "consent": "y"})
    assert response.status_code == 302
    registration = db.scalar(select(Registration))
    assert registration.token not in response.headers["Location"]  # the link goes by e-mail only
    assert client.post(f"/agenda/inscription/{registration.token}/confirmer").status_code == 302
    db.refresh(registration)
    assert registration.status is RegistrationStatus.confirmed
    waiting = reg(db, event, "suivant@exemple.org")
    assert waiting.status is RegistrationStatus.waitlisted

    page = client.get(f"/agenda/inscription/{registration.token}")
    assert page.status_code == 200 and "Annuler mon inscription" in page.get_data(as_text=True)
    db.refresh(registration)
    assert registration.status is RegistrationStatus.confirmed  # GET never cancels

    response = client.post(f"/agenda/inscription/{registration.token}")
    assert response.status_code == 302
    db.refresh(registration), db.refresh(waiting)
    assert registration.status is RegistrationStatus.cancelled
    assert waiting.status is RegistrationStatus.confirmed
    assert [m.to_addr for m in outbox(db, "event_promoted")] == ["suivant@exemple.org"]
    assert client.get("/agenda/inscription/pas-un-jeton").status_code == 404


def test_second_registration_on_the_web_does_not_reveal_the_link(client, db, captured_jobs):
    event = make_event(db, capacity=10)
    first = reg(db, event, "marie@exemple.org")
    response = client.post(f"/agenda/{event.id}/", data={
        "name": "Quelqu'un", "email": "marie@exemple.org", "party_size": "3", "consent": "y"})
    assert response.status_code == 302 and first.token not in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    # The same answer as for a new address (issue 13 #8): nothing tells a stranger who is registered.
    assert first.token not in page and "Vérifiez vos e-mails" in page
    assert db.scalar(select(func.count(Registration.id))) == 1
    db.refresh(first)
    assert (first.party_size, first.status) == (1, RegistrationStatus.confirmed)
    [again] = [m for m in outbox(db, "event_registration") if "Vous (ou quelqu'un pour vous)" in m.text_body]
    assert again.to_addr == "marie@exemple.org"


def test_agenda_pages_in_english(client, db, captured_jobs):
    event = make_event(db, capacity=1)
    reg(db, event, "a@exemple.org")
    assert "Network events" in client.get("/agenda/?lang=en").get_data(as_text=True)
    page = client.get(f"/agenda/{event.id}/?lang=en").get_data(as_text=True)
    assert "Full — registration on the waiting list" in page and "Join the waiting list" in page
    assert "Number of people, including you" in page


def test_registration_explains_an_invalid_address_in_french(client, db, captured_jobs):
    """Issue 13 #19."""
    event = make_event(db, capacity=10)
    response = client.post(f"/agenda/{event.id}/", data={"name": "Marie", "email": "marie@exemple",
                                                         "party_size": "1", "consent": "y"})
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 422
    assert "Adresse e-mail invalide : le nom de domaine après le signe @ doit contenir un point" in page
    assert "@-sign" not in page


# --- Issue 13 #8: registration abuse ----------------------------------------------------------------

def _post_registration(client, event, email, party_size=1, name="Parent", **extra):
    return client.post(f"/agenda/{event.id}/", data={"name": name, "email": email,
                                                      "party_size": str(party_size), "consent": "y", **extra})


def _confirm_link(db, email):
    import re
    [mail] = [m for m in outbox(db, "event_confirm_address") if m.to_addr == email]
    match = re.search(r"https?://[^/\s]+(/agenda/inscription/[\w-]+)", mail.text_body)
    assert match, mail.text_body
    return match.group(1)


def test_anonymous_posts_take_no_seat_until_the_address_is_confirmed(client, world, db, captured_jobs):
    event = make_event(db, capacity=10)
    for i in range(4):  # what filled an 80-seat event: parties posted for addresses nobody controls
        response = _post_registration(client, event, f"inconnu{i}@exemple.org", party_size=5)
        assert response.status_code == 302
        # The answer never carries the registration's link: only the mailbox does.
        assert "/agenda/inscription/" not in response.headers["Location"]
    db.expire_all()
    assert services.seats_taken(db, event) == 0 and not services.is_full(db, event)
    assert {r.status for r in db.scalars(select(Registration))} == {RegistrationStatus.unconfirmed}
    assert outbox(db, "event_registration") == []  # no invitation before the address is proven

    link = _confirm_link(db, "inconnu2@exemple.org")
    page = client.get(link)
    assert page.status_code == 200 and "Confirmer mon inscription" in page.get_data(as_text=True)
    db.expire_all()
    assert services.seats_taken(db, event) == 0  # GET confirms nothing (link scanners)
    response = client.post(link + "/confirmer")
    assert response.status_code == 302
    db.expire_all()
    confirmed = db.scalar(select(Registration).where(Registration.email == "inconnu2@exemple.org"))
    assert confirmed.status is RegistrationStatus.confirmed and confirmed.address_confirmed_at is not None
    assert services.seats_taken(db, event) == 5
    [mail] = outbox(db, "event_registration")
    assert mail.to_addr == "inconnu2@exemple.org" and mail.attachments
    # Confirming twice changes nothing; the next confirmed party that does not fit waits.
    client.post(link + "/confirmer")
    client.post(_confirm_link(db, "inconnu0@exemple.org") + "/confirmer")
    client.post(_confirm_link(db, "inconnu1@exemple.org") + "/confirmer")
    db.expire_all()
    statuses = {r.email: r.status.value for r in db.scalars(select(Registration))}
    assert statuses == {"inconnu0@exemple.org": "confirmed", "inconnu1@exemple.org": "waitlisted",
                        "inconnu2@exemple.org": "confirmed", "inconnu3@exemple.org": "unconfirmed"}
    assert len(outbox(db, "event_registration")) == 3
    # The editor sees the request still waiting, apart from the seats.
    from tests.integration.helpers import login
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/evenements/{event.id}/inscriptions").get_data(as_text=True).replace("&#39;", "'")
    assert "<strong>1</strong> demande d'inscription dont l'adresse n'est pas confirmée" in page
    assert "Inscription à confirmer" in page


def test_confirming_after_registration_closed_takes_no_seat(client, db, captured_jobs):
    event = make_event(db, capacity=10)
    _post_registration(client, event, "tard@exemple.org")
    link = _confirm_link(db, "tard@exemple.org")
    event.registration_closes_at = utcnow() - timedelta(minutes=1)
    db.commit()
    response = client.post(link + "/confirmer", follow_redirects=True)
    assert "closes" in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(Registration)).status is RegistrationStatus.unconfirmed


def test_party_size_is_capped_by_the_setting_and_by_the_event(client, db, captured_jobs):
    from core.settings import get_settings
    assert get_settings().event_max_party_size == 5
    event = make_event(db, capacity=80)
    response = _post_registration(client, event, "groupe@exemple.org", party_size=6)
    assert response.status_code == 422
    assert "entre 1 et 5" in response.get_data(as_text=True)
    assert db.scalar(select(func.count(Registration.id))) == 0
    event.max_party_size = 2
    db.commit()
    response = _post_registration(client, event, "groupe@exemple.org", party_size=3)
    assert response.status_code == 422 and "entre 1 et 2" in response.get_data(as_text=True)
    assert 'max="2"' in client.get(f"/agenda/{event.id}/").get_data(as_text=True)
    with pytest.raises(services.PartyTooLarge):
        services.register(db, event, "A", "a@exemple.org", party_size=3, consent=True)
    assert _post_registration(client, event, "groupe@exemple.org", party_size=2).status_code == 302


def test_registration_is_rate_limited_per_address_and_per_client(db, captured_jobs):
    from core.extensions import limiter
    from parentalites.app import create_app
    previous = limiter.enabled
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True})
    limiter.reset()
    try:
        client = app.test_client()
        event = make_event(db, capacity=80)
        # Per address: three requests an hour, whichever client sends them.
        codes = [_post_registration(client, event, "cible@exemple.org").status_code for _ in range(4)]
        assert codes == [302, 302, 302, 429]
        assert len(outbox(db, "event_confirm_address")) == 1  # and the address got one e-mail
        # Per client: ten an hour, whatever the addresses.
        limiter.reset()
        codes = [_post_registration(client, event, f"p{i}@exemple.org").status_code for i in range(11)]
        assert codes == [302] * 10 + [429]
        assert client.get(f"/agenda/{event.id}/").status_code == 200  # showing the page is not limited
    finally:
        limiter.reset()
        limiter.enabled = previous


def test_registering_answers_the_same_whether_the_address_is_new_or_already_registered(app, db, captured_jobs):
    event = make_event(db, capacity=10)
    reg(db, event, "marie@exemple.org")
    answers = []
    for address in ("marie@exemple.org", "nouvelle@exemple.org"):
        client = app.test_client()
        response = client.post(f"/agenda/{event.id}/", data={
            "name": "Quelqu'un", "email": address, "party_size": "1", "consent": "y"})
        follow = client.get(response.headers["Location"]).get_data(as_text=True)
        flashed = re.search(r'<div class="alert alert-[a-z]+"[^>]*>(.*?)</div>', follow, re.S)
        answers.append((response.status_code, response.headers["Location"], response.get_data(),
                        flashed.group(1) if flashed else follow))
    assert answers[0] == answers[1]
    assert "déjà inscrite" not in answers[0][3]
    # The difference goes by e-mail, to the address itself: the registered one gets its link again,
    # the new one the link that confirms the address (issue 13 #8).
    assert [m.to_addr for m in outbox(db, "event_registration")][-1:] == ["marie@exemple.org"]
    assert [m.to_addr for m in outbox(db, "event_confirm_address")] == ["nouvelle@exemple.org"]
