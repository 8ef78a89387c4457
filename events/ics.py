"""iCalendar (RFC 5545) for the agenda feed `/agenda.ics`, built with `icalendar`.

`icalendar` writes CRLF line ends and folds lines at 75 octets without cutting a UTF-8 character;
times are given in Europe/Paris with the matching VTIMEZONE, which `add_missing_timezones` adds.
"""
from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar, Event as ICalEvent, vCalAddress, vText

from events.models import Event, EventStatus
from newsletter.formatting import PARIS
from newsletter.settings import get_settings

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
    description = event.description_md.strip()
    if event.online_url:
        description = f"{description}\n\nEn ligne : {event.online_url}".strip()
    if description:
        component.add("description", description)
    location = _location(event)
    if location:
        component.add("location", location)
    component.add("url", f"{base_url}/agenda/{event.id}/")
    if event.contact_email:
        organiser = vCalAddress(f"mailto:{event.contact_email}")
        if event.organiser:
            organiser.params["cn"] = vText(event.organiser)
        component.add("organizer", organiser)
    return component


def calendar(events: list[Event], name: str = "Agenda du Réaap et des CLAS") -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Paris")
    for event in events:
        cal.add_component(vevent(event))
    if events:
        # Transitions only around the events, not from 1970 to 2038: a small VTIMEZONE.
        first = min(e.starts_at for e in events).date() - timedelta(days=366)
        last = max(e.ends_at for e in events).date() + timedelta(days=366)
        cal.add_missing_timezones(first_date=first, last_date=last)
    return cal.to_ical()


__all__ = ["calendar", "vevent", "ICS_STATUS", "PRODID"]
