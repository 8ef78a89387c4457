"""RGPD on the real stack: export (each source of personal data), erasure (personal data gone,
statistics kept anonymised, the keyed hash for a hard bounce or a complaint), the self-service
links (forged, replayed), the editors' requests recorded with who did them, consent versions."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from core.db import Base, utcnow
from events import services as events
from events.models import Registration, RegistrationStatus
from mailing.models import Delivery, DeliveryStatus, OutboundEmail
from subscribers import bounces, consent, privacy, services
from subscribers.models import (
    Bounce,
    ConsentRecord,
    ConsentVersion,
    PrivacyRequest,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
    SuppressedHash,
)
from tests.integration.helpers import compose, login, make_event, run_concurrently, run_subscribe_jobs, subscribe_job

ADDRESS = "marie.dupont@example.org"


def confirm_link(outbound: OutboundEmail) -> str:
    match = re.search(r"/abonnement/confirmer/([\w.-]+)", outbound.text_body)
    assert match, outbound.text_body
    return match.group(1)


def subscribed(db, address: str = ADDRESS, **preferences) -> Subscriber:
    """Subscribed through the form's service and confirmed through the e-mailed link."""
    services.subscribe(db, address, "Marie Dupont", "CLAS Bondy",
                       request=services.Request(ip="198.51.100.4", user_agent="Firefox/140"),
                       preferences=preferences or {"topics": ["clas"], "role": "referent_clas", "commune": "Bondy"})
    mail = db.scalars(select(OutboundEmail).where(OutboundEmail.to_addr == address)
                      .order_by(OutboundEmail.id.desc())).first()
    result = services.confirm(db, confirm_link(mail), services.Request(ip="198.51.100.5"))
    assert result is services.ConfirmResult.confirmed
    db.commit()
    return db.scalar(select(Subscriber).where(Subscriber.email == address))


def rich_subscriber(db, world) -> Subscriber:
    """A subscriber with something in every source: consents, history, two letters (one sent, one
    still queued), a soft bounce, a registration to an event to come, an e-mail waiting."""
    sub = subscribed(db)
    db.add(SubscriberEvent(subscriber_id=sub.id, kind="edited", detail="Structure corrigée",
                           actor="redaction@reaap.test"))
    issue1 = compose(db, world, numero=1)
    issue2 = compose(db, world, numero=2)
    sent = Delivery(issue_id=issue1.id, subscriber_id=sub.id, status=DeliveryStatus.sent, sent_at=utcnow(),
                    message_id="<d1@test>")
    queued = Delivery(issue_id=issue2.id, subscriber_id=sub.id, status=DeliveryStatus.queued)
    db.add_all([sent, queued])
    db.commit()
    bounces.record_bounce(db, bounces.report_from_json({"email": ADDRESS, "type": "soft", "status": "4.2.2",
                                                        "diagnostic": f"Mailbox full for {ADDRESS}"}), None, "webhook")
    event = make_event(db, capacity=1)
    events.register(db, event, "Marie Dupont", ADDRESS, structure="CLAS Bondy", role="référente",
                    needs="Boucle magnétique", consent=True)
    db.commit()
    return sub


def rows_mentioning(db, needle: str) -> list[str]:
    """Every row of every table whose text mentions `needle` (case-insensitive)."""
    found = []
    for table in Base.metadata.sorted_tables:
        for row in db.execute(table.select()):
            if needle.lower() in " ".join(str(v) for v in row).lower():
                found.append(f"{table.name}: {row}")
    return found


# --- Consent versions ------------------------------------------------------------------------------

def test_every_proof_names_the_version_and_its_exact_text(db, captured_jobs):
    sub = subscribed(db)
    proofs = list(db.scalars(select(ConsentRecord).where(ConsentRecord.subscriber_id == sub.id)
                             .order_by(ConsentRecord.id)))
    assert [p.action for p in proofs] == ["subscribe", "confirm"]
    [version] = db.scalars(select(ConsentVersion)).all()
    assert version.purpose == "newsletter" and version.text == services.CONSENT_WORDING
    assert all(p.version_id == version.id and p.wording == version.text for p in proofs)
    services.unsubscribe(db, sub)
    db.commit()
    assert db.scalar(select(ConsentRecord).where(ConsentRecord.action == "unsubscribe:web")).version_id == version.id


def test_a_changed_text_makes_a_new_version_and_old_proofs_keep_theirs(db, captured_jobs, monkeypatch):
    first = subscribed(db, "a@example.org")
    monkeypatch.setitem(consent.TEXTS, consent.NEWSLETTER, consent.NEWSLETTER_TEXT + " Texte révisé.")
    second = subscribed(db, "b@example.org")
    old, new = db.scalars(select(ConsentVersion).order_by(ConsentVersion.id)).all()
    assert new.text.endswith("Texte révisé.") and old.text == consent.NEWSLETTER_TEXT
    assert {p.version_id for p in first.consents} == {old.id}
    assert {p.version_id for p in second.consents} == {new.id}
    assert {p.wording for p in second.consents} == {new.text}


def test_two_processes_creating_the_same_version_at_once_get_one_row(db):
    ids = run_concurrently(lambda session, _: (consent.current_version(session, "newsletter").id,
                                               session.commit())[0], 4)
    assert len(set(ids)) == 1
    assert db.scalar(select(func.count(ConsentVersion.id))) == 1


# --- Export ------------------------------------------------------------------------------------------

def test_export_contains_every_source(db, world, captured_jobs):
    sub = rich_subscriber(db, world)
    data = privacy.export_data(db, sub)
    assert data["subscriber"]["email"] == ADDRESS and data["subscriber"]["structure"] == "CLAS Bondy"
    assert data["preferences"]["topics"] == [{"key": "clas", "label": "Accompagnement à la scolarité (CLAS)"}]
    assert data["preferences"]["role"]["key"] == "referent_clas" and data["preferences"]["commune"] == "Bondy"
    assert [c["action"] for c in data["consents"]] == ["subscribe", "confirm"]
    assert data["consents"][0]["ip"] == "198.51.100.4" and data["consents"][0]["user_agent"] == "Firefox/140"
    assert data["consents"][0]["text"] == services.CONSENT_WORDING and data["consents"][0]["version"]["id"]
    assert "Structure corrigée" in [h["detail"] for h in data["history"]]
    assert [(d["letter"], d["status"]) for d in data["deliveries"]] == [
        ("Lettre Parentalités n°1 — Lettre de test 1", "sent"),
        ("Lettre Parentalités n°2 — Lettre de test 2", "queued")]
    assert [(b["kind"], b["status_code"]) for b in data["bounces"]] == [("soft", "4.2.2")]
    [registration] = data["registrations"]
    assert (registration["event"], registration["status"], registration["accessibility_needs"]) == (
        "Soirée-rencontre du Réaap", "confirmed", "Boucle magnétique")
    # The registration's proof names its consent version too, with the exact (French) words.
    assert registration["consent_text"] == consent.REGISTRATION_TEXT
    assert db.get(ConsentVersion, registration["consent_version"]).purpose == "registration"
    json.dumps(data)  # JSON-able as it is


def test_self_service_export_page_and_json_are_recorded(client, db, world, captured_jobs):
    sub = rich_subscriber(db, world)
    page = client.get(f"/preferences/{sub.unsubscribe_token}/donnees")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    for expected in (ADDRESS, "CLAS Bondy", "198.51.100.4", "Lettre Parentalités n°1", "Soirée-rencontre du Réaap",
                     "Boucle magnétique", "Structure corrigée", "4.2.2", "J&#39;accepte de recevoir la lettre"):
        assert expected in html, expected
    download = client.get(f"/preferences/{sub.unsubscribe_token}/donnees?format=json")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert json.loads(download.get_data(as_text=True))["subscriber"]["email"] == ADDRESS
    requests = db.scalars(select(PrivacyRequest)).all()
    assert [(r.kind, r.channel, r.actor, r.subscriber_id) for r in requests] == [("export", "web", None, sub.id)] * 2
    assert requests[0].subject_hash == privacy.address_hash(ADDRESS)


@pytest.mark.parametrize("token", ["pas-un-jeton", "x" * 65, "A" * 32])
def test_an_export_with_a_forged_token_is_404_and_leaks_nothing(client, db, world, captured_jobs, token):
    rich_subscriber(db, world)
    for url in (f"/preferences/{token}/donnees", f"/preferences/{token}/donnees?format=json"):
        response = client.get(url)
        assert response.status_code == 404
        assert "Lien non valable" in response.get_data(as_text=True)
        assert ADDRESS not in response.get_data(as_text=True)
    assert db.scalar(select(func.count(PrivacyRequest.id))) == 0


# --- Erasure -----------------------------------------------------------------------------------------

def test_erase_removes_personal_data_and_keeps_anonymised_statistics(db, world, captured_jobs):
    sub = rich_subscriber(db, world)
    sub_id = sub.id
    # A third letter, which a worker holds right now: it may be on the wire, so it stays.
    in_flight = Delivery(issue_id=compose(db, world, numero=3).id, subscriber_id=sub_id,
                         status=DeliveryStatus.claimed, claim_token="t" * 32, claimed_at=utcnow())
    db.add(in_flight)
    db.commit()
    assert rows_mentioning(db, ADDRESS)  # the check below cannot be vacuous
    privacy.erase(db, sub, channel="web")
    db.commit()
    assert rows_mentioning(db, ADDRESS) == []
    assert rows_mentioning(db, "Marie Dupont") == []
    assert rows_mentioning(db, "Boucle magnétique") == []
    assert db.get(Subscriber, sub_id) is None
    assert db.scalar(select(func.count(ConsentRecord.id))) == 0
    assert db.scalar(select(func.count(SubscriberEvent.id))) == 0
    # The sent letter stays, anonymised; the queued one is gone.
    deliveries = db.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert [(d.status, d.subscriber_id, d.message_id) for d in deliveries] == [
        (DeliveryStatus.sent, None, "<d1@test>"), (DeliveryStatus.claimed, None, None)]
    # The worker that held it records its outcome on the anonymised row, as usual.
    from mailing import engine
    engine.record(db, "t" * 32, [engine.Outcome(in_flight.id, DeliveryStatus.sent, 250, "OK", "<d3@test>")])
    db.expire_all()
    assert (db.get(Delivery, in_flight.id).status, db.get(Delivery, in_flight.id).subscriber_id) == (
        DeliveryStatus.sent, None)
    [bounce] = db.scalars(select(Bounce)).all()
    assert (bounce.kind.value, bounce.subscriber_id, bounce.email, bounce.diagnostic, bounce.status_code) == (
        "soft", None, None, None, "4.2.2")
    # The registration is cancelled (its seat freed) and anonymised; counted still.
    [registration] = db.scalars(select(Registration)).all()
    assert registration.status is RegistrationStatus.cancelled and registration.party_size == 1
    assert registration.email.endswith("@anonyme.invalid") and registration.name == "Inscription anonymisée"
    # A soft bounce is no reason to keep anything: no hash.
    assert db.scalar(select(func.count(SuppressedHash.id))) == 0
    [request] = db.scalars(select(PrivacyRequest)).all()
    assert (request.kind, request.channel, request.subscriber_id, request.actor) == ("erase", "web", None, None)
    assert request.subject_hash == privacy.address_hash(ADDRESS)


@pytest.mark.parametrize(("kind", "reason"), [("hard", "hard_bounce"), ("complaint", "complaint")])
def test_after_a_hard_bounce_or_a_complaint_only_the_hash_stays_and_a_new_subscription_does_nothing(
        client, db, captured_jobs, kind, reason):
    sub = subscribed(db)
    bounces.record_bounce(db, bounces.report_from_json({"email": ADDRESS, "type": kind, "status": "5.1.1"}),
                          None, "webhook")
    db.commit()
    db.refresh(sub)
    assert sub.status is SubscriberStatus.suppressed
    privacy.erase(db, sub, channel="web")
    db.commit()
    [kept] = db.scalars(select(SuppressedHash)).all()
    assert (kept.address_hash, kept.reason) == (privacy.address_hash(ADDRESS), reason)
    assert rows_mentioning(db, ADDRESS) == []
    assert privacy.is_suppressed_hash(db, "  MARIE.Dupont@example.org")
    before = len(captured_jobs)
    # Subscribing again: the same answer as anyone gets, and nothing is stored or sent.
    response = client.post("/abonnement", data={"email": ADDRESS.upper(), "name": "Marie", "consent": "y"})
    assert (response.status_code, response.location) == (302, "/abonnement/verifiez-vos-e-mails")
    assert captured_jobs[before:] == [subscribe_job(ADDRESS, "Marie")]
    run_subscribe_jobs(db, captured_jobs)  # the worker's part
    services.subscribe(db, ADDRESS, "Marie")
    db.commit()
    assert db.scalar(select(func.count(Subscriber.id))) == 0
    assert db.scalar(select(func.count(OutboundEmail.id)).where(OutboundEmail.to_addr == ADDRESS)) == 0
    assert len(captured_jobs) == before
    # Another address still subscribes as usual.
    services.subscribe(db, "autre@example.org", "Autre")
    assert db.scalar(select(func.count(Subscriber.id))) == 1


def test_erase_deletes_e_mails_waiting_for_the_address(db, captured_jobs):
    services.subscribe(db, ADDRESS, "Marie")  # pending, its confirmation e-mail in the outbox
    db.commit()
    assert db.scalar(select(func.count(OutboundEmail.id))) == 1
    privacy.erase(db, db.scalar(select(Subscriber)), channel="web")
    db.commit()
    assert db.scalar(select(func.count(OutboundEmail.id))) == 0


def test_self_service_erase_confirms_first_then_the_link_dies(client, db, world, captured_jobs):
    sub = rich_subscriber(db, world)
    token = sub.unsubscribe_token
    prefs = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert f"/preferences/{token}/effacer" in prefs and f"/preferences/{token}/donnees" in prefs
    confirm = client.get(f"/preferences/{token}/effacer")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "Effacer définitivement mes données" in page and 'method="post"' in page
    db.expire_all()
    assert db.scalar(select(func.count(Subscriber.id))) == 1  # GET changed nothing
    done = client.post(f"/preferences/{token}/effacer")
    assert done.status_code == 200 and "Vos données sont effacées" in done.get_data(as_text=True)
    assert db.scalar(select(func.count(Subscriber.id))) == 0
    assert rows_mentioning(db, ADDRESS) == []
    # Replayed: nobody behind the link any more; a clear 404 and nothing recorded twice.
    for method in (client.post, client.get):
        again = method(f"/preferences/{token}/effacer")
        assert again.status_code == 404 and "Lien non valable" in again.get_data(as_text=True)
    assert client.get(f"/preferences/{token}").status_code == 404
    assert client.get(f"/preferences/{token}/donnees").status_code == 404
    assert db.scalar(select(func.count(PrivacyRequest.id)).where(PrivacyRequest.kind == "erase")) == 1


def test_a_forged_erase_link_changes_nothing(client, db, captured_jobs):
    subscribed(db)
    for token in ("pas-un-jeton", "x" * 65, "A" * 32):
        assert client.post(f"/preferences/{token}/effacer").status_code == 404
        assert client.get(f"/preferences/{token}/effacer").status_code == 404
    assert db.scalar(select(func.count(Subscriber.id))) == 1
    assert db.scalar(select(func.count(PrivacyRequest.id))) == 0


def test_the_erase_button_needs_the_csrf_token(db, captured_jobs):
    from parentalites.app import create_app
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False})
    assert app.config.get("WTF_CSRF_ENABLED", True)
    client = app.test_client()
    sub = subscribed(db)
    page = client.get(f"/preferences/{sub.unsubscribe_token}/effacer").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert client.post(f"/preferences/{sub.unsubscribe_token}/effacer").status_code == 400
    assert db.scalar(select(func.count(Subscriber.id))) == 1


# --- The editors, for a request received by mail ---------------------------------------------------

def test_editor_exports_and_erases_with_their_name_recorded(client, db, world, captured_jobs):
    sub = rich_subscriber(db, world)
    sub_id = sub.id
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/abonnes/{sub_id}/donnees")
    assert page.status_code == 200 and "Boucle magnétique" in page.get_data(as_text=True)
    download = client.get(f"/redaction/abonnes/{sub_id}/donnees?format=json")
    assert json.loads(download.get_data(as_text=True))["subscriber"]["email"] == ADDRESS
    form = client.get(f"/redaction/abonnes/{sub_id}/effacer")
    assert form.status_code == 200 and "Demande reçue" in form.get_data(as_text=True)
    # The note (where the request came from) is required: nothing happens without it.
    refused = client.post(f"/redaction/abonnes/{sub_id}/effacer", data={"note": "  "})
    assert refused.status_code == 422 and "Indiquez d" in refused.get_data(as_text=True)
    assert db.scalar(select(func.count(Subscriber.id))) == 1
    done = client.post(f"/redaction/abonnes/{sub_id}/effacer", data={"note": "Courriel du 2 décembre, réf. 14"})
    assert done.status_code == 302 and done.location == "/redaction/abonnes/demandes-rgpd"
    db.expire_all()
    assert db.get(Subscriber, sub_id) is None and rows_mentioning(db, ADDRESS) == []
    requests = db.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id)).all()
    assert [(r.kind, r.channel, r.actor) for r in requests] == [
        ("export", "mail", "redaction@reaap.test"), ("export", "mail", "redaction@reaap.test"),
        ("erase", "mail", "redaction@reaap.test")]
    assert requests[-1].note == "Courriel du 2 décembre, réf. 14"
    listing = client.get("/redaction/abonnes/demandes-rgpd").get_data(as_text=True)
    assert "Courriel du 2 décembre, réf. 14" in listing and "redaction@reaap.test" in listing
    assert ADDRESS not in listing
    assert client.get(f"/redaction/abonnes/{sub_id}/donnees").status_code == 404


def test_only_editors_reach_the_requests(client, db, world, captured_jobs):
    sub = subscribed(db)
    urls = [f"/redaction/abonnes/{sub.id}/donnees", f"/redaction/abonnes/{sub.id}/effacer",
            "/redaction/abonnes/demandes-rgpd"]
    for url in urls:
        assert client.get(url).status_code == 302  # to the login page
    assert client.post(urls[1], data={"note": "x"}).status_code == 302
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(urls[1], data={"note": "x"}).status_code == 403
    assert db.scalar(select(func.count(Subscriber.id))) == 1
    assert db.scalar(select(func.count(PrivacyRequest.id))) == 0


# --- Signs of life ---------------------------------------------------------------------------------

def test_preferences_saved_and_a_registration_are_signs_of_life(client, db, captured_jobs):
    sub = subscribed(db)
    long_ago = utcnow() - timedelta(days=2000)
    db.execute(text("UPDATE subscribers SET last_activity_at = :t, repermission_sent_at = :t"), {"t": long_ago})
    db.commit()
    client.post(f"/preferences/{sub.unsubscribe_token}", data={"topics": ["sante"], "commune": "Pantin"})
    db.refresh(sub)
    assert sub.last_activity_at > utcnow() - timedelta(minutes=5) and sub.repermission_sent_at is None
    db.execute(text("UPDATE subscribers SET last_activity_at = :t"), {"t": long_ago})
    db.commit()
    event = make_event(db)
    events.register(db, event, "Marie", ADDRESS.upper(), consent=True)
    db.commit()
    db.refresh(sub)
    assert sub.last_activity_at > utcnow() - timedelta(minutes=5)


def test_privacy_page_in_both_languages_and_linked_everywhere(client, db, captured_jobs):
    page = client.get("/confidentialite")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pas de pixel de suivi" in html and "HMAC-SHA-256" in html and "3 ans" in html and "30 jours" in html
    for url in ("/", "/abonnement", "/lettres/"):
        assert 'href="/confidentialite"' in client.get(url).get_data(as_text=True), url
    assert "Vos données : voir notre" in client.get("/abonnement").get_data(as_text=True)
    event = make_event(db)
    assert "Vos données : voir notre" in client.get(f"/agenda/{event.id}/").get_data(as_text=True)
    english = client.get("/confidentialite?lang=en").get_data(as_text=True)
    assert "No tracking pixel" in english and "Privacy policy" in english and "3 years" in english
    services.subscribe(db, ADDRESS, "Marie")
    db.commit()
    [mail] = db.scalars(select(OutboundEmail)).all()
    assert "https://parentalites.test/confidentialite" in mail.html_body
    assert "Vos données : https://parentalites.test/confidentialite" in mail.text_body
