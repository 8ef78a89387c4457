"""One way out: with SMTP_RELAYS set, every message (a confirmation, a login link, a letter) leaves
through the relays, and nothing reaches SMTP_URL. Two real SMTP servers (aiosmtpd): the session's
own at SMTP_URL, and a relay started for the test."""
from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from accounts.auth import send_login_link
from mailing import outbox, sender
from mailing.models import OutboundEmail, OutboundStatus
from newsletter import mailout
from parentalites.catcher import free_port
from subscribers import services as subscribers
from subscribers.models import Subscriber, SubscriberStatus
from tests.integration.helpers import compose, letters
from tests.stack import RecordingHandler


@pytest.fixture
def relay(monkeypatch, tmp_path, smtp):
    """A second SMTP server named by SMTP_RELAYS; SMTP_URL still names the session's server."""
    from core.settings import reset_settings
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.url = f"smtp://127.0.0.1:{port}"
    monkeypatch.setenv("SMTP_RELAYS", f"{handler.url} per_second=50")
    monkeypatch.setenv("PARENTALITES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")  # buckets in a file under tmp_path
    reset_settings()
    sender.relay_setup.cache_clear()
    yield handler
    controller.stop()
    monkeypatch.undo()
    reset_settings()
    sender.relay_setup.cache_clear()


def send_outbox(db, captured_jobs) -> list[OutboundStatus]:
    """Run the outbox jobs the services asked for, as the worker's task does."""
    db.commit()  # the boundary of the requests that asked: their jobs leave now
    ids = [args[0] for name, args in captured_jobs if name == "tasks.mail.send_outbound"]
    captured_jobs.clear()
    return [outbox.send_outbound(db, outbound_id) for outbound_id in ids]


def test_confirmation_login_link_and_letter_all_leave_through_the_relay(db, world, smtp, relay, captured_jobs):
    subscribers.subscribe(db, "lea@example.org", "Léa")
    send_login_link(db, "redaction@reaap.test")
    assert send_outbox(db, captured_jobs) == [OutboundStatus.sent, OutboundStatus.sent]

    db.add(Subscriber(email="pro@example.org", name="Zoé", status=SubscriberStatus.active))
    db.commit()
    issue = compose(db, world)
    mailout.request_send(db, issue)
    db.commit()
    mailout.start(db, issue.id)
    assert mailout.run_batch(db, issue.id) == 1
    # Composing accepted two contributions: their partner is told, through the outbox too.
    assert send_outbox(db, captured_jobs) == [OutboundStatus.sent, OutboundStatus.sent]

    templates = [m.template for m in db.scalars(select(OutboundEmail).order_by(OutboundEmail.id))]
    assert templates == ["subscription_confirm", "login_link", "moderation_decision", "moderation_decision"]
    assert len(relay.messages) == 5
    at_relay = {(m.recipients[0], m.message["Subject"]) for m in relay.messages}
    assert ("lea@example.org", "Confirmez votre abonnement à la lettre Parentalités") in at_relay
    assert any(to == "redaction@reaap.test" and "connexion" in subject.lower() for to, subject in at_relay)
    assert [m.recipients for m in letters(relay)] == [["pro@example.org"]]
    assert smtp.messages == []  # nothing went to SMTP_URL


def test_without_relays_everything_goes_to_smtp_url(db, world, smtp, captured_jobs):
    subscribers.subscribe(db, "lea@example.org", "Léa")
    assert send_outbox(db, captured_jobs) == [OutboundStatus.sent]
    assert [m.recipients for m in smtp.messages] == [["lea@example.org"]]


def test_a_single_email_falls_back_when_the_first_relay_is_down(db, world, smtp, relay, captured_jobs, monkeypatch):
    from core.settings import reset_settings
    dead = free_port()  # nobody listens there
    monkeypatch.setenv("SMTP_RELAYS", f"smtp://127.0.0.1:{dead}; {relay.url} fallback")
    reset_settings()
    sender.relay_setup.cache_clear()
    subscribers.subscribe(db, "lea@example.org", "Léa")
    assert send_outbox(db, captured_jobs) == [OutboundStatus.sent]
    assert [m.recipients for m in relay.messages] == [["lea@example.org"]]
    assert smtp.messages == []

