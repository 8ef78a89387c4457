"""Bounces on the real database: the suppression policy, Maildir / IMAP / webhook ingestion, and the
editors' list of suppressed addresses. VERP and the classification (checked on public corpora) are
in tests/unit/mailing/; the IMAP URL in tests/unit/subscribers/test_bounces.py."""
from __future__ import annotations

import mailbox
from datetime import date, timedelta
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from sqlalchemy import func, select

from contributions import services as contributions
from contributions.models import ContributionKind, ContributionStatus
from core.db import utcnow
from mailing.dsn import BounceReport, classify
from mailing.models import Delivery
from mailing.verp import verp_address
from newsletter import issues, mailout
from subscribers import bounces
from subscribers.bounces import record_bounce
from subscribers.models import (
    Bounce,
    BounceKind,
    ConsentRecord,
    Subscriber,
    SubscriberStatus,
)
from tests.integration.helpers import login

# --- Messages composed here (no corpus text in the repository) ----------------------------------


def dsn(to: str, recipient: str, action: str = "failed", status: str = "5.1.1",
        diagnostic: str = "smtp; 550 5.1.1 <{r}>: Recipient address rejected: User unknown",
        original_to: str | None = None) -> bytes:
    """A delivery status notification (RFC 3464) as a remote MTA would send it."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.exemple.test>"
    report["To"] = to
    report["Subject"] = ("Delayed Mail (still being retried)" if action == "delayed"
                         else "Undelivered Mail Returned to Sender")
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText(f"Le message n'a pas pu être remis à <{recipient}>.\n", "plain", "utf-8"))
    status_part = Message()
    status_part.set_type("message/delivery-status")
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.exemple.test"
    per_recipient = Message()
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = diagnostic.format(r=recipient)
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    original = MIMEText("Bonjour,\nvoici la lettre Parentalités.\n", "plain", "utf-8")
    original["From"] = "Lettre Parentalités <lettre@parentalites.test>"
    original["To"] = original_to or recipient
    original["Subject"] = "Lettre Parentalités n°1"
    report.attach(MIMEMessage(original))
    return report.as_bytes()


def arf(to: str, recipient: str) -> bytes:
    """An abuse report in the Abuse Reporting Format (RFC 5965), as a mailbox provider's feedback
    loop sends when a reader clicks "this is spam"."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "Feedback Loop <fbl@fournisseur.test>"
    report["To"] = to
    report["Subject"] = "Abuse report"
    report.attach(MIMEText("Un de vos destinataires a signalé ce message comme indésirable.\n", "plain", "utf-8"))
    fields = Message()
    fields["Feedback-Type"] = "abuse"
    fields["User-Agent"] = "FournisseurFBL/1.0"
    fields["Version"] = "1"
    fields["Original-Rcpt-To"] = recipient
    feedback = Message()
    feedback.set_type("message/feedback-report")
    feedback.set_payload([fields])
    report.attach(feedback)
    original = MIMEText("La lettre.\n", "plain", "utf-8")
    original["To"] = recipient
    original["Subject"] = "Lettre Parentalités n°1"
    report.attach(MIMEMessage(original))
    return report.as_bytes()


def vacation(to: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Camille <camille@exemple.test>"
    message["To"] = to
    message["Subject"] = "Réponse automatique : absente jusqu'au 3 janvier"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("Je suis absente jusqu'au 3 janvier. Pour toute urgence, contactez l'accueil.\n")
    return message.as_bytes()


# --- Policy -------------------------------------------------------------------------------------

def _issue(db, world, numero: int):
    issue = issues.create_issue(db, world["editor"], numero, f"Lettre {numero}", date(2026, 9, numero), "Édito.")
    contribution = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title=f"Nouvelle {numero}", body_md="Texte."))
    contributions.decide(db, world["editor"], contribution, ContributionStatus.accepted)
    issues.add_item(db, issue, contribution, "actualites")
    return issue


def _subscriber(db, email: str, status=SubscriberStatus.active) -> Subscriber:
    person = Subscriber(email=email, name="Pro", status=status)
    db.add(person)
    db.commit()
    return person


def test_hard_bounce_suppresses_at_once_and_the_address_is_never_planned_again(db, world, captured_jobs):
    gone = _subscriber(db, "parti@exemple.test")
    stays = _subscriber(db, "reste@exemple.test")
    first = _issue(db, world, 1)
    assert mailout.plan(db, first) == 2
    db.commit()
    delivery = db.scalar(select(Delivery).where(Delivery.subscriber_id == gone.id))
    # The remote server names an older forwarding address: the VERP return path still finds them.
    raw = dsn(verp_address(delivery.id), "ancienne-adresse@exemple.test")
    report = classify(raw)
    assert (report.kind, report.status, report.delivery_id) == ("hard", "5.1.1", delivery.id)
    bounce = record_bounce(db, report, raw, "maildir")
    assert bounce.subscriber_id == gone.id and bounce.delivery_id == delivery.id
    assert (bounce.rule, bounce.ignored_reason) == ("status-code", None)  # which rule decided, on the row
    db.refresh(gone)
    assert gone.status is SubscriberStatus.suppressed and gone.suppressed_at is not None
    assert "5.1.1" in gone.suppressed_reason and "Rebond définitif" in gone.suppressed_reason

    second = _issue(db, world, 2)
    assert mailout.plan(db, second) == 1
    db.commit()
    planned = set(db.scalars(select(Delivery.subscriber_id).where(Delivery.issue_id == second.id)))
    assert planned == {stays.id}
    assert record_bounce(db, report, raw, "maildir") is None  # the same message again: nothing new


def test_three_soft_bounces_in_thirty_days_suppress_two_do_not(db):
    person = _subscriber(db, "pleine@exemple.test")
    soft = BounceReport("soft", {"pleine@exemple.test"}, None, "5.2.2", "Mailbox full")
    now = utcnow()
    record_bounce(db, soft, None, "webhook", received_at=now - timedelta(days=40))  # too old to count
    record_bounce(db, soft, None, "webhook", received_at=now - timedelta(days=10))
    record_bounce(db, soft, None, "webhook", received_at=now - timedelta(days=1))
    db.refresh(person)
    assert person.status is SubscriberStatus.active
    record_bounce(db, soft, None, "webhook", received_at=now)
    db.refresh(person)
    assert person.status is SubscriberStatus.suppressed
    assert person.suppressed_reason == "3 rebonds temporaires en 30 jours"


def test_delayed_and_autoreplies_count_for_nothing(db):
    person = _subscriber(db, "absente@exemple.test")
    delayed = classify(dsn("lettre@parentalites.test", "absente@exemple.test", "delayed", "4.2.2",
                           "smtp; 452 4.2.2 Mailbox full, still trying"))
    reply = classify(vacation("lettre@parentalites.test"))
    assert (delayed.kind, reply.kind) == ("delayed", "autoreply")
    for _ in range(4):
        record_bounce(db, delayed, None, "webhook")
    record_bounce(db, BounceReport("autoreply", {"absente@exemple.test"}), None, "webhook")
    db.refresh(person)
    assert person.status is SubscriberStatus.active and person.suppressed_reason is None
    assert db.scalar(select(func.count(Bounce.id)).where(Bounce.subscriber_id == person.id)) == 5


def test_complaint_unsubscribes_and_suppresses_with_a_consent_record(db, world, captured_jobs):
    person = _subscriber(db, "agacee@exemple.test")
    issue = _issue(db, world, 1)
    mailout.plan(db, issue)
    db.commit()
    delivery = db.scalar(select(Delivery).where(Delivery.subscriber_id == person.id))
    report = classify(arf(verp_address(delivery.id), "agacee@exemple.test"))
    assert (report.kind, report.delivery_id, report.recipients) == ("complaint", delivery.id, {"agacee@exemple.test"})
    record_bounce(db, report, None, "imap")
    db.refresh(person)
    assert person.status is SubscriberStatus.suppressed and person.unsubscribed_at is not None
    assert "Plainte" in person.suppressed_reason
    actions = list(db.scalars(select(ConsentRecord.action).where(ConsentRecord.subscriber_id == person.id)))
    assert actions == ["unsubscribe:complaint"]


def test_a_bounce_without_a_valid_return_path_changes_nobody(db, client, world):
    """Issue 13, item 1: anyone can write to the bounce address; only a verified VERP return path
    (or the webhook's token) names whom a report is about."""
    person = _subscriber(db, "vraie@exemple.test")
    forged = verp_address(99).replace("d99-", "d98-")
    for raw in (dsn(forged, "vraie@exemple.test"), dsn("lettre@parentalites.test", "vraie@exemple.test"),
                dsn(forged, "vraie@exemple.test", status="5.2.2", diagnostic="smtp; 552 5.2.2 Mailbox full"),
                arf("lettre@parentalites.test", "vraie@exemple.test")):
        report = classify(raw)
        assert report.delivery_id is None and report.kind in ("hard", "soft", "complaint")
        bounce = record_bounce(db, report, raw, "maildir")
        assert bounce.subscriber_id is None and bounce.email == "vraie@exemple.test"
        assert bounce.ignored_reason == bounces.IGNORED_NO_VERP
    for _ in range(3):  # nor do soft ones add up
        record_bounce(db, BounceReport("soft", {"vraie@exemple.test"}, None, "5.2.2", "full"), None, "imap")
    db.refresh(person)
    assert person.status is SubscriberStatus.active and person.suppressed_reason is None
    assert db.scalar(select(func.count(ConsentRecord.id))) == 0

    # Recorded as such, visible to the editors, with no effect.
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get("/redaction/abonnes/supprimes").get_data(as_text=True)
    assert "Rapports ignorés" in page and "vraie@exemple.test" in page
    assert bounces.IGNORED_NO_VERP in page and "[règle status-code]" in page


def test_a_report_naming_another_subscriber_than_its_delivery_is_ignored(db, world, captured_jobs):
    reader = _subscriber(db, "lectrice@exemple.test")
    victim = _subscriber(db, "cible@exemple.test")
    issue = _issue(db, world, 1)
    mailout.plan(db, issue)
    db.commit()
    delivery = db.scalar(select(Delivery).where(Delivery.subscriber_id == reader.id))
    # The reader's own (valid) return path, a report about someone else.
    own = verp_address(delivery.id)
    for raw in (dsn(own, "cible@exemple.test"), arf(own, "cible@exemple.test")):
        bounce = record_bounce(db, classify(raw), raw, "imap")
        assert bounce.subscriber_id is None and bounce.delivery_id == delivery.id
        assert bounce.ignored_reason == bounces.IGNORED_OTHERS
    db.refresh(reader)
    db.refresh(victim)
    assert reader.status is SubscriberStatus.active and victim.status is SubscriberStatus.active


def test_the_webhook_token_lets_the_address_decide(db):
    person = _subscriber(db, "vraie@exemple.test")
    bounce = record_bounce(db, BounceReport("hard", {"vraie@exemple.test"}, None, "5.1.1", "unknown"), None, "webhook")
    assert bounce.subscriber_id == person.id and bounce.ignored_reason is None
    db.refresh(person)
    assert person.status is SubscriberStatus.suppressed


# --- Maildir and IMAP ---------------------------------------------------------------------------

def _maildir(tmp_path: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(tmp_path / "retours", create=True)
    for raw in messages:
        box.add(mailbox.MaildirMessage(raw))
    return tmp_path / "retours"


def test_maildir_is_ingested_once(db, world, captured_jobs, tmp_path, monkeypatch, reread_settings):
    person = _subscriber(db, "parti@exemple.test")
    issue = _issue(db, world, 1)
    mailout.plan(db, issue)
    db.commit()
    delivery = db.scalar(select(Delivery).where(Delivery.subscriber_id == person.id))
    hard = dsn(verp_address(delivery.id), "parti@exemple.test")
    path = _maildir(tmp_path, [hard, vacation(verp_address(delivery.id)),
                               dsn("lettre@parentalites.test", "lent@exemple.test", "delayed", "4.4.1",
                                   "smtp; 421 4.4.1 Connection timed out")])
    assert bounces.ingest_maildir(db, path) == 3
    assert bounces.ingest_maildir(db, path) == 0
    assert db.scalar(select(func.count(Bounce.id))) == 3
    assert sorted(k.value for k in db.scalars(select(Bounce.kind))) == ["autoreply", "delayed", "hard"]
    assert not list((path / "new").iterdir())
    assert all(p.name.endswith(":2,S") for p in (path / "cur").iterdir())
    db.refresh(person)
    assert person.status is SubscriberStatus.suppressed

    # The same message delivered twice (a retried fetch) is recorded once; the beat task reads it.
    mailbox.Maildir(path).add(mailbox.MaildirMessage(hard))
    monkeypatch.setenv("BOUNCE_MAILDIR", str(path))
    monkeypatch.delenv("BOUNCE_IMAP_URL", raising=False)
    reread_settings()
    from tasks.bounces import poll
    assert poll() == {"maildir": 1}
    assert db.scalar(select(func.count(Bounce.id))) == 3


def test_a_message_that_fails_twice_is_quarantined_and_never_parsed_again(db, client, world, tmp_path, monkeypatch):
    raw = dsn("lettre@parentalites.test", "x@exemple.test")
    path = _maildir(tmp_path, [raw])
    parsed = []

    def choking(message):
        parsed.append(len(message))
        raise RuntimeError("le parseur a calé")

    monkeypatch.setattr(bounces, "classify", choking)
    assert bounces.ingest_maildir(db, path) == 0          # first failure: left in place, counted
    assert len(list((path / "new").iterdir())) == 1
    assert bounces.ingest_maildir(db, path) == 0          # second failure: set aside
    assert len(parsed) == 2
    assert not list((path / "new").iterdir()) and not list((path / "cur").iterdir())
    assert len(list((path / ".quarantine" / "cur").iterdir())) == 1
    for _ in range(3):
        bounces.ingest_maildir(db, path)
    assert len(parsed) == 2                               # never parsed again
    held = db.scalar(select(bounces.BounceMessage))
    assert held.attempts == 2 and held.quarantined_at is not None and "le parseur a calé" in held.error
    assert held.subject == "Undelivered Mail Returned to Sender" and held.size <= len(raw)

    # A worker killed in the middle of a parse (time limit) counts as a failure too: the attempt
    # is committed before the parse starts.
    second = dsn("lettre@parentalites.test", "y@exemple.test", status="5.1.2")
    mailbox.Maildir(path).add(mailbox.MaildirMessage(second))
    monkeypatch.setattr(bounces, "classify", lambda message: (_ for _ in ()).throw(SystemExit("tué")))
    for _ in range(2):
        try:
            bounces.ingest_maildir(db, path)
        except SystemExit:
            db.rollback()
    monkeypatch.setattr(bounces, "classify", choking)
    bounces.ingest_maildir(db, path)
    assert len(parsed) == 2 and len(list((path / ".quarantine" / "cur").iterdir())) == 2

    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get("/redaction/abonnes/supprimes").get_data(as_text=True)
    assert "Messages mis de côté" in page and "Undelivered Mail Returned to Sender" in page


class FakeIMAP:
    """Just enough of imaplib.IMAP4 for ingest_imap: UID SEARCH / FETCH / STORE."""
    mailbox: dict[bytes, bytes] = {}
    flags: dict[bytes, str] = {}

    def __init__(self, host, port, **options):
        self.address = (host, port)
        self.options = options  # the TLS context and the timeout: tests/integration/subscribers/test_bounces_imap.py

    def login(self, user, password):
        assert (user, password) == ("retours", "secret")

    def select(self, folder):
        assert folder == "INBOX"
        return "OK", [str(len(self.mailbox)).encode()]

    def uid(self, command, *args):
        if command == "SEARCH":
            return "OK", [b" ".join(uid for uid in self.mailbox if "Seen" not in self.flags.get(uid, ""))]
        if command == "FETCH":
            raw = self.mailbox[args[0]]
            return "OK", [(b"1 (UID " + args[0] + b" BODY[] {%d}" % len(raw), raw), b")"]
        if command == "STORE":
            self.flags[args[0]] = args[2]
            return "OK", []
        raise AssertionError(command)

    def expunge(self):
        pass

    def logout(self):
        pass


def test_imap_marks_processed_messages_seen(db, monkeypatch):
    _subscriber(db, "parti@exemple.test")
    FakeIMAP.mailbox = {b"11": dsn("lettre@parentalites.test", "parti@exemple.test"),
                        b"12": vacation("lettre@parentalites.test")}
    FakeIMAP.flags = {}
    monkeypatch.setattr(bounces.imaplib, "IMAP4_SSL", FakeIMAP)
    assert bounces.ingest_imap_url(db, "imaps://retours:secret@imap.exemple.test/INBOX") == 2
    assert FakeIMAP.flags == {b"11": "(\\Seen)", b"12": "(\\Seen)"}
    assert bounces.ingest_imap_url(db, "imaps://retours:secret@imap.exemple.test/INBOX") == 0
    assert db.scalar(select(func.count(Bounce.id))) == 2


# --- Webhook and the editors' page --------------------------------------------------------------

def test_webhook_is_absent_without_a_token(client, monkeypatch, reread_settings):
    monkeypatch.delenv("BOUNCE_WEBHOOK_TOKEN", raising=False)
    reread_settings()
    assert client.post("/webhooks/bounces", json={"email": "a@exemple.test", "type": "hard"}).status_code == 404


def test_webhook_authenticates_validates_and_records(app, client, db, monkeypatch, reread_settings):
    app.config["WTF_CSRF_ENABLED"] = True  # the real setting: the webhook is exempt
    monkeypatch.setenv("BOUNCE_WEBHOOK_TOKEN", "jeton-de-test")
    reread_settings()
    person = _subscriber(db, "parti@exemple.test")
    event = {"email": "Parti@exemple.test", "type": "hard", "status": "5.1.1",
             "diagnostic": "550 5.1.1 User unknown", "delivery": ""}
    good = {"Authorization": "Bearer jeton-de-test"}

    assert client.post("/webhooks/bounces", json=event).status_code == 401
    bad = client.post("/webhooks/bounces", json=event, headers={"Authorization": "Bearer autre-jeton"})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")
    malformed = client.post("/webhooks/bounces", data=b'{"email": "parti@', headers=good,
                            content_type="application/json")
    assert malformed.status_code == 400 and "not valid JSON" in malformed.get_json()["error"]
    wrong_type = client.post("/webhooks/bounces", json={**event, "type": "explosion"}, headers=good)
    assert wrong_type.status_code == 400 and "'type'" in wrong_type.get_json()["error"]
    db.refresh(person)
    assert person.status is SubscriberStatus.active

    accepted = client.post("/webhooks/bounces", json=event, headers=good)
    assert accepted.status_code == 202 and accepted.get_json() == {"recorded": 1}
    db.refresh(person)
    assert person.status is SubscriberStatus.suppressed and "5.1.1" in person.suppressed_reason
    bounce = db.scalar(select(Bounce))
    assert (bounce.kind, bounce.source, bounce.subscriber_id) == (BounceKind.hard, "webhook", person.id)
    assert bounce.rule == "webhook"


def test_editors_see_who_is_suppressed_and_why(client, db, world):
    person = _subscriber(db, "parti@exemple.test")
    record_bounce(db, BounceReport("hard", {"parti@exemple.test"}, None, "5.1.1", "550 5.1.1 User unknown"),
                  None, "webhook")
    _subscriber(db, "actif@exemple.test")
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.get("/redaction/abonnes/supprimes").status_code == 403
    client.post("/deconnexion")
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get("/redaction/abonnes/supprimes").get_data(as_text=True)
    assert "parti@exemple.test" in page and "actif@exemple.test" not in page
    assert "Rebond définitif (5.1.1)" in page and "550 5.1.1 User unknown" in page
    assert person.email in page
    english = client.get("/redaction/abonnes/supprimes?lang=en").get_data(as_text=True)
    assert "Suspended addresses" in english


def test_a_missing_maildir_is_told_to_the_editors_once_and_fails_the_poll(db, world, tmp_path, monkeypatch,
                                                                          reread_settings):
    import pytest

    from mailing.models import OutboundEmail
    from subscribers.models import MailboxProblem
    from tasks.bounces import MailboxUnavailable, poll
    monkeypatch.setenv("BOUNCE_MAILDIR", str(tmp_path / "absent"))
    monkeypatch.delenv("BOUNCE_IMAP_URL", raising=False)
    reread_settings()
    for _ in range(2):
        with pytest.raises(MailboxUnavailable, match="maildir: maildir"):
            poll()
    db.expire_all()
    assert "n'existe pas" in db.get(MailboxProblem, "maildir").detail
    notices = select(func.count(OutboundEmail.id)).where(OutboundEmail.template == "bounce_mailbox_failing")
    assert db.scalar(notices) == 1
    _maildir(tmp_path, [])
    monkeypatch.setenv("BOUNCE_MAILDIR", str(tmp_path / "retours"))
    reread_settings()
    assert poll() == {"maildir": 0}
    db.expire_all()
    assert db.get(MailboxProblem, "maildir") is None
