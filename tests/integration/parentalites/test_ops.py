"""/healthz and /metrics on the real stack: PostgreSQL, Redis, the aiosmtpd server."""
from __future__ import annotations

import socket

import pytest

from contributions.models import Structure, StructureKind
from mailing.models import Delivery, DeliveryStatus, OutboundEmail
from newsletter.models import IssueStatus
from parentalites.catcher import free_port
from subscribers.models import Bounce, BounceKind, SubscriberStatus
from tests.integration.helpers import compose, people


def test_healthz_answers_200_when_the_database_the_broker_and_the_relay_answer(client, smtp):
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ok", "checks": {"database": {"ok": True}, "broker": {"ok": True},
                                                              "smtp": {"ok": True}}}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_naming_what_failed_and_never_a_url_or_a_password(client, smtp, monkeypatch,
                                                                              reread_settings):
    port = free_port()  # nobody listens there
    monkeypatch.setenv("SMTP_URL", f"smtp+starttls://lettre:s3cr3t-relais@127.0.0.1:{port}")
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://:s3cr3t-redis@127.0.0.1:{free_port()}/0")
    reread_settings()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["smtp"]["ok"] is False and body["checks"]["broker"]["ok"] is False
    assert body["checks"]["smtp"]["error"].startswith(("injoignable", "pas de réponse"))
    text = response.get_data(as_text=True)
    assert "s3cr3t" not in text and str(port) not in text and "127.0.0.1" not in text


def test_healthz_gives_up_on_a_relay_that_never_answers(client, smtp, monkeypatch, reread_settings):
    silent = socket.socket()  # accepts the connection, never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{silent.getsockname()[1]}")
        reread_settings()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["smtp"]["ok"] is False
    finally:
        silent.close()


def _scrape(client, **headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_metrics_count_requests_the_mailout_the_outbox_bounces_and_feeds(client, db, world):
    issue = compose(db, world, numero=7, articles=1)
    readers = people(db, 5, status=SubscriberStatus.active)
    issue.status = IssueStatus.sending
    for n, reader in enumerate(readers):
        db.add(Delivery(issue_id=issue.id, subscriber_id=reader.id,
                        status=DeliveryStatus.sent if n < 2 else DeliveryStatus.queued))
    db.add(OutboundEmail(template="login_link", to_addr="x@example.org", subject="s", text_body="t"))
    db.add_all([Bounce(kind=BounceKind.hard, source="webhook"), Bounce(kind=BounceKind.hard, source="webhook"),
                Bounce(kind=BounceKind.complaint, source="webhook")])
    db.add(Structure(name="Flux cassé", kind=StructureKind.association, commune="Bondy",
                     feed_url="https://example.org/feed", feed_failures=4))
    db.commit()
    assert client.get("/").status_code == 200
    text = _scrape(client)
    assert f'parentalites_mailout_backlog{{issue="{issue.id}",numero="7",status="sending"}} 3.0' in text
    assert f'parentalites_mailout_sent_total{{issue="{issue.id}",numero="7"}} 2.0' in text
    assert "parentalites_outbox_backlog " in text  # the letter's decisions queued e-mails too
    assert 'parentalites_bounces_total{kind="hard"} 2.0' in text
    assert 'parentalites_bounces_total{kind="complaint"} 1.0' in text
    assert "parentalites_feeds_failing 1.0" in text and "parentalites_feeds_flagged 1.0" in text
    assert 'parentalites_http_requests_total{method="GET",route="/",status="200"}' in text
    assert "parentalites_queue_length{queue=" in text  # Redis in the tests
    assert "parentalites_database_up 1.0" in text
    assert "example.org" not in text


@pytest.mark.parametrize("header", [None, "Bearer faux-jeton", "Basic bWV0cmljczpzM2NyZXQ=", "Bearer "])
def test_metrics_need_the_token_when_metrics_token_is_set(client, monkeypatch, reread_settings, header):
    monkeypatch.setenv("METRICS_TOKEN", "jeton-des-metriques")
    reread_settings()
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "parentalites_" not in response.get_data(as_text=True)
    assert "parentalites_outbox_backlog" in _scrape(client, Authorization="Bearer jeton-des-metriques")
