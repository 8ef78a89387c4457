"""Events after registration: the iCalendar invitation in the confirmation, updates (SEQUENCE + 1)
and cancellation sent once to everyone registered, reminders J-7/J-1 exactly once (twice in a row,
and two sessions racing on PostgreSQL, and through the real worker), the thank-you and the draft
« Retour sur la soirée… » after the event."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from contributions.models import (
    Contribution,
    ContributionKind,
    ContributionStatus,
    Structure,
)
from contributions.services import moderation_queue
from core.db import utcnow
from events import editing, messages, services
from events.models import (
    Event,
    EventStatus,
    EventType,
    RegistrationMessage,
    RegistrationStatus,
)
from mailing.models import OutboundEmail
from mailing.outbox import outbound_extras, send_outbound
from tests.integration.helpers import make_event, outbox, run_concurrently, wait_for

START = datetime(2031, 3, 14, 17, 30, tzinfo=UTC)  # 18:30 in Paris


def at_start(db, **extra) -> Event:
    values = dict(starts_at=START, ends_at=START + timedelta(hours=2))
    values.update(extra)
    return make_event(db, **values)


def reg(db, event, email, now, party_size=1, name="Parent", structure=""):
    registration = services.register(db, event, name, email, structure=structure, party_size=party_size,
                                     consent=True, now=now)
    db.commit()  # the request's boundary: the event's lock is released
    return registration


def invitation_of(mail: OutboundEmail) -> Calendar | None:
    _headers, attachments = outbound_extras(mail)
    if not attachments:
        return None
    [attachment] = attachments
    assert attachment.content_type == "text/calendar"
    cal = Calendar.from_ical(attachment.content)
    assert str(cal["METHOD"]) == attachment.params["method"]
    return cal


def vevent(cal: Calendar):
    [v] = cal.walk("VEVENT")
    return v


def messages_of(db, registration) -> list[str]:
    return sorted(db.scalars(select(RegistrationMessage.kind).where(
        RegistrationMessage.registration_id == registration.id)))


def data_of(event: Event, **changes) -> editing.EventData:
    data = editing.EventData.from_event(event)
    for key, value in changes.items():
        setattr(data, key, value)
    return data


# --- The invitation in the confirmation -----------------------------------------------------------

def test_confirmation_carries_the_ics_invitation_and_the_self_service_link(db, captured_jobs, smtp):
    event = make_event(db, capacity=1, title="Soirée-rencontre : « Être parent d'ado »")
    confirmed = services.register(db, event, "Inès Martin", "ines@example.org", party_size=1, consent=True)
    waiting = services.register(db, event, "Paul", "paul@example.org", consent=True)
    [mail] = [m for m in outbox(db, "event_registration") if m.to_addr == "ines@example.org"]
    assert f"https://parentalites.test/agenda/inscription/{confirmed.token}" in mail.text_body
    assert "invitation.ics" in mail.text_body

    cal = invitation_of(mail)
    assert str(cal["METHOD"]) == "REQUEST" and cal.walk("VTIMEZONE")
    v = vevent(cal)
    assert str(v["UID"]) == event.uid and int(v["SEQUENCE"]) == 0  # the feed's UID
    assert str(v["STATUS"]) == "CONFIRMED" and str(v["SUMMARY"]) == event.title
    assert v["DTSTART"].dt == event.starts_at and str(v["ORGANIZER"]) == "mailto:reaap@exemple.org"
    assert str(v["ATTENDEE"]) == "mailto:ines@example.org" and v["ATTENDEE"].params["CN"] == "Inès Martin"

    # The waitlisted hold no seat: no invitation for them.
    [wait_mail] = [m for m in outbox(db, "event_registration") if m.to_addr == "paul@example.org"]
    assert invitation_of(wait_mail) is None and waiting.status is RegistrationStatus.waitlisted

    # Sent over real SMTP: a text/calendar; method=REQUEST part beside the text and the HTML.
    assert send_outbound(db, mail.id).value == "sent"
    [received] = smtp.to("ines@example.org")
    message = received.message
    assert message.get_content_type() == "multipart/mixed"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST" and attachment.get_filename() == "invitation.ics"
    assert str(vevent(Calendar.from_ical(attachment.get_content()))["UID"]) == event.uid
    assert f"/agenda/inscription/{confirmed.token}" in message.get_body(("plain",)).get_content()


def test_the_promoted_get_the_invitation_too(db, captured_jobs):
    event = make_event(db, capacity=1)
    first = services.register(db, event, "A", "a@example.org", consent=True)
    services.register(db, event, "B", "b@example.org", consent=True)
    services.cancel(db, first)
    [promoted] = outbox(db, "event_promoted")
    assert str(vevent(invitation_of(promoted))["ATTENDEE"]) == "mailto:b@example.org"


# --- Updates and cancellation ---------------------------------------------------------------------

def test_a_change_of_time_sends_an_update_with_the_next_sequence_once(db, captured_jobs):
    event = make_event(db, capacity=2)
    a = services.register(db, event, "A", "a@example.org", consent=True)
    b = services.register(db, event, "B", "b@example.org", consent=True)
    w = services.register(db, event, "W", "w@example.org", consent=True)
    gone = services.register(db, event, "Parti", "parti@example.org", consent=True)
    services.cancel(db, gone)
    db.commit()  # the registrations' requests: their confirmations leave
    captured_jobs.clear()

    # A description change is not an update for calendars.
    assert editing.update_event(db, event, data_of(event, description_md="Un goûter est prévu.")) is False
    assert event.sequence == 0 and captured_jobs == []

    new_start = event.starts_at + timedelta(days=1, hours=1)
    assert editing.update_event(db, event, data_of(event, starts_at=new_start,
                                                   ends_at=new_start + timedelta(hours=2))) is True
    db.commit()
    db.refresh(event)
    assert event.sequence == 1 and captured_jobs == [("tasks.events.send_notices", (event.id,))]

    report = messages.send_event_notices(db, event)
    assert report.sent == {"update": 3}
    updates = {m.to_addr: m for m in outbox(db, "event_update")}
    assert set(updates) == {"a@example.org", "b@example.org", "w@example.org"}  # never the cancelled
    for address in ("a@example.org", "b@example.org"):
        cal = invitation_of(updates[address])
        v = vevent(cal)
        assert str(cal["METHOD"]) == "REQUEST" and int(v["SEQUENCE"]) == 1 and str(v["UID"]) == event.uid
        assert v["DTSTART"].dt == new_start
    assert invitation_of(updates["w@example.org"]) is None
    assert "liste d'attente" in updates["w@example.org"].text_body
    assert messages_of(db, a) == ["update:1"] and messages_of(db, w) == ["update:1"]

    # Once: a second run (beat's sweep, a redelivered task) sends nothing.
    assert messages.send_event_notices(db, event).total == 0
    assert messages.send_pending_notices(db).total == 0
    assert len(outbox(db, "event_update")) == 3

    # Someone promoted after the update got this version with their confirmation: no update for them.
    services.cancel(db, b)
    db.refresh(w)
    assert w.status is RegistrationStatus.confirmed
    late = services.register(db, event, "Tard", "tard@example.org", consent=True)
    assert late.status is RegistrationStatus.waitlisted
    assert messages.send_pending_notices(db).total == 0


def test_postponing_sends_an_update_and_new_registrants_are_not_sent_it_again(db, captured_jobs):
    event = make_event(db)
    services.register(db, event, "A", "a@example.org", consent=True)
    assert editing.update_event(db, event, data_of(event, status=EventStatus.postponed)) is True
    # Registered after the change: the confirmation carries SEQUENCE 1 already.
    b = services.register(db, event, "B", "b@example.org", consent=True)
    [confirmation] = [m for m in outbox(db, "event_registration") if m.to_addr == "b@example.org"]
    assert int(vevent(invitation_of(confirmation))["SEQUENCE"]) == 1
    assert messages.send_pending_notices(db).sent == {"update": 1}
    [update] = outbox(db, "event_update")
    assert update.to_addr == "a@example.org" and "reporté" in update.subject
    v = vevent(invitation_of(update))
    assert str(v["STATUS"]) == "TENTATIVE" and int(v["SEQUENCE"]) == 1
    assert messages_of(db, b) == ["update:1"]


def test_cancelling_the_event_sends_method_cancel_once(db, captured_jobs, client):
    event = make_event(db, capacity=1)
    a = services.register(db, event, "A", "a@example.org", consent=True)
    services.register(db, event, "W", "w@example.org", consent=True)
    db.commit()  # the registrations' requests: their confirmations leave
    captured_jobs.clear()
    assert editing.cancel_event(db, event) is True
    assert editing.cancel_event(db, event) is False  # twice: nothing more
    db.commit()
    db.refresh(event)
    assert event.status is EventStatus.cancelled and event.sequence == 1
    assert captured_jobs == [("tasks.events.send_notices", (event.id,))]

    assert messages.send_event_notices(db, event).sent == {"cancel": 2}
    assert messages.send_pending_notices(db).total == 0
    mails = {m.to_addr: m for m in outbox(db, "event_cancelled")}
    cal = invitation_of(mails["a@example.org"])
    v = vevent(cal)
    assert str(cal["METHOD"]) == "CANCEL" and str(v["STATUS"]) == "CANCELLED"
    assert int(v["SEQUENCE"]) == 1 and str(v["UID"]) == event.uid
    assert invitation_of(mails["w@example.org"]) is None and "annulé" in mails["w@example.org"].subject
    assert messages_of(db, a) == ["cancel"]

    # The feed says so too, with the same UID and SEQUENCE.
    feed = Calendar.from_ical(client.get("/agenda.ics").get_data())
    [fv] = [x for x in feed.walk("VEVENT") if str(x["UID"]) == event.uid]
    assert str(fv["STATUS"]) == "CANCELLED" and int(fv["SEQUENCE"]) == 1
    with pytest.raises(editing.EventError):
        editing.update_event(db, event, data_of(event, status=EventStatus.scheduled))
    # No reminder for a cancelled event.
    assert messages.send_due_reminders(db, now=event.starts_at - timedelta(hours=1)).total == 0


def test_more_seats_confirm_the_waitlist_in_order(db, captured_jobs):
    event = make_event(db, capacity=1)
    services.register(db, event, "A", "a@example.org", consent=True)
    w1 = services.register(db, event, "W1", "w1@example.org", consent=True)
    w2 = services.register(db, event, "W2", "w2@example.org", consent=True)
    assert editing.update_event(db, event, data_of(event, capacity=2)) is False
    db.refresh(w1), db.refresh(w2)
    assert (w1.status, w2.status) == (RegistrationStatus.confirmed, RegistrationStatus.waitlisted)
    assert [m.to_addr for m in outbox(db, "event_promoted")] == ["w1@example.org"]


# --- Reminders ------------------------------------------------------------------------------------

def test_reminders_j7_and_j1_exactly_once_and_only_to_the_confirmed(db, captured_jobs):
    event = at_start(db, capacity=2)
    early = START - timedelta(days=20)
    a = reg(db, event, "a@example.org", early)
    b = reg(db, event, "b@example.org", early)
    waiting = reg(db, event, "w@example.org", early)
    gone = reg(db, event, "gone@example.org", early, name="Parti")
    assert waiting.status is RegistrationStatus.waitlisted and gone.status is RegistrationStatus.waitlisted
    services.cancel(db, gone, now=early)
    services.cancel(db, b, now=START - timedelta(days=3))   # frees a seat: waiting is promoted at J-3
    db.refresh(waiting)
    assert waiting.status is RegistrationStatus.confirmed

    assert messages.send_due_reminders(db, now=START - timedelta(days=8)).total == 0
    j7 = START - timedelta(days=7) + timedelta(minutes=5)
    assert messages.send_due_reminders(db, now=j7).sent == {"reminder": 1}
    assert messages.send_due_reminders(db, now=j7 + timedelta(minutes=10)).total == 0  # beat again
    [mail] = outbox(db, "event_reminder")
    assert mail.to_addr == "a@example.org" and "dans 7 jours" in mail.subject
    assert f"/agenda/inscription/{a.token}" in mail.text_body

    j1 = START - timedelta(days=1) + timedelta(minutes=5)
    assert messages.send_due_reminders(db, now=j1).sent == {"reminder": 2}
    assert messages.send_due_reminders(db, now=j1).total == 0
    j1_mails = [m for m in outbox(db, "event_reminder") if "demain" in m.subject]
    # Promoted at J-3: no J-7 for them (they had just been told), but J-1 yes. Never the cancelled.
    assert sorted(m.to_addr for m in j1_mails) == ["a@example.org", "w@example.org"]
    assert messages_of(db, a) == ["reminder:1", "reminder:7"] and messages_of(db, waiting) == ["reminder:1"]
    # No reminder to the cancelled: only the message that told them of their cancellation (issue 13 #21).
    assert messages_of(db, b) == ["registration-cancelled"] and messages_of(db, gone) == ["registration-cancelled"]
    assert messages.send_due_reminders(db, now=START + timedelta(minutes=1)).total == 0


def test_a_missed_j7_is_not_sent_late_and_reminder_days_are_per_event(db, captured_jobs):
    early = START - timedelta(days=30)
    event = at_start(db)
    reg(db, event, "a@example.org", early)
    other = at_start(db, title="Rencontre CLAS", reminder_days="3")
    reg(db, other, "b@example.org", early)
    none = at_start(db, title="Sans rappel", reminder_days="")
    reg(db, none, "c@example.org", early)
    postponed = at_start(db, title="Reportée", status=EventStatus.postponed)
    reg(db, postponed, "d@example.org", early)

    # Beat was down from J-8 to J-1: only the J-1 goes, not a stale « dans 7 jours ».
    sent = messages.send_due_reminders(db, now=START - timedelta(hours=20))
    assert sent.sent == {"reminder": 2}
    by_address = {m.to_addr: m.subject for m in outbox(db, "event_reminder")}
    assert "demain" in by_address["a@example.org"] and "dans 3 jours" in by_address["b@example.org"]
    assert set(by_address) == {"a@example.org", "b@example.org"}


def test_reminders_exactly_once_when_two_sessions_race_on_postgresql(db, captured_jobs):
    assert db.get_bind().dialect.name == "postgresql"
    event = at_start(db)
    early = START - timedelta(days=20)
    registrations = [reg(db, event, f"p{i}@example.org", early) for i in range(25)]
    now = START - timedelta(days=1) + timedelta(minutes=1)
    totals = run_concurrently(
        lambda session, _: messages.send_due_reminders(session, now=now).total, 3)
    assert sum(totals) == 25, totals
    per_address = db.execute(select(OutboundEmail.to_addr, func.count()).where(
        OutboundEmail.template == "event_reminder").group_by(OutboundEmail.to_addr)).all()
    assert len(per_address) == 25 and all(n == 1 for _, n in per_address)
    assert db.scalar(select(func.count(RegistrationMessage.id))) == 25
    linked = db.scalar(select(func.count(RegistrationMessage.id)).where(
        RegistrationMessage.outbound_email_id.is_not(None)))
    assert linked == 25 and len(registrations) == 25


@pytest.mark.integration
def test_the_beat_task_sends_the_reminder_through_the_real_worker_once(db, smtp, celery_worker):
    from parentalites.celery_app import celery_app
    start = (utcnow() + timedelta(hours=12)).replace(microsecond=0)
    event = make_event(db, starts_at=start, ends_at=start + timedelta(hours=2), reminder_days="7,1")
    services.register(db, event, "Inès", "ines.rappel@example.org", consent=True,
                      now=utcnow() - timedelta(days=3))
    db.commit()
    wait_for(lambda: smtp.to("ines.rappel@example.org"), 60, message="the confirmation")
    celery_app.send_task("tasks.events.reminders")
    celery_app.send_task("tasks.events.reminders")  # twice, as a restarted beat would

    def reminders():
        return [m for m in smtp.to("ines.rappel@example.org") if m.message["Subject"].startswith("Rappel")]
    [reminder] = wait_for(reminders, 60, message="the reminder")
    assert "demain" in reminder.message["Subject"]
    wait_for(lambda: db.scalar(select(func.count(OutboundEmail.id)).where(
        OutboundEmail.template == "event_reminder", OutboundEmail.status == "sent")), 30)
    db.expire_all()
    assert db.scalar(select(func.count(OutboundEmail.id)).where(OutboundEmail.template == "event_reminder")) == 1
    assert len(reminders()) == 1


# --- After the event ------------------------------------------------------------------------------

def test_after_the_event_thanks_the_present_once_and_drafts_the_retour(db, captured_jobs):
    event = at_start(db, capacity=10, title="Être parent d'ado", survey_url="https://sondage.example.org/soiree")
    early = START - timedelta(days=10)
    came = reg(db, event, "came@example.org", early, party_size=2, structure="CLAS Bondy")
    absent = reg(db, event, "absent@example.org", early, structure="EVS du Pont")
    reg(db, event, "unmarked@example.org", early)
    after = event.ends_at + timedelta(hours=1)

    # Nobody marked yet: nothing to thank, and the draft waits for the attendance (or two days).
    report = messages.after_event(db, now=after)
    assert report.total == 0 and report.retours == []

    from events.attendance import mark_attendance
    mark_attendance(db, event, [came.id, absent.id], [came.id])
    report = messages.after_event(db, now=after + timedelta(hours=1))
    assert report.sent == {"thanks": 1} and len(report.retours) == 1
    [thanks] = outbox(db, "event_thanks")
    assert thanks.to_addr == "came@example.org"
    assert "https://sondage.example.org/soiree" in thanks.text_body and "Merci" in thanks.subject
    assert messages_of(db, came) == ["thanks"]

    db.expire_all()
    event = db.get(Event, event.id)
    assert event.thanks_sent_at is not None
    retour = db.get(Contribution, event.retour_contribution_id)
    assert retour.id == report.retours[0]
    assert retour.title == "Retour sur la soirée « Être parent d'ado »"
    assert (retour.kind, retour.status, retour.source) == (ContributionKind.actualite,
                                                           ContributionStatus.submitted, "event")
    assert retour.structure.name == "Réseau Parentalités"
    assert "14 mars 2031 à 18:30" in retour.body_md and "Centre social Les Tilleuls" in retour.body_md
    assert "Inscrits : 4 personnes (3 inscriptions)" in retour.body_md
    assert "Présents : 2 personnes (1 inscription)" in retour.body_md
    assert retour.id in [c.id for c in moderation_queue(db)]  # waits for the editor

    # Once: again later, nothing more (another registration marked present gets its own thanks).
    assert messages.after_event(db, now=after + timedelta(days=1)).total == 0
    assert len(outbox(db, "event_thanks")) == 1
    assert db.scalar(select(func.count(Contribution.id))) == 1
    assert db.scalar(select(func.count(Structure.id)).where(Structure.name == "Réseau Parentalités")) == 1


def test_after_the_event_the_retour_comes_after_two_days_even_unmarked_never_for_a_cancelled_one(db, captured_jobs):
    journee = at_start(db, type=EventType.journee_porteurs, title="Journée des porteurs de projet 2031")
    reg(db, journee, "a@example.org", START - timedelta(days=5))
    cancelled = at_start(db, title="Annulée", status=EventStatus.cancelled)
    assert messages.after_event(db, now=journee.ends_at + timedelta(days=1)).retours == []
    report = messages.after_event(db, now=journee.ends_at + timedelta(days=2, minutes=5))
    [retour_id] = report.retours
    retour = db.get(Contribution, retour_id)
    assert retour.title == "Retour sur la journée « Journée des porteurs de projet 2031 »"
    assert "à compléter" in retour.body_md
    db.refresh(cancelled)
    assert cancelled.retour_contribution_id is None
    assert messages.after_event(db, now=journee.ends_at + timedelta(days=40)).total == 0


# --- Issue 13 #21: a cancelled registration is told, with METHOD:CANCEL -------------------------------

def test_cancelling_ones_registration_sends_an_ics_cancel(db, captured_jobs, smtp):
    event = make_event(db, capacity=1, title="Soirée-rencontre : les écrans")
    ines = services.register(db, event, "Inès Martin", "ines@example.org", consent=True)
    paul = services.register(db, event, "Paul", "paul@example.org", consent=True)  # waitlisted
    db.commit()
    services.cancel(db, ines)
    db.commit()
    services.cancel(db, ines)  # twice: nothing more
    db.commit()
    [mail] = outbox(db, "event_registration_cancelled")
    assert mail.to_addr == "ines@example.org" and "Vous avez annulé" in mail.text_body
    cal = invitation_of(mail)
    assert str(cal["METHOD"]) == "CANCEL"
    v = vevent(cal)
    assert str(v["UID"]) == event.uid and str(v["STATUS"]) == "CANCELLED"
    assert str(v["ATTENDEE"]) == "mailto:ines@example.org"
    assert messages_of(db, ines) == ["registration-cancelled"]
    # Sent over real SMTP: a text/calendar; method=CANCEL part.
    assert send_outbound(db, mail.id).value == "sent"
    [received] = smtp.to("ines@example.org")
    [attachment] = list(received.message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar" and attachment.get_param("method") == "CANCEL"
    assert attachment.get_filename() == "annulation.ics"
    db.refresh(paul)
    assert paul.status is RegistrationStatus.confirmed  # promoted, and told as before
    assert [m.to_addr for m in outbox(db, "event_promoted")] == ["paul@example.org"]


def test_the_editor_cancelling_a_registration_tells_the_person(client, world, db, captured_jobs):
    from tests.integration.helpers import login
    event = make_event(db, capacity=1)
    first = services.register(db, event, "Inès", "ines@example.org", consent=True)
    waiting = services.register(db, event, "Paul", "paul@example.org", consent=True)
    pending = services.request_registration(db, event, "Inconnu", "inconnu@example.org", consent=True)
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    for registration in (waiting, first, pending):
        path = f"/redaction/evenements/{event.id}/inscriptions/{registration.id}/annuler"
        assert client.post(path).status_code == 302
    mails = {m.to_addr: m for m in outbox(db, "event_registration_cancelled")}
    assert sorted(mails) == ["ines@example.org", "paul@example.org"]  # not an address never confirmed
    assert "L'équipe a annulé" in mails["ines@example.org"].text_body
    assert str(invitation_of(mails["ines@example.org"])["METHOD"]) == "CANCEL"
    # Waitlisted: they had no invitation in their calendar, and are told they left the waitlist.
    assert invitation_of(mails["paul@example.org"]) is None
    assert "liste d'attente" in mails["paul@example.org"].text_body


def test_a_waitlisted_person_sees_their_place_in_the_waitlist(client, world, db, captured_jobs):
    from tests.integration.helpers import login
    event = make_event(db, capacity=2)
    for i in range(2):
        services.register(db, event, f"Confirmé {i}", f"c{i}@example.org", consent=True)
    w1 = services.register(db, event, "Attente Un", "w1@example.org", consent=True)
    w2 = services.register(db, event, "Attente Deux", "w2@example.org", consent=True)
    db.commit()
    assert (services.waitlist_place(db, w1), services.waitlist_place(db, w2)) == (1, 2)
    page = client.get(f"/agenda/inscription/{w2.token}").get_data(as_text=True).replace("&#39;", "'")
    assert "vous êtes n°2 sur la liste d'attente" in page
    assert "libérer votre place" not in page and "Quitter la liste d'attente" in page
    services.cancel(db, w1)
    db.commit()
    page = client.get(f"/agenda/inscription/{w2.token}").get_data(as_text=True).replace("&#39;", "'")
    assert "vous êtes n°1 sur la liste d'attente" in page
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/evenements/{event.id}/inscriptions").get_data(as_text=True)
    assert "(n°1)" in page and f"(n°{w2.position})" not in page
