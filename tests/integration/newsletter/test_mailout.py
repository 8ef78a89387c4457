"""The mail-out on the real stack: PostgreSQL ledger, Redis broker, real Celery worker processes,
a real SMTP server. Nothing is mocked."""
from __future__ import annotations

import os
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from core.db import utcnow
from mailing import sender
from mailing.models import Delivery, DeliveryStatus
from newsletter import mailout
from newsletter.models import Issue, IssueStatus
from subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from tests.integration.helpers import (
    compose,
    letters,
    login,
    people,
    wait_for,
    wait_sent,
)
from tests.stack import WorkerProcess


def started(db, world) -> Issue:
    """An issue composed, requested and started in-process: deliveries planned, ready for run_batch."""
    issue = compose(db, world)
    mailout.request_send(db, issue)
    db.commit()
    mailout.start(db, issue.id)
    return issue


def test_editor_sends_the_letter_and_every_confirmed_subscriber_gets_it(client, db, world, smtp, celery_worker):
    active = people(db, 23)
    people(db, 2, SubscriberStatus.pending, "attente")
    people(db, 1, SubscriberStatus.unsubscribed, "parti")
    smtp.refuse["pro5@example.org"] = "550 5.1.1 <pro5@example.org>: Recipient address rejected: User unknown"
    issue = compose(db, world)
    login(client, "redaction@reaap.test", "mdp-redaction")

    response = client.post(f"/redaction/numeros/{issue.id}/envoyer")  # no confirmation ticked
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.draft
    response = client.post(f"/redaction/numeros/{issue.id}/envoyer", data={"confirm": "1", "expected": "23"})
    assert response.status_code == 302
    sent = wait_sent(db, issue.id)

    received = Counter(m.recipients[0] for m in letters(smtp))
    expected = {s.email for s in active} - {"pro5@example.org"}
    assert set(received) == expected and set(received.values()) == {1}  # everyone once, nobody else
    p = mailout.progress(db, issue.id)
    assert (p.total, p.sent, p.failed, p.remaining) == (23, 22, 1, 0)
    failed = db.scalar(select(Delivery).join(Subscriber).where(Subscriber.email == "pro5@example.org"))
    assert failed.status is DeliveryStatus.failed and failed.smtp_code == 550
    assert "User unknown" in failed.smtp_reply
    # Published: the archive page and the contributions.
    assert sent.published_at is not None
    assert client.get("/lettres/1/").status_code == 200
    assert {i.contribution.status for i in sent.items} == {S.published}
    # The editor sees the outcome.
    page = client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True)
    assert 'Envoyés : <span data-k="sent">22</span>' in page and "pro5@example.org" in page


def test_each_message_is_a_proper_personal_multipart_letter(client, db, world, smtp, celery_worker):
    [subscriber] = people(db, 1)
    issue = compose(db, world)
    mailout.request_send(db, issue)
    db.commit()
    wait_sent(db, issue.id)
    [received] = letters(smtp)
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in message.iter_parts())
    for header in ("Message-ID", "Date", "List-Id", "From", "To"):
        assert message[header], header
    delivery_id = db.scalar(select(Delivery.id).where(Delivery.issue_id == issue.id))
    # The link names the delivery: the statistics count the unsubscribes each letter brought.
    unsubscribe_url = f"https://parentalites.test/desabonnement/{subscriber.unsubscribe_token}?envoi={delivery_id}"
    assert message["List-Unsubscribe"].strip() == f"<{unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Subject"] == "Lettre Parentalités n°1 : Lettre de test 1"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Bonjour Zoé pro 0," in html and "Bonjour Zoé pro 0," in text
    assert unsubscribe_url in html and unsubscribe_url in text
    assert "Article 1.0 — « éàç »" in html and "<strong>gras</strong>" in html
    # The one-click link in the message works as RFC 8058 says.
    response = client.post(unsubscribe_url.removeprefix("https://parentalites.test"),
                           data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    db.refresh(subscriber)
    assert subscriber.status is SubscriberStatus.unsubscribed
    proof = db.scalar(select(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber.id,
                                                  ConsentRecord.action == "unsubscribe:one-click"))
    assert proof.details == {"issue_id": issue.id}  # the letter whose link was used


def test_the_partner_is_told_of_the_decision_by_the_worker(db, world, smtp, celery_worker):
    c = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title="Atelier cuisine"))
    contributions.decide(db, world["editor"], c, S.changes_requested, "Ajoutez la date, s'il vous plaît.")
    db.commit()
    [mail] = wait_for(lambda: smtp.to("amina@tilleuls.test"), 30, message="the moderation e-mail")
    assert "Ajoutez la date" in mail.message.get_body(("plain",)).get_content()
    assert "Atelier cuisine" in mail.message["Subject"]


def test_test_send_goes_to_one_address_and_records_no_delivery(db, world, smtp, celery_worker):
    people(db, 3)
    issue = compose(db, world)
    mailout.send_test(db, issue, "relecture@reaap.test")
    db.commit()
    [mail] = wait_for(lambda: smtp.to("relecture@reaap.test"), 30, message="the test letter")
    assert mail.message["Subject"].startswith("[TEST] Lettre Parentalités n°1")
    assert db.scalar(select(func.count(Delivery.id))) == 0
    assert letters(smtp) == []
    assert {r for m in smtp.messages for r in m.recipients} == {"relecture@reaap.test", "amina@tilleuls.test"}
    # A working one-click link or none (issue 13, item 29): a test address has no subscription to end.
    assert mail.message["List-Unsubscribe"] is None and mail.message["List-Unsubscribe-Post"] is None
    assert mail.message["List-Id"] and mail.message["Auto-Submitted"] == "auto-generated"
    decisions = smtp.to("amina@tilleuls.test")  # transactional mails say they are automatic too
    assert decisions and all(m.message["Auto-Submitted"] == "auto-generated" for m in decisions)


@pytest.fixture
def beat():
    process = WorkerProcess("beat", command="beat", ready_marker=b"beat: Starting").start()
    yield process
    process.stop()


def test_a_scheduled_letter_leaves_at_its_time_through_beat(db, world, smtp, celery_worker, beat):
    people(db, 4)
    issue = compose(db, world)
    mailout.request_send(db, issue, utcnow() + timedelta(seconds=3))
    db.commit()
    time.sleep(1)
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.scheduled and letters(smtp) == []
    wait_sent(db, issue.id, timeout=60)
    assert len(letters(smtp)) == 4


def test_a_worker_killed_mid_send_loses_nobody(db, world, smtp, celery_worker, beat):
    """SIGKILL a worker and its pool in the middle of a mail-out: the sweeper gives its claims back,
    another worker finishes. Duplicates are bounded by what the killed worker had in flight."""
    subscribers = people(db, 60)
    smtp.delay = 0.04
    victim = WorkerProcess("victim").start()
    issue = compose(db, world)
    mailout.request_send(db, issue)
    db.commit()
    wait_for(lambda: len(letters(smtp)) >= 10, 60, interval=0.05, message="the mail-out to start")
    in_flight = db.scalar(select(func.count()).where(Delivery.issue_id == issue.id,
                                                     Delivery.status == DeliveryStatus.claimed))
    victim.kill()
    smtp.delay = 0.0
    wait_sent(db, issue.id, timeout=120)
    received = Counter(m.recipients[0] for m in letters(smtp))
    lost = {s.email for s in subscribers} - set(received)
    duplicates = sum(n - 1 for n in received.values())
    print(f"\nlost: {len(lost)}, duplicates: {duplicates}, in_flight_at_kill: {in_flight}")
    assert lost == set()
    assert duplicates <= in_flight
    assert mailout.progress(db, issue.id).sent == 60


def test_a_temporary_refusal_is_retried_later_then_recorded_with_the_reply(db, world, smtp, captured_jobs):
    """4xx: back in the queue with a delay (not a blocking sleep), up to MAX_ATTEMPTS; the rest of
    the batch goes on. Run in-process (no worker) so that the clock can be moved."""
    people(db, 3)
    smtp.refuse["pro1@example.org"] = "451 4.7.1 Greylisted, try again later"
    issue = compose(db, world)
    mailout.request_send(db, issue)
    db.commit()
    assert mailout.start(db, issue.id) == 3
    assert mailout.run_batch(db, issue.id) == 3
    assert sorted(r for m in letters(smtp) for r in m.recipients) == ["pro0@example.org", "pro2@example.org"]
    deferred = db.scalar(select(Delivery).join(Subscriber).where(Subscriber.email == "pro1@example.org"))
    db.refresh(deferred)
    assert (deferred.status, deferred.attempts, deferred.smtp_code) == (DeliveryStatus.queued, 1, 451)
    assert deferred.not_before > utcnow() + timedelta(seconds=30)
    assert mailout.run_batch(db, issue.id) == 0  # not yet due: nothing claimed, issue not finished
    assert db.get(Issue, issue.id).status is IssueStatus.sending
    for _attempt in (2, 3):
        db.execute(Delivery.__table__.update().values(not_before=utcnow() - timedelta(seconds=1)))
        db.commit()
        assert mailout.run_batch(db, issue.id) == 1
    db.refresh(deferred)
    assert (deferred.status, deferred.attempts) == (DeliveryStatus.failed, 3)
    assert deferred.smtp_reply.startswith("4.7.1 Greylisted")
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.sent


def test_an_unreachable_smtp_server_gives_the_batch_back(db, world, smtp, captured_jobs, monkeypatch):
    import smtplib
    people(db, 4)
    issue = started(db, world)
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:1")  # nobody listens there
    from core.settings import reset_settings
    reset_settings()
    try:
        with pytest.raises((smtplib.SMTPException, OSError)):
            mailout.run_batch(db, issue.id)
    finally:
        monkeypatch.undo()
        reset_settings()
    p = mailout.progress(db, issue.id)
    assert (p.queued, p.claimed, p.sent, p.failed) == (4, 0, 0, 0)  # nothing lost, nothing failed
    assert mailout.run_batch(db, issue.id) == 4
    assert len(letters(smtp)) == 4


@pytest.mark.parametrize("pipelining", [False, True])
def test_refusals_and_verp_with_and_without_pipelining(db, world, smtp, captured_jobs, pipelining):
    from mailing.smtp import SMTPConnection
    from mailing.verp import parse_verp
    smtp.pipelining = pipelining
    with SMTPConnection() as connection:
        connection.client.ehlo_or_helo_if_needed()
        assert connection.client.has_extn("pipelining") is pipelining
    people(db, 5)
    smtp.refuse["pro2@example.org"] = "550 5.1.1 User unknown"
    smtp.refuse["pro3@example.org"] = "452 4.2.2 Mailbox full"
    issue = started(db, world)
    assert mailout.run_batch(db, issue.id) == 5
    got = {m.recipients[0]: m for m in letters(smtp)}
    assert sorted(got) == ["pro0@example.org", "pro1@example.org", "pro4@example.org"]
    outcomes = {d.subscriber.email: (d.status, d.smtp_code) for d in db.scalars(select(Delivery))}
    assert outcomes["pro2@example.org"] == (DeliveryStatus.failed, 550)
    assert outcomes["pro3@example.org"] == (DeliveryStatus.queued, 452)  # retried later
    # The envelope sender names the delivery (VERP).
    delivery = db.scalar(select(Delivery).join(Subscriber).where(Subscriber.email == "pro4@example.org"))
    assert parse_verp(got["pro4@example.org"].envelope_from) == delivery.id


def test_pause_resume_and_cancel(db, world, smtp, captured_jobs):
    people(db, 20)
    issue = started(db, world)
    assert mailout.run_batch(db, issue.id) == 7          # MAILOUT_BATCH_SIZE=7 in the tests
    mailout.pause(db, issue)
    assert mailout.run_batch(db, issue.id) == 0          # paused: nothing more is claimed
    assert mailout.sweep(db)["woken"] == 0               # and the sweeper leaves it alone
    assert len(letters(smtp)) == 7
    captured_jobs.clear()
    mailout.resume(db, issue)
    db.commit()
    assert captured_jobs and all(name == mailout.SEND_BATCH_TASK for name, _ in captured_jobs)
    assert mailout.run_batch(db, issue.id) == 7
    assert mailout.cancel(db, issue) == 6
    assert mailout.run_batch(db, issue.id) == 0
    db.expire_all()
    p = mailout.progress(db, issue.id)
    assert (p.sent, p.cancelled, p.remaining) == (14, 6, 0) and len(letters(smtp)) == 14
    cancelled = db.get(Issue, issue.id)
    assert cancelled.status is IssueStatus.cancelled and cancelled.published_at is None
    with pytest.raises(mailout.MailoutError):
        mailout.resume(db, cancelled)


def test_too_many_failures_in_a_row_pause_the_mailout_and_tell_the_editors(db, world, smtp, captured_jobs, monkeypatch):
    from core.settings import reset_settings
    from mailing.models import OutboundEmail
    monkeypatch.setenv("MAILOUT_MAX_CONSECUTIVE_FAILURES", "3")
    reset_settings()
    try:
        people(db, 6)
        for n in range(1, 6):  # the relay starts refusing everyone after the first
            smtp.refuse[f"pro{n}@example.org"] = "554 5.7.1 Service unavailable; client host blocked"
        issue = compose(db, world)
        mailout.request_send(db, issue)
        db.commit()
        mailout.start(db, issue.id)
        mailout.run_batch(db, issue.id)
    finally:
        monkeypatch.undo()
        reset_settings()
    db.expire_all()
    paused = db.get(Issue, issue.id)
    assert paused.status is IssueStatus.paused and "3 échecs d'affilée" in paused.send_error
    assert "client host blocked" in paused.send_error
    p = mailout.progress(db, issue.id)
    assert (p.sent, p.failed, p.queued) == (1, 3, 2)    # the rest waits, nothing is lost
    [notice] = [m for m in db.scalars(select(OutboundEmail)) if m.template == "mailout_paused"]
    assert notice.to_addr == "redaction@reaap.test" and "client host blocked" in notice.text_body


@pytest.fixture
def throttled(monkeypatch, tmp_path):
    """Configure relays and caps for one test (file-backed buckets, so no other run shares them)."""
    from core.settings import reset_settings

    def configure(**env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PARENTALITES_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("CELERY_BROKER_URL", "memory://")  # buckets in a file under tmp_path
        reset_settings()
        sender.relay_setup.cache_clear()
    yield configure
    monkeypatch.undo()
    reset_settings()
    sender.relay_setup.cache_clear()


def test_a_domain_cap_delays_only_that_provider_without_sleeping(db, world, smtp, captured_jobs, throttled):
    throttled(DOMAIN_CAPS="example.org=2/3600")
    people(db, 4)  # @example.org
    db.add_all([Subscriber(email=f"autre{n}@ailleurs.test", name="", status=SubscriberStatus.active) for n in range(3)])
    db.commit()
    issue = started(db, world)
    before = utcnow()
    assert mailout.run_batch(db, issue.id) == 7
    got = sorted(r for m in letters(smtp) for r in m.recipients)
    assert len([r for r in got if r.endswith("@example.org")]) == 2
    assert len([r for r in got if r.endswith("@ailleurs.test")]) == 3
    waiting = db.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.queued)).all()
    assert len(waiting) == 2 and all(d.not_before > before + timedelta(minutes=10) for d in waiting)
    assert all(d.attempts == 0 for d in waiting)  # a rate limit is not a failed attempt
    # The next batch is scheduled for when they may leave (at most a minute ahead), not now.
    name, args = captured_jobs[-1]
    assert name == mailout.SEND_BATCH_TASK


def test_a_relay_at_its_hourly_limit_hands_over_to_the_fallback(db, world, smtp, captured_jobs, throttled):
    port = int(os.environ["SMTP_URL"].rsplit(":", 1)[1])
    throttled(SMTP_RELAYS=f"smtp://127.0.0.1:{port} per_hour=2; smtp://localhost:{port} fallback")
    people(db, 5)
    issue = started(db, world)
    assert mailout.run_batch(db, issue.id) == 5
    assert len(letters(smtp)) == 5 and mailout.progress(db, issue.id).sent == 5


def test_when_every_relay_is_at_its_limit_the_batch_waits_in_the_queue(db, world, smtp, captured_jobs, throttled):
    throttled(SMTP_RELAYS=f"{os.environ['SMTP_URL']} per_hour=3")
    people(db, 6)
    issue = started(db, world)
    assert mailout.run_batch(db, issue.id) == 6
    p = mailout.progress(db, issue.id)
    assert (p.sent, p.queued, p.failed) == (3, 3, 0)
    assert mailout.count_claimable(db, issue.id) == 0  # they wait for the bucket, not for a worker


def test_flushing_redis_in_the_middle_loses_nobody(db, world, smtp, celery_worker, beat):
    """The broker is only a trigger: after FLUSHDB, beat's sweeper wakes workers again from what the
    database says (and gives back claims whose task vanished), and the mail-out completes."""
    import redis

    from tests.conftest import REDIS_URL
    subscribers = people(db, 40)
    smtp.delay = 0.05
    issue = compose(db, world)
    mailout.request_send(db, issue)
    db.commit()
    wait_for(lambda: len(letters(smtp)) >= 5, 60, interval=0.05, message="the mail-out to start")
    redis.Redis.from_url(REDIS_URL).flushdb()
    smtp.delay = 0.0
    wait_sent(db, issue.id, timeout=120)
    received = Counter(m.recipients[0] for m in letters(smtp))
    assert {s.email for s in subscribers} == set(received)
    print(f"\nafter FLUSHDB: lost: 0, duplicates: {sum(n - 1 for n in received.values())}")


def test_a_slow_batch_keeps_its_claims_alive_so_the_sweeper_never_resends_it(db, world, smtp, captured_jobs,
                                                                             monkeypatch):
    """A batch that takes longer than MAILOUT_STALE_AFTER must not be given to another worker while
    its own worker is alive: the claims are refreshed as it goes."""
    import threading

    from core.settings import reset_settings
    monkeypatch.setenv("MAILOUT_STALE_AFTER", "3")
    reset_settings()
    try:
        people(db, 7)
        smtp.delay = 0.8  # 7 messages ≈ 5.6 s, beyond the 3 s window
        issue = compose(db, world)
        mailout.request_send(db, issue)
        db.commit()
        mailout.start(db, issue.id)
        released = []

        def sweeper():
            from core.db import SessionFactory
            other = SessionFactory()
            for _ in range(5):
                time.sleep(1.2)
                released.append(mailout.sweep(other)["released"])
            other.close()
        thread = threading.Thread(target=sweeper)
        thread.start()
        mailout.run_batch(db, issue.id)
        thread.join()
    finally:
        monkeypatch.undo()
        reset_settings()
    assert sum(released) == 0
    received = Counter(m.recipients[0] for m in letters(smtp))
    assert len(received) == 7 and set(received.values()) == {1}


def test_a_connection_dropped_mid_data_is_reopened_and_nobody_is_skipped(db, world, smtp, captured_jobs):
    people(db, 5)
    smtp.drop_once.add("pro2@example.org")
    issue = started(db, world)
    assert mailout.run_batch(db, issue.id) == 5
    received = Counter(m.recipients[0] for m in letters(smtp))
    assert received == Counter({f"pro{n}@example.org": 1 for n in range(5)})
    assert mailout.progress(db, issue.id).sent == 5


def test_a_letter_to_a_segment_reaches_exactly_its_active_subscribers(client, db, world, smtp, celery_worker):
    """A CLAS edition for Seine-Saint-Denis: chosen in the composer, counted, confirmed, sent by the
    real worker through the SMTP server to its active subscribers and nobody else."""
    def sub(name, topics, departement, status=SubscriberStatus.active, role=None):
        db.add(Subscriber(email=f"{name}@example.org", name=name, topics=topics, departement=departement,
                          status=status, role=role))
    sub("clas93", ["clas"], "93")
    sub("clas_sante93", ["clas", "sante"], "93", role="referent_clas")
    sub("tout93", [], "93")                                   # no topic chosen: every topic
    sub("clas94", ["clas"], "94")
    sub("parent93", ["parentalite"], "93")
    sub("clas_sans_dept", ["clas"], None)
    sub("clas93_parti", ["clas"], "93", SubscriberStatus.unsubscribed)
    sub("clas93_attente", ["clas"], "93", SubscriberStatus.pending)
    sub("clas93_supprime", ["clas"], "93", SubscriberStatus.suppressed)
    db.commit()
    issue = compose(db, world)
    login(client, "redaction@reaap.test", "mdp-redaction")
    url = f"/redaction/numeros/{issue.id}"
    page = client.get(url).get_data(as_text=True)
    assert "<strong>Tous les abonnés</strong> : 6 abonné·e·s recevront ce numéro." in page
    assert "Envoyer maintenant à tous les abonnés" in page
    assert 'value="93"> <label for="departements-' in page  # the départements subscribers gave, to tick

    # A département the list does not know: a French error, nothing saved.
    response = client.post(f"{url}/destinataires", data={"topics": ["clas"], "other_departements": "Seine-et-Oise"})
    assert response.status_code == 302
    assert "Département inconnu : Seine-et-Oise" in client.get(url).get_data(as_text=True)
    db.expire_all()
    assert db.get(Issue, issue.id).segment is None

    response = client.post(f"{url}/destinataires", data={"action": "save", "topics": ["clas"],
                                                         "departements": ["93"]})
    assert response.status_code == 302 and response.location.endswith("#destinataires")
    db.expire_all()
    assert db.get(Issue, issue.id).segment == {"topics": ["clas"], "departements": ["93"]}
    page = client.get(url).get_data(as_text=True)
    assert ("Destinataires enregistrés : Thèmes : Accompagnement à la scolarité (CLAS) ; "
            "départements : Seine-Saint-Denis (93), soit 3 abonné·e·s.") in page
    assert ("<strong>Thèmes : Accompagnement à la scolarité (CLAS) ; départements : Seine-Saint-Denis (93)</strong>"
            " : 3 abonné·e·s recevront ce numéro.") in page
    assert "Je confirme l'envoi de ce numéro à 3 abonné·e·s confirmé·e·s." in page
    assert '<input type="hidden" name="expected" value="3">' in page
    assert "Envoyer maintenant à la sélection" in page

    # The count confirmed is no longer the count (the page was stale): refused.
    client.post(f"{url}/envoyer", data={"confirm": "1", "expected": "6"})
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.draft
    assert "La sélection a changé" in client.get(url).get_data(as_text=True)

    response = client.post(f"{url}/envoyer", data={"confirm": "1", "expected": "3"})
    assert response.status_code == 302
    sent = wait_sent(db, issue.id)
    received = Counter(m.recipients[0] for m in letters(smtp))
    assert received == {"clas93@example.org": 1, "clas_sante93@example.org": 1, "tout93@example.org": 1}
    assert mailout.progress(db, issue.id).total == 3
    assert "Envoi lancé vers 3 abonné·e·s." in client.get(url).get_data(as_text=True)

    # Sent: the segment can no longer change, and the composer says who it went to.
    client.post(f"{url}/destinataires", data={"action": "everyone"})
    db.expire_all()
    assert db.get(Issue, issue.id).segment == {"topics": ["clas"], "departements": ["93"]}
    page = client.get(url).get_data(as_text=True)
    assert "il ne peut plus être modifié" in page
    assert "Destinataires : <strong>Thèmes : Accompagnement à la scolarité (CLAS)" in page
    # It is a numbered letter: published in the archive, which says nothing of its segment.
    assert sent.published_at is not None
    public = client.get("/lettres/1/").get_data(as_text=True)
    assert "Lettre de test 1" in public and "Seine-Saint-Denis" not in public and "Destinataires" not in public


def test_the_segment_can_change_while_scheduled_but_not_once_sending(db, world, captured_jobs):
    from newsletter import issues
    issue = compose(db, world)
    mailout.request_send(db, issue, utcnow() + timedelta(days=1))
    issues.set_segment(db, issue, {"roles": ["referent_clas"]})
    assert issue.segment == {"roles": ["referent_clas"]}
    with pytest.raises(issues.CompositionError, match="Département inconnu : 20"):
        issues.set_segment(db, issue, {"departements": ["20"]})
    issue.status = IssueStatus.sending
    with pytest.raises(issues.CompositionError, match="ne peut plus être modifié"):
        issues.set_segment(db, issue, None)
    assert issue.segment == {"roles": ["referent_clas"]}


def test_a_segment_that_reaches_nobody_cannot_be_sent_nor_scheduled(client, db, world, captured_jobs):
    people(db, 2)
    issue = compose(db, world)
    login(client, "redaction@reaap.test", "mdp-redaction")
    url = f"/redaction/numeros/{issue.id}"
    client.post(f"{url}/destinataires", data={"roles": ["elu"]})
    page = client.get(url).get_data(as_text=True)
    assert "0 abonné·e·s recevront ce numéro." in page and "Envoyer maintenant" not in page
    assert "Personne ne recevrait ce numéro" in page
    client.post(f"{url}/envoyer", data={"confirm": "1", "expected": "0"})
    client.post(f"{url}/programmer", data={"when": "2099-01-01T09:00"})
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.draft
    assert client.get(url).get_data(as_text=True).count("Personne ne recevrait ce numéro") >= 2  # flashes and box
