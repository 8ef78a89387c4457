"""Outgoing webhooks on the real stack: a real HTTP server on 127.0.0.1 (allowed by
FEED_ALLOWED_NETWORKS in the tests, as for feeds), the real Celery worker, the real SMTP server.
The tests' environment (tests/conftest.py): WEBHOOK_TIMEOUT 1.5 s, WEBHOOK_RETRY_DELAY 0.5 s,
WEBHOOK_MAX_ATTEMPTS 3, WEBHOOK_FAILURE_THRESHOLD 5."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from accounts.auth import create_user
from accounts.models import JournalEntry, Role
from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from events import services as event_services
from parentalites.webhooks import services as webhooks
from parentalites.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from subscribers import services as subscriber_services
from subscribers.models import SubscriberStatus
from tests.integration.helpers import login, make_event, people, wait_for


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802  (http.server's name)
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if server.delay:
            time.sleep(server.delay)
        self.send_response(server.status)
        if server.location:
            self.send_header("Location", server.location)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def _serve(host: str) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer((host, 0), _Receiver)
    httpd.daemon_threads = True
    httpd.received, httpd.status, httpd.delay, httpd.location = [], 200, 0.0, None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def receiver():
    httpd = _serve("127.0.0.1")
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def internal():
    """A server in the loopback network that is not allowed (127.0.0.2): it must never be reached."""
    httpd = _serve("127.0.0.2")
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def admin(db):
    user = create_user(db, "admin@reaap.test", "Alix Admin", Role.admin, "mdp-admin")
    db.commit()
    return user


def url_of(httpd, path="/hook") -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def verify(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as the notes document it (ops.md, « Vérifier la signature »)."""
    parts = dict(item.split("=", 1) for item in headers["parentalites-signature"].split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance and hmac.compare_digest(expected, parts["v1"])


def endpoint_for(db, admin, url, events=("subscriber.confirmed", "subscriber.unsubscribed")) -> WebhookEndpoint:
    endpoint = webhooks.create_endpoint(db, admin, url, events)
    db.commit()
    return endpoint


# --- The admin's page --------------------------------------------------------------------------

PRIVATE_URLS = ["http://10.0.0.1/hook", "http://127.0.0.2/hook", "http://[::1]/hook", "http://192.168.1.10/",
                "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.2]/", "http://0.0.0.0/",
                "http://2130706434/"]  # 127.0.0.2 as one number


def test_a_webhook_to_a_private_address_is_refused_at_save_with_a_french_message(client, db, admin, monkeypatch):
    login(client, "admin@reaap.test", "mdp-admin")
    for url in PRIVATE_URLS:
        response = client.post("/redaction/webhooks", data={"url": url, "events": ["letter.sent"]})
        assert response.status_code == 422, url
        assert "réseau privé ou interne" in response.get_data(as_text=True), url
    # A name that resolves into a private network is refused the same way.
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "intranet.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80))]
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    response = client.post("/redaction/webhooks", data={"url": "https://intranet.example.org/hook",
                                                         "events": ["letter.sent"]})
    assert response.status_code == 422 and "réseau privé ou interne" in response.get_data(as_text=True)
    response = client.post("/redaction/webhooks", data={"url": "ftp://example.org/", "events": ["letter.sent"]})
    assert response.status_code == 422 and "https://" in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalars(select(WebhookEndpoint)).all() == []


def test_only_an_admin_reaches_the_webhooks(client, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    assert "/redaction/webhooks" not in client.get("/redaction/").get_data(as_text=True)
    assert client.get("/redaction/webhooks").status_code == 403
    assert client.post("/redaction/webhooks", data={"url": "https://example.org/"}).status_code == 403


def test_an_admin_adds_changes_rotates_and_deletes_a_webhook_each_in_the_journal(client, db, admin, receiver):
    login(client, "admin@reaap.test", "mdp-admin")
    assert "/redaction/webhooks" in client.get("/redaction/").get_data(as_text=True)
    response = client.post("/redaction/webhooks", data={
        "url": url_of(receiver), "description": "CRM du réseau", "events": ["letter.sent", "registration.created"]})
    assert response.status_code == 302
    endpoint = db.scalars(select(WebhookEndpoint)).one()
    assert endpoint.events == ["letter.sent", "registration.created"] and endpoint.secret.startswith("whsec_")
    page = client.get(f"/redaction/webhooks/{endpoint.id}").get_data(as_text=True)
    assert endpoint.secret in page and "Aucun envoi pour l'instant" in page
    old_secret = endpoint.secret
    assert client.post(f"/redaction/webhooks/{endpoint.id}/secret").status_code == 302
    assert client.post(f"/redaction/webhooks/{endpoint.id}", data={
        "url": url_of(receiver, "/v2"), "events": ["letter.sent"], "active": ""}).status_code == 302
    db.expire_all()
    endpoint = db.get(WebhookEndpoint, endpoint.id)
    assert endpoint.secret != old_secret and endpoint.url.endswith("/v2") and not endpoint.active
    assert client.post(f"/redaction/webhooks/{endpoint.id}/supprimer").status_code == 302
    actions = [e.action for e in db.scalars(select(JournalEntry).order_by(JournalEntry.id))]
    assert actions == ["webhook.created", "webhook.secret_rotated", "webhook.updated", "webhook.deleted"]
    assert db.scalars(select(WebhookEndpoint)).all() == []


# --- Delivery by the real worker ----------------------------------------------------------------

def test_a_confirmed_subscriber_reaches_the_endpoint_signed_after_commit_without_their_address(
        db, admin, receiver, celery_worker, smtp):
    endpoint = endpoint_for(db, admin, url_of(receiver))
    subscriber = people(db, 1, status=SubscriberStatus.pending)[0]
    subscriber_services.confirm_import(db, subscriber)
    db.rollback()  # rolled back: nothing leaves
    time.sleep(1)
    assert receiver.received == [] and db.scalars(select(WebhookDelivery)).all() == []
    subscriber_services.confirm_import(db, subscriber)
    subscriber_services.unsubscribe(db, subscriber, via="web")
    db.commit()
    wait_for(lambda: len(receiver.received) == 2, 30, message="two webhook calls")
    bodies = {}
    for path, headers, body in receiver.received:
        assert path == "/hook" and verify(endpoint.secret, headers, body)
        assert not verify("whsec_another", headers, body)
        payload = json.loads(body)
        assert headers["parentalites-event"] == payload["type"] and headers["parentalites-delivery"] == payload["id"]
        bodies[payload["type"]] = payload
        assert "example.org" not in body.decode() and "Zoé" not in body.decode()  # no address, no name
    assert bodies["subscriber.confirmed"]["data"]["subscriber"]["id"] == subscriber.id
    assert bodies["subscriber.unsubscribed"]["data"] == {
        "subscriber": {"id": subscriber.id, "unsubscribed_at": bodies["subscriber.unsubscribed"]["data"]
                       ["subscriber"]["unsubscribed_at"]}, "via": "web"}

    def logged():
        db.expire_all()
        return [a for a in db.scalars(select(WebhookAttempt)) if a.status_code == 200]
    attempts = wait_for(lambda: len(logged()) == 2 and logged(), 20, message="the attempts logged")
    assert all(a.number == 1 and a.error is None and a.duration_ms >= 0 for a in attempts)
    assert {d.status for d in db.scalars(select(WebhookDelivery))} == {DeliveryStatus.delivered}


def test_an_endpoint_answering_500_is_retried_logged_then_disabled_and_the_admins_are_told(
        client, db, admin, receiver, celery_worker, smtp):
    receiver.status = 500
    endpoint = endpoint_for(db, admin, url_of(receiver))
    first, second = people(db, 2, status=SubscriberStatus.pending)
    subscriber_services.confirm_import(db, first)
    db.commit()
    # WEBHOOK_MAX_ATTEMPTS (3): the first event is tried three times, with backoff, then given up.
    wait_for(lambda: len(receiver.received) == 3, 30, message="three attempts")

    def deliveries():
        db.expire_all()
        return db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    wait_for(lambda: deliveries()[0].status is DeliveryStatus.failed, 20, message="the delivery given up")
    stamps = [int(dict(i.split("=", 1) for i in h["parentalites-signature"].split(","))["t"])
              for _p, h, _b in receiver.received]
    assert stamps == sorted(stamps)
    assert len({b for _p, _h, b in receiver.received}) == 1  # the same body, signed again each time
    db.expire_all()
    assert db.get(WebhookEndpoint, endpoint.id).active  # 3 failures in a row: below the threshold (5)
    # The second event fails twice more: five in a row, the endpoint is switched off.
    subscriber_services.confirm_import(db, second)
    db.commit()
    wait_for(lambda: smtp.to("admin@reaap.test"), 40, message="the admins' e-mail")
    db.expire_all()
    endpoint = db.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.active and endpoint.disabled_at and "HTTP 500" in endpoint.disabled_reason
    assert len(receiver.received) == 5
    attempts = db.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [a.number for a in attempts] == [1, 2, 3, 1, 2]
    assert all(a.status_code == 500 and a.error == "Le site a répondu HTTP 500." for a in attempts)
    assert {d.status for d in db.scalars(select(WebhookDelivery))} == {DeliveryStatus.failed}
    message = smtp.to("admin@reaap.test")[0].message
    assert "Webhook désactivé" in message["Subject"] and url_of(receiver) in message.get_body(("plain",)).get_content()
    journal = db.scalars(select(JournalEntry).where(JournalEntry.action == "webhook.disabled")).one()
    assert journal.actor_id is None
    # The page shows the log and why the endpoint is off; a later event is not sent to it.
    login(client, "admin@reaap.test", "mdp-admin")
    page = client.get(f"/redaction/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "HTTP 500" in page and "Désactivé le" in page
    subscriber_services.unsubscribe(db, first)
    db.commit()
    time.sleep(1.5)
    assert len(receiver.received) == 5


# --- One attempt, in the test's process ----------------------------------------------------------

def _one_delivery(db, admin, url, captured_jobs) -> WebhookDelivery:
    endpoint_for(db, admin, url)
    subscriber = people(db, 1, status=SubscriberStatus.pending)[0]
    subscriber_services.confirm_import(db, subscriber)
    db.commit()
    return db.scalars(select(WebhookDelivery)).one()


def test_an_endpoint_that_times_out_is_logged_and_retried_later(db, admin, receiver, captured_jobs):
    receiver.delay = 3.0  # WEBHOOK_TIMEOUT is 1.5 s
    delivery = _one_delivery(db, admin, url_of(receiver), captured_jobs)
    assert ("tasks.webhooks.deliver", (delivery.id,)) in captured_jobs
    with pytest.raises(webhooks.RetryLater) as raised:
        webhooks.deliver(db, delivery.id)
    assert raised.value.delay == 0.5
    db.expire_all()
    attempt = db.scalars(select(WebhookAttempt)).one()
    assert attempt.status_code is None and attempt.error == "Le site n'a pas répondu dans les 1.5 secondes."
    assert db.get(WebhookDelivery, delivery.id).status is DeliveryStatus.pending
    receiver.delay = 0.0
    with pytest.raises(webhooks.RetryLater) as raised:  # still failing (the server's answer is late)
        receiver.status = 503
        webhooks.deliver(db, delivery.id)
    assert raised.value.delay == 1.0  # doubled
    receiver.status = 200
    assert webhooks.deliver(db, delivery.id) is DeliveryStatus.delivered
    db.commit()
    assert webhooks.deliver(db, delivery.id) is DeliveryStatus.delivered  # a second run sends nothing
    assert len(receiver.received) == 3


def test_a_redirect_is_not_followed(db, admin, receiver, internal, captured_jobs):
    receiver.status = 302
    receiver.location = f"http://127.0.0.2:{internal.server_address[1]}/secret"
    delivery = _one_delivery(db, admin, url_of(receiver), captured_jobs)
    with pytest.raises(webhooks.RetryLater):
        webhooks.deliver(db, delivery.id)
    db.expire_all()
    attempt = db.scalars(select(WebhookAttempt)).one()
    assert attempt.status_code == 302 and "redirections ne sont pas suivies" in attempt.error
    assert internal.received == []


def test_a_name_that_resolves_into_a_private_network_at_send_is_refused_without_a_connection(
        db, admin, receiver, captured_jobs, monkeypatch):
    port = receiver.server_address[1]
    real = socket.getaddrinfo
    answers = {"hooks.example.org": "127.0.0.1"}  # public-looking (allowed) when saved

    def resolver(host, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    delivery = _one_delivery(db, admin, f"http://hooks.example.org:{port}/hook", captured_jobs)
    answers["hooks.example.org"] = "10.9.8.7"  # DNS rebinding: the name now points inside
    with pytest.raises(webhooks.RetryLater):
        webhooks.deliver(db, delivery.id)
    db.expire_all()
    attempt = db.scalars(select(WebhookAttempt)).one()
    assert attempt.status_code is None and "réseau privé ou interne" in attempt.error
    assert receiver.received == []


def test_registrations_and_an_accepted_contribution_become_deliveries_with_no_personal_data(
        db, admin, world, receiver, captured_jobs):
    endpoint_for(db, admin, url_of(receiver), events=["registration.created", "registration.cancelled",
                                                      "contribution.accepted"])
    event = make_event(db, capacity=10)
    registration = event_services.register(db, event, "Nadia Ferhat", "nadia@exemple.org", consent=True)
    db.commit()
    event_services.cancel(db, registration)
    db.commit()
    contribution = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title="Atelier parents", body_md="Du texte."))
    contributions.decide(db, world["editor"], contribution, S.accepted)
    db.commit()
    deliveries = db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [d.event for d in deliveries] == ["registration.created", "registration.cancelled",
                                             "contribution.accepted"]
    created, cancelled, accepted = (json.loads(d.body)["data"] for d in deliveries)
    assert created["registration"] == {"id": registration.id, "status": "confirmed", "party_size": 1}
    assert created["event"]["id"] == event.id
    assert cancelled["registration"]["previous_status"] == "confirmed"
    assert accepted["contribution"]["title"] == "Atelier parents"
    assert accepted["contribution"]["structure"]["name"] == "Centre social Les Tilleuls"
    for delivery in deliveries:
        assert "nadia" not in delivery.body.lower() and "Nadia" not in delivery.body
    assert [name for name, _args in captured_jobs if name == "tasks.webhooks.deliver"] == ["tasks.webhooks.deliver"] * 3


def test_a_letter_whose_last_delivery_went_out_becomes_a_letter_sent_delivery(db, admin, world, receiver,
                                                                              captured_jobs):
    from newsletter import mailout
    from newsletter.models import IssueStatus
    from tests.integration.helpers import compose
    endpoint_for(db, admin, url_of(receiver), events=["letter.sent"])
    issue = compose(db, world, numero=5, articles=1)
    issue.status = IssueStatus.sending  # every delivery sent: nothing remains
    db.commit()
    assert mailout.finish_if_done(db, issue.id)
    delivery = db.scalars(select(WebhookDelivery)).one()
    letter = json.loads(delivery.body)["data"]["letter"]
    assert letter["numero"] == 5 and letter["id"] == issue.id and letter["url"] == "https://parentalites.test/lettres/5/"
    assert letter["sent_at"].endswith("Z")
    assert not mailout.finish_if_done(db, issue.id)  # sent once: no second event
    assert db.scalars(select(WebhookDelivery)).all() == [delivery]


def test_the_admins_test_ping_reaches_the_endpoint_signed_and_shows_in_the_log(
        client, db, admin, receiver, celery_worker):
    endpoint = endpoint_for(db, admin, url_of(receiver), events=["letter.sent"])
    login(client, "admin@reaap.test", "mdp-admin")
    assert client.post(f"/redaction/webhooks/{endpoint.id}/essai").status_code == 302
    wait_for(lambda: receiver.received, 30, message="the ping")
    _path, headers, body = receiver.received[0]
    assert verify(endpoint.secret, headers, body) and json.loads(body)["type"] == "ping"

    def logged():
        db.expire_all()
        return db.scalars(select(WebhookAttempt)).all()
    wait_for(logged, 20, message="the attempt logged")
    page = client.get(f"/redaction/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "Essai" in page and "HTTP 200" in page
    # Switched off: no test is sent, and the admin is told why.
    endpoint.active = False
    db.commit()
    response = client.post(f"/redaction/webhooks/{endpoint.id}/essai", follow_redirects=True)
    assert "Ce webhook est inactif" in response.get_data(as_text=True)
    assert len(db.scalars(select(WebhookDelivery)).all()) == 1


def test_a_second_run_before_the_retry_is_due_sends_nothing(db, admin, receiver, captured_jobs, monkeypatch,
                                                           reread_settings):
    monkeypatch.setenv("WEBHOOK_RETRY_DELAY", "60")
    reread_settings()
    receiver.status = 500
    delivery = _one_delivery(db, admin, url_of(receiver), captured_jobs)
    with pytest.raises(webhooks.RetryLater):
        webhooks.deliver(db, delivery.id)
    assert webhooks.deliver(db, delivery.id) is DeliveryStatus.pending  # a sweep racing the retry
    assert len(receiver.received) == 1
    assert len(db.scalars(select(WebhookAttempt)).all()) == 1
