"""iCalendar (RFC 5545) for the agenda feed `/agenda.ics` and the invitations sent by e-mail
(iTIP, RFC 5546: METHOD:REQUEST for an invitation or an update, METHOD:CANCEL), built with
`icalendar`.

`icalendar` writes CRLF line ends and folds lines at 75 octets without cutting a UTF-8 character;
times are given in Europe/Paris with the matching VTIMEZONE (`paris_vtimezone`: the EU rule since
1996, as two RRULEs; `icalendar`'s generated one put the March change an hour late). DESCRIPTION is
plain text: the Markdown of editors and partners goes through `core.text.markdown_to_text`.
An invitation carries the same UID as the feed, so a calendar that has both sees one event; each
significant change of the event raises its SEQUENCE, so that calendars apply the update.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from icalendar import Calendar, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress, vText
from icalendar import Event as ICalEvent

from core import site_settings
from core.db import utcnow
from core.formatting import PARIS
from core.settings import get_settings
from core.text import markdown_to_text
from events.models import Event, EventStatus, Registration
from mailing.mime import Attachment

if TYPE_CHECKING:
    from contributions.models import Contribution

PRODID = "-//Réaap//Lettre Parentalités//FR"

ICS_STATUS = {
    EventStatus.scheduled: "CONFIRMED",
    EventStatus.full: "CONFIRMED",
    EventStatus.postponed: "TENTATIVE",
    EventStatus.cancelled: "CANCELLED",
}


def _location(event: Event) -> str:
    parts = [p for p in (event.place, event.address) if p]
    if not parts and event.online_url:
        parts.append(event.online_url)
    return ", ".join(parts)


def vevent(event: Event) -> ICalEvent:
    base_url = get_settings().base_url
    component = ICalEvent()
    component.add("uid", event.uid)
    # The time this version of the event was last changed: stable from one download to the next.
    component.add("dtstamp", event.updated_at)
    component.add("last-modified", event.updated_at)
    component.add("created", event.created_at)
    component.add("sequence", event.sequence)
    component.add("status", ICS_STATUS[event.status])
    component.add("summary", event.title)
    component.add("dtstart", event.starts_at.astimezone(PARIS))
    component.add("dtend", event.ends_at.astimezone(PARIS))
    description = markdown_to_text(event.description_md).strip()
    if event.online_url:
        description = f"{description}\n\nEn ligne : {event.online_url}".strip()
    if description:
        component.add("description", description)
    location = _location(event)
    if location:
        component.add("location", location)
    component.add("url", f"{base_url}/agenda/{event.id}/")
    if event.contact_email:
        component.add("organizer", _organizer(event))
    return component


def _organizer(event: Event) -> vCalAddress:
    # iTIP requires an ORGANIZER: the event's contact, else the letter's sender.
    organiser = vCalAddress(f"mailto:{event.contact_email or site_settings.current().mail_from_address}")
    organiser.params["cn"] = vText(event.organiser or "Réaap")
    return organiser


def partner_vevent(contribution: Contribution) -> ICalEvent:
    """An accepted partner event (a contribution of kind `evenement`) for the feed."""
    settings = get_settings()
    component = ICalEvent()
    component.add("uid", f"contribution-{contribution.id}@{settings.mail_domain}")
    component.add("dtstamp", contribution.updated_at)
    component.add("last-modified", contribution.updated_at)
    component.add("sequence", 0)
    component.add("status", "CONFIRMED")
    component.add("summary", contribution.title)
    starts = _partner_start(contribution)
    component.add("dtstart", starts.astimezone(PARIS))
    if contribution.event_end and contribution.event_end > starts:
        component.add("dtend", contribution.event_end.astimezone(PARIS))
    organiser = contribution.structure.name if contribution.structure else ""
    facts = [f"Organisé par {organiser}" if organiser else "",
             f"Public : {contribution.audience}" if contribution.audience else "",
             f"Contact : {contribution.contact}" if contribution.contact else ""]
    description = "\n\n".join(p for p in (markdown_to_text(contribution.body_md).strip(),
                                           "\n".join(f for f in facts if f)) if p)
    if description:
        component.add("description", description)
    if contribution.place:
        component.add("location", contribution.place)
    component.add("url", f"{settings.base_url}/agenda/partenaires/{contribution.id}/")
    component.add("organizer", _partner_organizer(contribution, organiser))
    return component


_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _partner_organizer(contribution: Contribution, organiser: str) -> vCalAddress:
    """The structure, with the address of its contact when the partner wrote one (« Amina,
    atelier@… »), else the network's address (an ORGANIZER is an address, RFC 5545 § 3.8.4.3)."""
    found = _EMAIL_IN_TEXT.search(contribution.contact or "")
    address = found.group(0) if found else site_settings.current().mail_from_address
    organizer = vCalAddress(f"mailto:{address}")
    organizer.params["cn"] = vText(organiser or "Réaap")
    return organizer


def _partner_start(contribution: Contribution) -> datetime:
    assert contribution.event_start is not None  # the agenda lists only partner events with a date
    return contribution.event_start


def _calendar(method: str, name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
        cal.add("x-wr-timezone", "Europe/Paris")
    return cal


def paris_vtimezone() -> Timezone:
    """Europe/Paris since 1996 (EU rule): summer time from the last Sunday of March at 01:00 UTC
    (02:00 CET → 03:00 CEST) to the last Sunday of October at 01:00 UTC (03:00 CEST → 02:00 CET).
    RFC 5545 § 3.6.5: DTSTART is the local onset in the offset in force before it."""
    zone = Timezone()
    zone.add("tzid", "Europe/Paris")
    zone.add("x-lic-location", "Europe/Paris")
    summer = TimezoneDaylight()
    summer.add("tzname", "CEST")
    summer.add("tzoffsetfrom", timedelta(hours=1))
    summer.add("tzoffsetto", timedelta(hours=2))
    summer.add("dtstart", datetime(1996, 3, 31, 2, 0))
    summer.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    winter = TimezoneStandard()
    winter.add("tzname", "CET")
    winter.add("tzoffsetfrom", timedelta(hours=2))
    winter.add("tzoffsetto", timedelta(hours=1))
    winter.add("dtstart", datetime(1996, 10, 27, 3, 0))
    winter.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    zone.add_component(summer)
    zone.add_component(winter)
    return zone


def _add_timezone(cal: Calendar, starts: list[datetime], ends: list[datetime]) -> None:
    if starts:
        cal.subcomponents.insert(0, paris_vtimezone())  # before the events that name it


def calendar(events: list[Event], name: str = "Agenda du Réaap et des CLAS",
             partner_events: Sequence[Contribution] = ()) -> bytes:
    cal = _calendar("PUBLISH", name)
    for event in events:
        cal.add_component(vevent(event))
    for contribution in partner_events:
        cal.add_component(partner_vevent(contribution))
    _add_timezone(cal, [e.starts_at for e in events] + [_partner_start(c) for c in partner_events],
                  [e.ends_at for e in events] + [c.event_end or _partner_start(c) for c in partner_events])
    return cal.to_ical()


def invitation(event: Event, registration: Registration, method: str = "REQUEST",
               now: datetime | None = None) -> str:
    """The iTIP message for one registrant: METHOD:REQUEST (the invitation, or an update with the
    event's current SEQUENCE) or METHOD:CANCEL (STATUS:CANCELLED)."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(method)
    cal = _calendar(method)
    component = vevent(event)
    # iTIP: DTSTAMP is when this message was made; ORGANIZER and ATTENDEE are required.
    component.pop("dtstamp")
    component.add("dtstamp", now or utcnow())
    if "organizer" not in component:
        component.add("organizer", _organizer(event))
    if method == "CANCEL":
        component.pop("status")
        component.add("status", "CANCELLED")
    attendee = vCalAddress(f"mailto:{registration.email}")
    attendee.params["cn"] = vText(registration.name or registration.email)
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "ACCEPTED"  # registering was the answer; no reply is expected
    attendee.params["rsvp"] = "FALSE"
    component.add("attendee", attendee)
    cal.add_component(component)
    _add_timezone(cal, [event.starts_at], [event.ends_at])
    return cal.to_ical().decode("utf-8")


def invitation_attachment(event: Event, registration: Registration, method: str = "REQUEST",
                          now: datetime | None = None) -> Attachment:
    """The invitation as an e-mail attachment: text/calendar; method=REQUEST (or CANCEL)."""
    filename = "annulation.ics" if method == "CANCEL" else "invitation.ics"
    return Attachment(filename, "text/calendar", invitation(event, registration, method, now),
                      {"method": method})


__all__ = ["calendar", "vevent", "partner_vevent", "paris_vtimezone", "invitation", "invitation_attachment",
           "ICS_STATUS", "PRODID"]
