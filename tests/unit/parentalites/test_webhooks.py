"""Webhooks without a server: the signature a receiver checks, the backoff, what an address may
be, and what a payload says (never a person's address or name)."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from parentalites.webhooks import events, sending, services


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_and_changes_with_each_part():
    body = json.dumps({"type": "letter.sent", "data": {"é": 1}}, ensure_ascii=False).encode()
    header = sending.sign("whsec_abc", 1_790_000_000, body)
    timestamp, signature = (part.split("=", 1)[1] for part in header.split(","))
    assert timestamp == "1790000000"
    assert signature == hmac.new(b"whsec_abc", b"1790000000." + body, hashlib.sha256).hexdigest()
    assert sending.sign("whsec_abd", 1_790_000_000, body) != header
    assert sending.sign("whsec_abc", 1_790_000_001, body) != header
    assert sending.sign("whsec_abc", 1_790_000_000, body + b" ") != header


def test_retries_wait_twice_as_long_each_time_up_to_half_an_hour(monkeypatch, reread_settings):
    monkeypatch.setenv("WEBHOOK_RETRY_DELAY", "30")
    reread_settings()
    assert [services.retry_delay(n) for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert services.retry_delay(12) == services.MAX_RETRY_DELAY == 1800


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://127.0.0.2:8080/", "http://[::1]/",
                                 "https://192.168.0.4/", "http://169.254.169.254/latest/", "http://[fe80::1]/",
                                 "http://[::ffff:10.0.0.1]/", "http://0.0.0.0/", "http://167772161/"])
def test_an_address_in_a_private_or_internal_network_is_refused(url):
    with pytest.raises(sending.UnsafeURL, match="réseau privé ou interne"):
        sending.check_url(url)


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.org/", "https://"), ("https:///chemin", "https://"), ("http://example.org:99999/", "port"),
    ("https://moi:secret@example.org/", "identifiant"), ("javascript:alert(1)", "https://")])
def test_an_unusable_address_is_refused_with_a_french_reason(url, message):
    with pytest.raises(sending.UnsafeURL, match=message):
        sending.check_url(url)


def test_the_payloads_carry_ids_and_public_facts_never_an_address_or_a_name():
    moment = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    subscriber = SimpleNamespace(id=12, email="zoe@example.org", name="Zoé", topics=["clas"], confirmed_at=moment,
                                 unsubscribed_at=moment)
    event = SimpleNamespace(id=3, title="Soirée du Réaap", starts_at=moment)
    registration = SimpleNamespace(id=8, email="nadia@example.org", name="Nadia", party_size=2, event=event,
                                   status=SimpleNamespace(value="confirmed"))
    payloads = [events.subscriber_confirmed(subscriber), events.subscriber_unsubscribed(subscriber, "one-click"),
                events.registration(registration, SimpleNamespace(value="waitlisted"))]
    assert payloads[0] == {"subscriber": {"id": 12, "topics": ["clas"], "confirmed_at": "2026-12-02T09:30:00Z"}}
    assert payloads[2]["registration"] == {"id": 8, "status": "confirmed", "party_size": 2,
                                           "previous_status": "waitlisted"}
    text = json.dumps(payloads, ensure_ascii=False)
    assert "example.org" not in text and "Zoé" not in text and "Nadia" not in text
