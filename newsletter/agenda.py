"""The Agenda of a letter: the network's own events (soirées, journée des porteurs de projet…) and
the accepted partner events, offered to the editor in date order, placed in the Agenda rubrique.

The network's events live in `events/`, a layer above this one: `events.letter_agenda` registers
a source here at bootstrap (`register_source`), the way the mail-out registers kinds of issue. An
event item stores only the event's id; its date, place and whether it is full are read when the
letter is rendered, so a letter compiled tomorrow says « complet » if it filled up tonight.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, object_session

from accounts import journal
from accounts.models import User
from contributions import rubriques
from contributions.models import Contribution, ContributionKind, ContributionStatus
from contributions.services import accepted_not_placed
from newsletter.issues import CompositionError, check_editable, placed_contribution_ids
from newsletter.models import Issue, IssueItem

journal.register_actions({
    "issue.agenda_event_added": _l("Événement du réseau ajouté à l'Agenda d'une lettre"),
    "issue.agenda_sorted": _l("Rubrique d'une lettre triée par date"),
})


@dataclass(frozen=True)
class AgendaEntry:
    """A network event as the letter shows it."""
    event_id: int
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str
    organiser: str
    summary_md: str
    register_url: str        # the event's page, where its registration form is
    full: bool               # « complet — liste d'attente »
    open_for_registration: bool


@dataclass(frozen=True)
class AgendaSource:
    """What the events layer answers: its upcoming events, and some events by id."""
    upcoming: Callable[[Session], list[AgendaEntry]]
    entries: Callable[[Session, Iterable[int]], dict[int, AgendaEntry]]


_source: AgendaSource | None = None


def register_source(source: AgendaSource) -> None:
    """Called by the bootstrap with events' source (events.letter_agenda.SOURCE)."""
    global _source
    _source = source


def _entries(db: Session, event_ids: Iterable[int]) -> dict[int, AgendaEntry]:
    ids = list(event_ids)
    if not ids or _source is None:
        return {}
    return _source.entries(db, ids)


@dataclass(frozen=True)
class Offer:
    """An event the composer offers for the Agenda: a network event or an accepted partner event."""
    key: str                 # "event:3" or "contribution:12"
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str
    by: str                  # organiser or structure
    full: bool = False
    network: bool = False


def offers(db: Session, issue: Issue) -> list[Offer]:
    """The network's upcoming events and the accepted partner events not yet placed, by date."""
    placed_events = {item.event_id for item in issue.items if item.event_id is not None}
    found = [Offer(f"event:{e.event_id}", e.title, e.starts_at, e.ends_at, e.place, e.organiser, e.full, True)
             for e in (_source.upcoming(db) if _source else []) if e.event_id not in placed_events]
    for c in accepted_not_placed(db, placed_contribution_ids(db)):
        if c.kind is ContributionKind.evenement and c.event_start is not None:
            found.append(Offer(f"contribution:{c.id}", c.title, c.event_start, c.event_end, c.place or "",
                               c.structure.name))
    return sorted(found, key=lambda offer: (offer.starts_at, offer.title))


def agenda_rubrique(db: Session) -> str:
    """The rubrique events land in (the admin may rename it or choose another)."""
    return rubriques.default_for(db, ContributionKind.evenement)


def _starts_at(item: IssueItem, entries: dict[int, AgendaEntry]) -> datetime | None:
    if item.event_id is not None:
        entry = entries.get(item.event_id)
        return entry.starts_at if entry else None
    return item.contribution.event_start if item.contribution is not None else None


def _place_by_date(db: Session, issue: Issue, new: IssueItem, starts_at: datetime | None) -> None:
    """Put `new` in its rubrique before the first item dated later (undated items keep their place)."""
    ordered = sorted(issue.items, key=lambda i: i.position)
    entries = _entries(db, [i.event_id for i in ordered if i.event_id is not None])
    index = len(ordered)
    if starts_at is not None:
        for n, item in enumerate(ordered):
            other = _starts_at(item, entries)
            if item.rubrique == new.rubrique and other is not None and other > starts_at:
                index = n
                break
    ordered.insert(index, new)
    for position, item in enumerate(ordered, start=1):
        item.position = position
    if new not in issue.items:
        issue.items.append(new)
    issue.items.sort(key=lambda i: i.position)


def add_offer(db: Session, editor: User, issue: Issue, key: str) -> IssueItem:
    """Place an offered event (`Offer.key`) in the Agenda, in date order."""
    check_editable(issue)
    kind, _, raw_id = key.partition(":")
    if not raw_id.isdigit():
        raise CompositionError("Événement inconnu.")
    if kind == "contribution":
        contribution = db.get(Contribution, int(raw_id))
        if contribution is None or contribution.kind is not ContributionKind.evenement:
            raise CompositionError("Événement inconnu.")
        if contribution.status is not ContributionStatus.accepted:
            raise CompositionError("Seule une contribution acceptée peut être placée dans un numéro.")
        if any(item.contribution_id == contribution.id for item in issue.items):
            raise CompositionError("Cet événement est déjà dans ce numéro.")
        item = IssueItem(contribution=contribution, rubrique=agenda_rubrique(db), position=0)
        _place_by_date(db, issue, item, contribution.event_start)
        db.flush()
        return item
    if kind != "event":
        raise CompositionError("Événement inconnu.")
    event_id = int(raw_id)
    entry = _entries(db, [event_id]).get(event_id)
    if entry is None:
        raise CompositionError("Événement inconnu.")
    if any(item.event_id == event_id for item in issue.items):
        raise CompositionError("Cet événement est déjà dans ce numéro.")
    item = IssueItem(event_id=event_id, rubrique=agenda_rubrique(db), position=0)
    _place_by_date(db, issue, item, entry.starts_at)
    db.flush()
    journal.record(db, editor, "issue.agenda_event_added",
                   f"« {entry.title} » ajouté à l'Agenda de la lettre n°{issue.numero}.",
                   target=f"issue:{issue.id}", details={"event_id": event_id})
    return item


def sort_by_date(db: Session, editor: User, issue: Issue, rubrique: str) -> None:
    """Order a rubrique's dated items by date (undated ones after them, in their order)."""
    check_editable(issue)
    ordered = sorted(issue.items, key=lambda i: i.position)
    entries = _entries(db, [i.event_id for i in ordered if i.event_id is not None])
    inside = [i for i in ordered if i.rubrique == rubrique]
    slots = [i.position for i in inside]
    dated = sorted((i for i in inside if _starts_at(i, entries) is not None),
                   key=lambda i: _starts_at(i, entries))  # type: ignore[arg-type, return-value]
    undated = [i for i in inside if _starts_at(i, entries) is None]
    for position, item in zip(slots, dated + undated, strict=True):
        item.position = position
    issue.items.sort(key=lambda i: i.position)
    db.flush()
    journal.record(db, editor, "issue.agenda_sorted", f"Rubrique triée par date dans la lettre n°{issue.numero}.",
                   target=f"issue:{issue.id}", details={"rubrique": rubrique})


def with_entries(issue: Issue) -> Issue:
    """Give each event item of the issue its `agenda` entry (None when the event is gone), read
    through the events layer's source; returns the issue."""
    event_items = [item for item in issue.items if item.event_id is not None]
    if not event_items:
        return issue
    db = object_session(issue)
    entries = _entries(db, [item.event_id for item in event_items if item.event_id]) if db is not None else {}
    for item in event_items:
        item.agenda = entries.get(item.event_id or 0)
    return issue
