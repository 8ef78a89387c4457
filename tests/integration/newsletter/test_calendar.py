"""The editorial calendar: planning a year, the appel à contributions and the editors' reminder
sent exactly once (twice-run and concurrent runs, injected clock), the partner space's deadline."""
from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from accounts.auth import create_user
from accounts.models import Role
from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from core import settings as settings_module
from mailing.models import OutboundEmail
from newsletter import calendar, issues
from newsletter.models import PlannedIssue
from tests.integration.helpers import login, run_concurrently, wait_for

# The letter of 15 June 2030: contributions until 18 May; the call goes out 21 days before,
# on 27 April (Paris), which starts at 22:00 UTC on the 26th (summer time).
ISSUE_DATE, DEADLINE = date(2030, 6, 15), date(2030, 5, 18)
BEFORE = datetime(2030, 4, 26, 21, 59, tzinfo=UTC)   # 23:59 in Paris, 26 April
DUE = datetime(2030, 4, 26, 22, 1, tzinfo=UTC)       # 00:01 in Paris, 27 April


def outbox(db, template: str) -> list[OutboundEmail]:
    return list(db.scalars(select(OutboundEmail).where(OutboundEmail.template == template)
                           .order_by(OutboundEmail.to_addr)))


@pytest.fixture
def planned(db, world, captured_jobs):
    # An inactive partner account and an admin, to see who is written to.
    gone = create_user(db, "ancien@tilleuls.test", "Ancien", Role.partner, "x", world["tilleuls"].id)
    gone.active = False
    create_user(db, "admin@reaap.test", "Admin", Role.admin, "mdp-admin")
    planned = calendar.add_planned(db, ISSUE_DATE, DEADLINE, "Numéro spécial CLAS.")
    db.commit()
    return planned


def test_default_plan_is_three_letters_on_weekdays_and_generating_twice_adds_nothing(db):
    assert calendar.default_dates(2026, 3) == [date(2026, 3, 16), date(2026, 7, 15), date(2026, 11, 16)]
    assert all(d.weekday() < 5 for n in range(1, 13) for d in calendar.default_dates(2027, n))
    created = calendar.generate_year(db, 2026)
    assert [(p.issue_date, p.deadline) for p in created] == [
        (date(2026, 3, 16), date(2026, 2, 16)), (date(2026, 7, 15), date(2026, 6, 17)),
        (date(2026, 11, 16), date(2026, 10, 19))]
    assert calendar.generate_year(db, 2026) == []
    assert db.scalar(select(func.count(PlannedIssue.id))) == 3


def test_issues_per_year_setting_drives_the_plan(db, monkeypatch):
    monkeypatch.setattr(settings_module, "_settings",
                        dataclasses.replace(settings_module.get_settings(), issues_per_year=4))
    assert [p.issue_date.month for p in calendar.generate_year(db, 2031)] == [2, 5, 8, 11]
    with pytest.raises(calendar.CalendarError):
        calendar.generate_year(db, 2032, 13)


def test_deadline_must_precede_the_letter_and_dates_are_unique(db):
    with pytest.raises(calendar.CalendarError):
        calendar.add_planned(db, ISSUE_DATE, ISSUE_DATE)
    calendar.add_planned(db, ISSUE_DATE)
    with pytest.raises(calendar.CalendarError):
        calendar.add_planned(db, ISSUE_DATE, DEADLINE)


def test_call_and_reminder_go_out_once_on_the_paris_day(db, world, planned):
    assert calendar.send_due(db, BEFORE) == {"calls": 0, "reminders": 0}
    assert db.scalar(select(func.count(OutboundEmail.id))) == 0

    # What waits for the editors: one submitted, one accepted and not placed, one placed in a draft.
    def contribution(title, status):
        c = contributions.create(db, world["partner"],
                                 contributions.ContributionData(kind=ContributionKind.actualite, title=title))
        if status is not S.submitted:
            contributions.decide(db, world["editor"], c, status)
        return c
    contribution("À relire", S.submitted)
    contribution("Acceptée", S.accepted)
    draft = issues.create_issue(db, world["editor"], 1, "Brouillon", ISSUE_DATE)
    issues.add_item(db, draft, contribution("Placée", S.accepted))

    assert calendar.send_due(db, DUE) == {"calls": 2, "reminders": 2}
    assert calendar.send_due(db, DUE) == {"calls": 0, "reminders": 0}   # the task runs again: nothing
    assert calendar.send_due(db, datetime(2030, 5, 10, 8, tzinfo=UTC)) == {"calls": 0, "reminders": 0}

    calls = outbox(db, "appel_a_contributions")
    assert [m.to_addr for m in calls] == ["amina@tilleuls.test", "julien@asso.test"]  # active partners only
    assert "18 mai 2030" in calls[0].subject and "15 juin 2030" in calls[0].subject
    assert "https://parentalites.test/partenaires/" in calls[0].text_body and "21 jours" in calls[0].text_body
    assert "Numéro spécial CLAS." in calls[0].text_body and "Amina Benali" in calls[0].text_body
    reminders = outbox(db, "rappel_redaction")
    assert [m.to_addr for m in reminders] == ["admin@reaap.test", "redaction@reaap.test"]
    assert "1 contribution en attente de relecture" in reminders[0].text_body
    assert "1 contribution acceptée, pas encore placée" in reminders[0].text_body
    db.expire_all()
    stored = db.get(PlannedIssue, planned.id)
    assert stored.call_sent_at == DUE and stored.editors_reminded_at == DUE


def test_a_passed_deadline_is_never_called_late(db, world, planned):
    assert calendar.send_due(db, datetime(2030, 5, 19, 8, tzinfo=UTC)) == {"calls": 0, "reminders": 0}
    # ...but a call missed while the app was down goes out as long as the deadline is ahead.
    assert calendar.send_due(db, datetime(2030, 5, 17, 8, tzinfo=UTC)) == {"calls": 2, "reminders": 2}


def test_concurrent_runs_send_exactly_once(db, world, planned):
    results = run_concurrently(lambda session, _: calendar.send_due(session, DUE), 4)
    assert sum(r["calls"] for r in results) == 2 and sum(r["reminders"] for r in results) == 2
    assert len(outbox(db, "appel_a_contributions")) == 2 and len(outbox(db, "rappel_redaction")) == 2


def test_a_failure_while_queueing_sends_nothing_and_leaves_the_call_to_do(db, world, planned, monkeypatch):
    real = calendar.queue_email
    calls = []

    def flaky(db_, name, to, context):
        calls.append(to)
        if len(calls) == 2:
            raise RuntimeError("template cassé")
        return real(db_, name, to, context)
    monkeypatch.setattr(calendar, "queue_email", flaky)
    with pytest.raises(RuntimeError):
        calendar.send_due(db, DUE)
    assert db.scalar(select(func.count(OutboundEmail.id))) == 0
    db.expire_all()
    assert db.get(PlannedIssue, planned.id).call_sent_at is None
    monkeypatch.setattr(calendar, "queue_email", real)
    assert calendar.send_due(db, DUE) == {"calls": 2, "reminders": 2}


def test_next_deadline_is_shown_in_the_partner_space(client, db, world, planned):
    assert calendar.next_deadline(db, DUE).id == planned.id
    assert calendar.next_deadline(db, datetime(2030, 5, 19, tzinfo=UTC)) is None
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    page = client.get("/partenaires/").get_data(as_text=True)
    assert "18 mai 2030" in page and "15 juin 2030" in page


def test_editor_plans_edits_and_removes_letters_on_the_calendar_page(client, db, world, captured_jobs):
    login(client, "redaction@reaap.test", "mdp-redaction")
    assert client.get("/redaction/calendrier").status_code == 200
    response = client.post("/redaction/calendrier", data={"gen-year": "2031", "gen-count": "3"})
    assert response.status_code == 302
    planned = calendar.planned_issues(db, 2031)
    assert [p.issue_date.month for p in planned] == [3, 7, 11]
    page = client.get("/redaction/calendrier").get_data(as_text=True)
    assert "17 mars 2031" in page and "prévu le" in page

    first = planned[0]
    url = f"/redaction/calendrier/{first.id}"
    bad = client.post(url, data={"issue_date": "2031-03-17", "deadline": "2031-03-20", "note": ""})
    assert bad.status_code == 422 and "doit précéder" in bad.get_data(as_text=True)
    letter = issues.create_issue(db, world["editor"], 7, "Printemps", date(2031, 3, 17))
    db.commit()
    ok = client.post(url, data={"issue_date": "2031-03-18", "deadline": "2031-02-25", "note": "Dossier écrans",
                                "issue_id": str(letter.id)})
    assert ok.status_code == 302
    db.expire_all()
    first = db.get(PlannedIssue, first.id)
    assert (first.issue_date, first.deadline, first.note, first.issue_id) == (
        date(2031, 3, 18), date(2031, 2, 25), "Dossier écrans", letter.id)

    first_id = first.id
    client.post(f"{url}/supprimer")  # not confirmed: kept
    db.expire_all()
    assert db.get(PlannedIssue, first_id) is not None
    client.post(f"{url}/supprimer", data={"confirm": "1"})
    db.expire_all()
    assert db.get(PlannedIssue, first_id) is None

    added = client.post("/redaction/calendrier", data={"add-issue_date": "2031-12-10", "add-note": "Bonus"})
    assert added.status_code == 302
    extra = db.scalar(select(PlannedIssue).where(PlannedIssue.issue_date == date(2031, 12, 10)))
    assert extra.deadline == date(2031, 11, 12) and extra.note == "Bonus"


def test_calendar_is_for_editors_only(client, db, world):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.get("/redaction/calendrier").status_code == 403


@pytest.mark.integration
def test_the_beat_task_sends_the_call_once_through_the_worker(db, world, smtp, celery_worker):
    from parentalites.celery_app import celery_app
    today = calendar.paris_today()
    planned = calendar.add_planned(db, date.fromordinal(today.toordinal() + 40),
                                   date.fromordinal(today.toordinal() + 10))
    db.commit()
    celery_app.send_task("tasks.calendar.send_due_calls")
    celery_app.send_task("tasks.calendar.send_due_calls")

    def delivered():
        return len(smtp.to("amina@tilleuls.test")) >= 1 and len(smtp.to("julien@asso.test")) >= 1 \
            and len(smtp.to("redaction@reaap.test")) >= 1
    wait_for(delivered, 60, message="the appel à contributions")
    # Both task runs are over once the outbox holds every row sent and the planned issue is marked.
    wait_for(lambda: db.scalar(select(func.count(OutboundEmail.id)).where(OutboundEmail.status != "sent")) == 0, 30)
    assert [len(smtp.to(a)) for a in ("amina@tilleuls.test", "julien@asso.test", "redaction@reaap.test")] == [1, 1, 1]
    assert smtp.to("amina@tilleuls.test")[0].message["Subject"].startswith("Appel à contributions")
    db.expire_all()
    assert db.get(PlannedIssue, planned.id).call_sent_at is not None
