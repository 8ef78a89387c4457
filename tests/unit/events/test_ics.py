"""The iCalendar of the agenda feed, parsed back with `icalendar` (issue 13 #30): the Europe/Paris
VTIMEZONE changes at the right instant, partner events carry an ORGANIZER, and DESCRIPTION is plain
text, not Markdown."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from contributions.models import Contribution, ContributionKind, ContributionStatus, Structure, StructureKind
from events import ics
from events.models import Event, EventStatus
from parentalites import models

T0 = datetime(2031, 1, 1, tzinfo=UTC)
models.configure()  # every mapper resolved (Structure → User) before building objects

MARKDOWN = "Échanges **entre parents** autour des [écrans](https://exemple.org/ecrans).\n\n- goûter\n- garde"


def network_event(**extra) -> Event:
    values = dict(id=7, uid="evt-7@reaap.test", title="Soirée", description_md=MARKDOWN,
                  starts_at=datetime(2031, 3, 14, 17, 30, tzinfo=UTC), ends_at=datetime(2031, 3, 14, 20, tzinfo=UTC),
                  created_at=T0, updated_at=T0, sequence=0, status=EventStatus.scheduled, place="Centre social",
                  address="", online_url=None, contact_email=None, organiser="")
    values.update(extra)
    return Event(**values)


def partner_event(**extra) -> Contribution:
    values = dict(id=12, kind=ContributionKind.evenement, status=ContributionStatus.accepted, title="Atelier",
                  body_md=MARKDOWN, event_start=datetime(2031, 10, 20, 14, tzinfo=UTC),
                  event_end=datetime(2031, 10, 20, 16, tzinfo=UTC), place="Médiathèque", audience="Parents d'ados",
                  contact="Amina, atelier@tilleuls.test", created_at=T0, updated_at=T0,
                  structure=Structure(name="Centre social Les Tilleuls", kind=StructureKind.centre_social))
    values.update(extra)
    return Contribution(**values)


def parsed(events=(), partners=()) -> Calendar:
    return Calendar.from_ical(ics.calendar(list(events), partner_events=list(partners)))


def test_paris_changes_to_summer_time_at_one_utc_and_back_at_one_utc():
    cal = parsed([network_event()])
    [vtimezone] = cal.walk("VTIMEZONE")
    [daylight] = vtimezone.walk("DAYLIGHT")
    standards = [s for s in vtimezone.walk("STANDARD") if s["TZOFFSETFROM"].td != s["TZOFFSETTO"].td]
    # RFC 5545: DTSTART is the local time of the onset in the offset in force before it.
    assert daylight["DTSTART"].dt.time().isoformat() == "02:00:00"
    assert daylight["TZOFFSETFROM"].td == timedelta(hours=1) and daylight["TZOFFSETTO"].td == timedelta(hours=2)
    assert [s["DTSTART"].dt.time().isoformat() for s in standards] == ["03:00:00"]
    # The zone as a calendar reads it: 30 March 2031 (last Sunday of March) at 01:00 UTC exactly.
    paris = vtimezone.to_tz()
    before, after = datetime(2031, 3, 30, 0, 59, tzinfo=UTC), datetime(2031, 3, 30, 1, 0, tzinfo=UTC)
    assert before.astimezone(paris).utcoffset() == timedelta(hours=1)
    assert after.astimezone(paris).utcoffset() == timedelta(hours=2)
    # …and back on the last Sunday of October, 26 October 2031, at 01:00 UTC.
    before, after = datetime(2031, 10, 26, 0, 59, tzinfo=UTC), datetime(2031, 10, 26, 1, 0, tzinfo=UTC)
    assert before.astimezone(paris).utcoffset() == timedelta(hours=2)
    assert after.astimezone(paris).utcoffset() == timedelta(hours=1)


def test_event_times_read_back_to_the_same_instants():
    event = network_event(starts_at=datetime(2031, 3, 30, 1, 30, tzinfo=UTC),
                          ends_at=datetime(2031, 3, 30, 3, 0, tzinfo=UTC))
    [vevent] = parsed([event]).walk("VEVENT")
    assert vevent["DTSTART"].dt == event.starts_at and vevent["DTEND"].dt == event.ends_at


def test_partner_event_has_an_organizer_and_plain_text_description():
    [vevent] = parsed(partners=[partner_event()]).walk("VEVENT")
    organizer = vevent["ORGANIZER"]
    assert str(organizer) == "mailto:atelier@tilleuls.test"
    assert organizer.params["CN"] == "Centre social Les Tilleuls"
    description = str(vevent["DESCRIPTION"])
    assert "**" not in description and "](" not in description
    assert "entre parents" in description and "https://exemple.org/ecrans" in description
    assert "Parents d'ados" in description and "Amina, atelier@tilleuls.test" in description


def test_partner_event_without_an_address_still_has_an_organizer():
    [vevent] = parsed(partners=[partner_event(contact="06 12 34 56 78")]).walk("VEVENT")
    assert str(vevent["ORGANIZER"]).startswith("mailto:")
    assert vevent["ORGANIZER"].params["CN"] == "Centre social Les Tilleuls"
    assert "06 12 34 56 78" in str(vevent["DESCRIPTION"])


def test_network_event_description_is_plain_text():
    [vevent] = parsed([network_event(online_url="https://visio.exemple.org/r")]).walk("VEVENT")
    description = str(vevent["DESCRIPTION"])
    assert "**" not in description and "](" not in description
    assert "entre parents" in description and "https://visio.exemple.org/r" in description
