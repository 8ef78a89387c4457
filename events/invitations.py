"""Invitations to a network event, sent to a segment through the letter's mail-out engine.

An invitation is an `Issue` with `kind="invitation"`, no numéro, an `event_id` and a `segment`
(see subscribers/segments.py). It is compiled once from `templates/email/event_invitation/` with
the same per-recipient slots as the letter (greeting, unsubscribe and preferences links), planned
for the active subscribers of its segment, and sent, throttled, paused, cancelled and followed
like a letter. It never appears in the archive nor in the numbering of the letters.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, object_session

from accounts.models import User
from core import urls
from core.db import utcnow
from core.formatting import PARIS, date_range, long_date
from events import services
from events.models import Event, EventStatus
from mailing import engine
from mailing.models import Delivery, DeliveryStatus
from mailing.outbox import queue_rendered
from mailing.templates import RenderedEmail, render_email
from newsletter import mailout
from newsletter.models import Issue, IssueKind, IssueStatus
from subscribers import segments
from subscribers.models import Subscriber, SubscriberStatus

KIND = IssueKind.invitation

# The event types in the invitation's words (events.views has the web labels).
TYPE_LABELS = {
    "soiree_reaap": "Soirée-rencontre du Réaap",
    "journee_porteurs": "Journée des porteurs de projet",
    "rencontre_clas": "Rencontre des référents CLAS",
    "formation": "Formation",
}


class InvitationError(ValueError):
    """The invitation cannot be sent as asked; the message says why, in French."""


def when(event: Event) -> tuple[str, str]:
    """The event's date and time in Paris, long and short: « jeudi 12 mars 2026, de 18 h 30 à
    21 h » and « 12 mars 2026 »."""
    return date_range(event.starts_at, event.ends_at), long_date(event.starts_at)


def render_invitation(issue: Issue, event: Event | None = None) -> RenderedEmail:
    """The invitation's subject, HTML and text, personal slots left in place (as a letter's)."""
    if event is None:
        db = object_session(issue)
        event = db.get(Event, issue.event_id) if db is not None and issue.event_id else None
    if event is None:
        raise InvitationError("L'événement de cette invitation n'existe plus.")
    long_when, short_when = when(event)
    event_db = object_session(event)
    full = services.is_full(event_db, event) if event_db is not None else event.status is EventStatus.full
    return engine.render_with_slots(lambda: render_email("event_invitation", {
        "issue": issue, "event": event, "full": full,
        "type_label": TYPE_LABELS.get(event.type.value if event.type else "", "Événement du réseau"),
        "when": long_when, "when_short": short_when,
        "register_url": urls.absolute(f"/agenda/{event.id}/"),
        "greeting": engine.slot("greeting"), "unsubscribe_url": engine.slot("unsubscribe_url"),
        "preferences_url": engine.slot("preferences_url"),
    }))


def preview(event: Event, segment: dict | None = None) -> RenderedEmail:
    """The invitation as a recipient with no name would see it (neutral slots)."""
    issue = Issue(kind=KIND, event_id=event.id, segment=segments.normalize(segment),
                  title=_title(event), issue_date=_issue_date(event))
    return engine.neutral_letter(render_invitation(issue, event))


def send_test(db: Session, event: Event, address: str) -> None:
    """The invitation as it would go out, to one address, through the outbox; no delivery."""
    queue_rendered(db, KIND, address, preview(event),
                   headers=engine.test_send_headers(),
                   subject_prefix="[TEST] ")


def not_yet_invited(event_id: int | None, issue_id: int | None = None) -> ColumnElement[bool]:
    """SQL condition: the subscriber has not had (and is not about to have) an invitation to this
    event from another mail-out. An editor may widen the segment later; nobody gets it twice.
    (An invitation's event_id is None once its event is deleted: ondelete SET NULL.)"""
    return ~exists(select(Delivery.id).join(Issue, Issue.id == Delivery.issue_id).where(
        Issue.kind == KIND, Issue.event_id == event_id,
        Issue.id != (issue_id if issue_id is not None else -1),
        Delivery.subscriber_id == Subscriber.id,
        Delivery.status.in_([DeliveryStatus.queued, DeliveryStatus.claimed, DeliveryStatus.sent])))


def recipients_condition(issue: Issue) -> ColumnElement[bool]:
    """Who the mail-out plans for this invitation (the status test is the engine's)."""
    return and_(segments.condition(issue.segment), not_yet_invited(issue.event_id, issue.id))


def count_recipients(db: Session, event: Event, segment: dict | None) -> int:
    """How many active subscribers a new invitation to `event` for `segment` would reach now."""
    return db.scalar(select(func.count(Subscriber.id)).where(
        Subscriber.status == SubscriberStatus.active, segments.condition(segment),
        not_yet_invited(event.id))) or 0


def already_invited_count(db: Session, event: Event) -> int:
    return db.scalar(select(func.count(func.distinct(Delivery.subscriber_id))).join(Issue).where(
        Issue.kind == KIND, Issue.event_id == event.id,
        Delivery.status.in_([DeliveryStatus.queued, DeliveryStatus.claimed, DeliveryStatus.sent]))) or 0


def _title(event: Event) -> str:
    return f"Invitation : {event.title}"[:300]


def _issue_date(event: Event) -> date:
    return event.starts_at.astimezone(PARIS).date()


def check_invitable(event: Event) -> None:
    if event.status is EventStatus.cancelled:
        raise InvitationError("Cet événement est annulé : on ne peut plus y inviter.")
    if event.ends_at <= utcnow():
        raise InvitationError("Cet événement est passé.")


def send(db: Session, editor: User, event: Event, segment: dict | None) -> Issue:
    """Create the invitation and start its mail-out now (a worker compiles, plans and sends it
    after COMMIT). Raises InvitationError or segments.SegmentError."""
    check_invitable(event)
    issue = Issue(kind=KIND, numero=None, event_id=event.id, segment=segments.normalize(segment),
                  title=_title(event), issue_date=_issue_date(event), created_by_id=editor.id,
                  status=IssueStatus.draft)
    db.add(issue)
    db.flush()
    try:
        render_invitation(issue, event)  # a template error shows now, to the editor
        mailout.request_send(db, issue)
    except (mailout.MailoutError, ValueError) as exc:
        db.rollback()  # nothing half-made stays in the session: the editor's page is shown again
        raise InvitationError(str(exc)) from exc
    db.flush()
    return issue


def list_invitations(db: Session, event_id: int | None = None) -> list[Issue]:
    query = select(Issue).where(Issue.kind == KIND)
    if event_id is not None:
        query = query.where(Issue.event_id == event_id)
    return list(db.scalars(query.order_by(Issue.created_at.desc(), Issue.id.desc())))


def events_by_id(db: Session, issues: list[Issue]) -> dict[int, Event]:
    ids = {i.event_id for i in issues if i.event_id}
    return {e.id: e for e in db.scalars(select(Event).where(Event.id.in_(ids)))} if ids else {}


def invitable_events(db: Session) -> list[Event]:
    """Upcoming events that are not cancelled: what an editor may invite to."""
    return list(db.scalars(select(Event).where(Event.ends_at > utcnow(), Event.status != EventStatus.cancelled)
                           .order_by(Event.starts_at)))


def _check_sendable(issue: Issue) -> None:
    if issue.event_id is None:
        raise mailout.MailoutError("Cette invitation n'est liée à aucun événement.")


# What the mail-out asks of an invitation (registered by the bootstrap).
KIND_RULES = mailout.KindRules(render=render_invitation, recipients=recipients_condition, archived=False,
                               check=_check_sendable)
