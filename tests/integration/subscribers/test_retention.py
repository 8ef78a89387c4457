"""Retention on PostgreSQL: the re-permission e-mail (once, and through a real worker to the SMTP
server), the re-consent click, erasure after the grace period, unconfirmed subscriptions, old event
registrations anonymised with their counts kept; the dry run changes nothing; a second run does
nothing more; the CLI and the beat task (its schedule: tests/unit/parentalites/test_celery_app.py)."""
from __future__ import annotations

import re
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from core.db import utcnow
from events import retention as events_retention
from events import services as events
from events.models import Registration, RegistrationStatus
from mailing.models import OutboundEmail
from subscribers import retention
from subscribers.models import ConsentRecord, PrivacyRequest, Subscriber, SubscriberStatus
from tests.integration.helpers import make_event, outbox, wait_for

NOW = utcnow().replace(microsecond=0)
YEAR = timedelta(days=365)


def person(db, email: str, status=SubscriberStatus.active, **dates) -> Subscriber:
    dates.setdefault("created_at", NOW - 5 * YEAR)
    sub = Subscriber(email=email, name=email.split("@")[0], status=status, **dates)
    db.add(sub)
    db.commit()
    return sub


def population(db) -> dict[str, Subscriber]:
    """One of each case, relative to NOW."""
    return {
        "silent": person(db, "silent@example.org", confirmed_at=NOW - 4 * YEAR),
        "silent_no_dates": person(db, "ancien@example.org"),  # only created_at, five years ago
        "lively": person(db, "lively@example.org", confirmed_at=NOW - 4 * YEAR, last_activity_at=NOW - YEAR),
        "recent": person(db, "recent@example.org", created_at=NOW - timedelta(days=40),
                         confirmed_at=NOW - timedelta(days=40)),
        "asked_long_ago": person(db, "asked@example.org", confirmed_at=NOW - 4 * YEAR,
                                 repermission_sent_at=NOW - timedelta(days=31)),
        "asked_lately": person(db, "lately@example.org", confirmed_at=NOW - 4 * YEAR,
                               repermission_sent_at=NOW - timedelta(days=5)),
        "left": person(db, "left@example.org", status=SubscriberStatus.unsubscribed, confirmed_at=NOW - 4 * YEAR),
        "pending_old": person(db, "pending-old@example.org", status=SubscriberStatus.pending,
                              created_at=NOW - timedelta(days=31)),
        "pending_new": person(db, "pending-new@example.org", status=SubscriberStatus.pending,
                              created_at=NOW - timedelta(days=3)),
    }


def emails(db) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(Subscriber.email)))


def test_the_rules_on_each_case_then_a_second_run_does_nothing(db, captured_jobs):
    people = population(db)
    report = retention.purge(db, now=NOW)
    db.commit()
    assert report.counts() == {"repermission_sent": 2, "erased_no_answer": 1, "erased_pending": 1}
    assert emails(db) == {"silent@example.org", "ancien@example.org", "lively@example.org", "recent@example.org",
                          "lately@example.org", "left@example.org", "pending-new@example.org"}
    asked = {m.to_addr for m in outbox(db, "subscription_repermission")}
    assert asked == {"silent@example.org", "ancien@example.org"}
    assert db.get(Subscriber, people["silent"].id).repermission_sent_at == NOW
    erasures = db.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id)).all()
    assert [(r.kind, r.channel, r.actor) for r in erasures] == [("erase", "retention", None)] * 2
    # Again, the same day: nobody asked twice, nobody left to erase.
    again = retention.purge(db, now=NOW)
    db.commit()
    assert again.counts() == {"repermission_sent": 0, "erased_no_answer": 0, "erased_pending": 0}
    assert len(outbox(db, "subscription_repermission")) == 2


def test_no_answer_within_the_grace_period_erases(db, captured_jobs):
    silent = person(db, "silent@example.org", confirmed_at=NOW - 4 * YEAR)
    retention.purge(db, now=NOW)
    db.commit()
    assert retention.purge(db, now=NOW + timedelta(days=29)).counts()["erased_no_answer"] == 0
    db.commit()
    assert retention.purge(db, now=NOW + timedelta(days=31)).counts()["erased_no_answer"] == 1
    db.commit()
    assert emails(db) == set() and db.get(Subscriber, silent.id) is None
    assert db.scalar(select(func.count(OutboundEmail.id))) == 0  # the e-mails to the address went with it


def test_the_reconsent_click_refreshes_and_keeps_the_subscriber(client, db, captured_jobs):
    silent = person(db, "silent@example.org", confirmed_at=NOW - 4 * YEAR)
    retention.purge(db, now=NOW)
    db.commit()
    [mail] = outbox(db, "subscription_repermission")
    path = re.search(r"https://parentalites\.test(/abonnement/rester/\S+)", mail.text_body).group(1)
    page = client.get(path)
    assert page.status_code == 200 and "Je reste abonné·e" in page.get_data(as_text=True)
    db.expire_all()
    assert db.get(Subscriber, silent.id).repermission_sent_at is not None  # GET changes nothing
    done = client.post(path)
    assert done.status_code == 200 and "vous restez abonné·e" in done.get_data(as_text=True)
    db.expire_all()
    sub = db.get(Subscriber, silent.id)
    assert sub.repermission_sent_at is None and sub.last_activity_at > NOW - timedelta(minutes=1)
    [proof] = db.scalars(select(ConsentRecord).where(ConsentRecord.subscriber_id == sub.id)).all()
    assert proof.action == "reconsent" and proof.version_id is not None and proof.wording == proof.version.text
    # Past the grace period: kept, and not asked again before three more years.
    report = retention.purge(db, now=NOW + timedelta(days=60))
    db.commit()
    assert report.counts() == {"repermission_sent": 0, "erased_no_answer": 0, "erased_pending": 0}
    assert emails(db) == {"silent@example.org"}
    # A forged link finds nobody.
    assert client.post("/abonnement/rester/pas-un-jeton").status_code == 404


def test_a_pending_subscription_counts_from_its_last_request(db, captured_jobs):
    from subscribers import services
    returning = person(db, "back@example.org", status=SubscriberStatus.unsubscribed, created_at=NOW - 2 * YEAR)
    services.subscribe(db, "back@example.org", "Back")  # pending again today
    db.commit()
    assert retention.purge(db, now=NOW + timedelta(days=1)).erased_pending == 0
    db.commit()
    assert db.get(Subscriber, returning.id).status is SubscriberStatus.pending
    assert retention.purge(db, now=NOW + timedelta(days=31)).erased_pending == 1
    db.commit()
    assert emails(db) == set()


def test_old_registrations_are_anonymised_with_their_counts_kept(db, captured_jobs):
    old = make_event(db, days=-400)
    recent = make_event(db, days=-100, title="Rencontre récente")
    for index, (event, size) in enumerate([(old, 2), (old, 1), (recent, 3)]):
        db.add(Registration(event=event, name=f"Personne {index}", email=f"p{index}@example.org", structure="CS",
                            role="animatrice", accessibility_needs="LSF", party_size=size, position=index + 1,
                            status=RegistrationStatus.confirmed, attended=index == 0))
    db.commit()
    assert events_retention.anonymise_expired_registrations(db, dry_run=True) == 2
    db.commit()
    assert db.scalar(select(func.count(Registration.id)).where(Registration.email.like("%@anonyme.invalid"))) == 0
    assert events_retention.anonymise_expired_registrations(db) == 2
    db.commit()
    db.expire_all()
    kept = db.scalars(select(Registration).where(Registration.event_id == old.id).order_by(Registration.position)).all()
    assert [(r.name, r.structure, r.role, r.accessibility_needs) for r in kept] == [
        ("Inscription anonymisée", "", "", "")] * 2
    assert all(r.email.endswith("@anonyme.invalid") for r in kept)
    assert events.seats_taken(db, old) == 3 and [r.attended for r in kept] == [True, False]
    [untouched] = db.scalars(select(Registration).where(Registration.event_id == recent.id)).all()
    assert untouched.email == "p2@example.org" and untouched.accessibility_needs == "LSF"
    assert events_retention.anonymise_expired_registrations(db) == 0  # idempotent


def test_the_cli_dry_run_changes_nothing_then_the_real_run_prints_the_same_counts(db, captured_jobs):
    from parentalites.cli import main
    population(db)
    event = make_event(db, days=-400)
    db.add(Registration(event=event, name="Old", email="old@example.org", position=1, party_size=1))
    db.commit()
    before = emails(db)
    runner = CliRunner()
    dry = runner.invoke(main, ["subscribers", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    counts = "repermission_sent: 2, erased_no_answer: 1, erased_pending: 1, registrations_anonymised: 1"
    assert dry.output.strip() == "dry run, nothing changed: " + counts
    assert emails(db) == before
    assert db.scalar(select(func.count(OutboundEmail.id))) == 0
    assert db.scalar(select(func.count(PrivacyRequest.id))) == 0
    assert db.scalar(select(Registration.email)) == "old@example.org"
    real = runner.invoke(main, ["subscribers", "purge"])
    assert real.exit_code == 0, real.output
    assert real.output.strip() == counts
    assert len(emails(db)) == len(before) - 2
    rerun = runner.invoke(main, ["subscribers", "purge"])
    assert rerun.output.strip() == ("repermission_sent: 0, erased_no_answer: 0, erased_pending: 0, "
                                    "registrations_anonymised: 0")


def test_the_repermission_e_mail_reaches_the_smtp_server_through_a_real_worker(db, smtp, celery_worker):
    """The beat task itself, run by a real worker: the e-mail leaves after its COMMIT."""
    from parentalites.celery_app import celery_app
    person(db, "silent@example.org", confirmed_at=NOW - 4 * YEAR)
    celery_app.send_task("tasks.retention.purge")
    [received] = wait_for(lambda: smtp.to("silent@example.org"), 60, message="the re-permission e-mail")
    message = received.message
    assert message["Subject"] == "Voulez-vous continuer à recevoir la lettre Parentalités ?"
    body = message.get_body(("plain",)).get_content()
    assert re.search(r"https://parentalites\.test/abonnement/rester/\S+", body)
    assert "https://parentalites.test/confidentialite" in body
    db.expire_all()
    assert db.scalar(select(Subscriber.repermission_sent_at)) is not None



def test_a_preview_nobody_confirmed_loses_its_file_after_a_day_and_a_file_being_uploaded_stays(db):
    """The uploaded CSV holds addresses: the daily purge abandons a day-old preview, deletes its file
    and any file whose import is over; a fresh preview and a file just written stay."""
    import os

    from subscribers import import_files
    from subscribers.models import SubscriberImport

    old = SubscriberImport(filename="ancien.csv", status="preview", created_at=NOW - timedelta(hours=25))
    fresh = SubscriberImport(filename="frais.csv", status="preview", created_at=NOW - timedelta(hours=1))
    done = SubscriberImport(filename="fait.csv", status="done", created_at=NOW - timedelta(hours=2))
    db.add_all([old, fresh, done])
    db.commit()
    paths = {name: import_files.preview_path(record) for name, record in
             (("old", old), ("fresh", fresh), ("done", done))}
    paths["orphan_old"] = import_files.directory() / "orphelin.csv"
    paths["orphan_new"] = import_files.directory() / "en-cours.csv"
    for path in paths.values():
        path.write_text("email\nx@example.org\n")
    two_days_ago = (NOW - timedelta(days=2)).timestamp()
    os.utime(paths["orphan_old"], (two_days_ago, two_days_ago))

    report = retention.purge(db, now=NOW)
    db.commit()

    assert report.others["import_previews_deleted"] == 3
    assert {name for name, path in paths.items() if path.exists()} == {"fresh", "orphan_new"}
    db.refresh(old)
    assert old.status == "abandoned" and old.finished_at is not None
    db.refresh(fresh)
    assert fresh.status == "preview"
    for path in paths.values():
        path.unlink(missing_ok=True)
