"""Every outbox row ends sent or failed, with a real worker and a real SMTP server."""
from __future__ import annotations

from mailing.models import OutboundEmail, OutboundStatus
from mailing.outbox import queue_email
from subscribers import segments
from tests.integration.helpers import wait_for


def test_an_address_the_relay_cannot_take_fails_once_and_never_blocks_the_others(db, smtp, celery_worker):
    # Written before addresses were checked at entry (or by hand): the relay has no SMTPUTF8.
    bad = queue_email(db, "login_link", "josé@exemple.org", {
        "user": type("U", (), {"name": "José", "email": "josé@exemple.org"})(), "url": "https://x.test/l",
        "minutes": 15})
    good = queue_email(db, "login_link", "marie@exemple.org", {
        "user": type("U", (), {"name": "Marie", "email": "marie@exemple.org"})(), "url": "https://x.test/l",
        "minutes": 15})
    db.commit()

    def settled():
        db.expire_all()
        rows = [db.get(OutboundEmail, bad.id), db.get(OutboundEmail, good.id)]
        return rows if all(r.status is not OutboundStatus.queued for r in rows) else None
    failed, sent = wait_for(settled, 60, message="both outbox rows to settle")
    assert sent.status is OutboundStatus.sent and smtp.to("marie@exemple.org")
    assert failed.status is OutboundStatus.failed and failed.attempts == 1
    assert "SMTPUTF8" in failed.last_error or "encod" in failed.last_error.lower(), failed.last_error
    assert not [m for m in smtp.messages if any("jos" in r for r in m.recipients)]


def test_a_letter_to_an_address_the_relay_cannot_take_fails_that_delivery_only(client, db, world, smtp,
                                                                                celery_worker):
    from sqlalchemy import select

    from mailing.models import Delivery, DeliveryStatus
    from newsletter.models import IssueStatus
    from subscribers.models import Subscriber, SubscriberStatus
    from tests.integration.helpers import compose, letters, login, people, wait_sent
    readers = people(db, 3)
    jose = Subscriber(email="josé@exemple.org", name="José", status=SubscriberStatus.active)  # written before the check
    db.add(jose)
    db.commit()
    issue = compose(db, world, articles=1)
    login(client, "redaction@reaap.test", "mdp-redaction")
    audience = str(segments.count(db, issue.segment))  # the count the composer showed, confirmed with the send
    assert client.post(f"/redaction/numeros/{issue.id}/envoyer",
                       data={"confirm": "1", "expected": audience}).status_code == 302
    sent = wait_sent(db, issue.id)
    assert sent.status is IssueStatus.sent
    assert sorted(m.recipients[0] for m in letters(smtp)) == sorted(r.email for r in readers)
    delivery = db.scalar(select(Delivery).where(Delivery.subscriber_id == jose.id))
    assert delivery.status is DeliveryStatus.failed and "SMTPUTF8" in (delivery.smtp_reply or "")
