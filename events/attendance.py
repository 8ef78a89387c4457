"""The registrations of an event as the editor works with them: filtered lists, counts by structure
and by role, marking who came, and the CSV export (UTF-8 with BOM, `;`: what a French spreadsheet
opens right)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from core.db import affected_rows, utcnow
from core.formatting import PARIS
from events.models import Event, Registration, RegistrationStatus

NONE = "__aucune__"  # the filter value for "no structure" / "no role"
STATUS_ORDER = case({RegistrationStatus.confirmed: 0, RegistrationStatus.waitlisted: 1,
                     RegistrationStatus.unconfirmed: 2}, value=Registration.status, else_=3)


@dataclass
class Filters:
    status: str = ""      # confirmed, waitlisted, cancelled; "" = all
    structure: str = ""   # exact structure, NONE for none; "" = all
    role: str = ""        # exact role, NONE for none; "" = all
    attended: str = ""    # yes, no, unmarked; "" = all

    @classmethod
    def from_args(cls, args) -> Filters:
        status = args.get("statut", "")
        attended = args.get("presence", "")
        return cls(status=status if status in RegistrationStatus.__members__ else "",
                   structure=args.get("structure", "")[:200], role=args.get("fonction", "")[:200],
                   attended=attended if attended in ("oui", "non", "a-pointer") else "")

    def as_args(self) -> dict[str, str]:
        pairs = {"statut": self.status, "structure": self.structure, "fonction": self.role,
                 "presence": self.attended}
        return {k: v for k, v in pairs.items() if v}


def registrations(db: Session, event: Event, filters: Filters | None = None) -> list[Registration]:
    """Confirmed first, then the waitlist, then the cancelled, each in order of arrival."""
    filters = filters or Filters()
    query = select(Registration).where(Registration.event_id == event.id)
    if filters.status:
        query = query.where(Registration.status == RegistrationStatus(filters.status))
    for column, value in ((Registration.structure, filters.structure), (Registration.role, filters.role)):
        if value:
            query = query.where(column == ("" if value == NONE else value))
    if filters.attended == "oui":
        query = query.where(Registration.attended.is_(True))
    elif filters.attended == "non":
        query = query.where(Registration.attended.is_(False))
    elif filters.attended == "a-pointer":
        query = query.where(Registration.attended.is_(None))
    return list(db.scalars(query.order_by(STATUS_ORDER, Registration.position)))


@dataclass
class Count:
    label: str          # "" = none given
    registrations: int
    people: int


def counts_by(db: Session, event: Event, column) -> list[Count]:
    """Confirmed registrations and people per value of `column` (structure or role), largest first."""
    rows = db.execute(
        select(column, func.count(Registration.id), func.sum(Registration.party_size))
        .where(Registration.event_id == event.id, Registration.status == RegistrationStatus.confirmed)
        .group_by(column).order_by(func.sum(Registration.party_size).desc(), column)).all()
    return [Count(label or "", n, people or 0) for label, n, people in rows]


@dataclass
class Summary:
    confirmed: int = 0            # people
    confirmed_registrations: int = 0
    waitlisted: int = 0           # people
    waitlisted_registrations: int = 0
    cancelled_registrations: int = 0
    unconfirmed_registrations: int = 0  # address not confirmed yet: no seat
    present: int = 0              # people marked present
    marked: int = 0               # registrations marked either way


def summary(db: Session, event: Event) -> Summary:
    result = Summary()
    for status, n, people in db.execute(
            select(Registration.status, func.count(Registration.id), func.sum(Registration.party_size))
            .where(Registration.event_id == event.id).group_by(Registration.status)):
        if status is RegistrationStatus.confirmed:
            result.confirmed, result.confirmed_registrations = people or 0, n
        elif status is RegistrationStatus.waitlisted:
            result.waitlisted, result.waitlisted_registrations = people or 0, n
        elif status is RegistrationStatus.unconfirmed:
            result.unconfirmed_registrations = n
        else:
            result.cancelled_registrations = n
    # Only a confirmed registration can have come: a cancelled one never counts, even if it had
    # been ticked before it was cancelled.
    confirmed = (Registration.event_id == event.id, Registration.status == RegistrationStatus.confirmed)
    result.present = db.scalar(select(func.coalesce(func.sum(Registration.party_size), 0)).where(
        *confirmed, Registration.attended.is_(True))) or 0
    result.marked = db.scalar(select(func.count(Registration.id)).where(
        *confirmed, Registration.attended.is_not(None))) or 0
    return result


def waitlist_places(db: Session, event: Event) -> dict[int, int]:
    """Registration id → its place in the waitlist (1 = next to be confirmed), not its order of
    arrival among every registration."""
    ids = db.scalars(select(Registration.id).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.waitlisted)
        .order_by(Registration.position))
    return {registration_id: place for place, registration_id in enumerate(ids, start=1)}


def distinct_values(db: Session, event: Event, column) -> list[str]:
    return list(db.scalars(select(column).where(Registration.event_id == event.id).distinct().order_by(column)))


def mark_attendance(db: Session, event: Event, shown_ids: Iterable[int], present_ids: Iterable[int],
                    now: datetime | None = None) -> int:
    """Of the confirmed registrations shown on the editor's page (a form sends only ticked boxes;
    the page says which it showed), those ticked came; a row that was ticked and is no longer did
    not come. An unticked row nobody had marked stays unmarked: only what the editor changed is
    recorded (and counted). Waitlisted, unconfirmed and cancelled registrations are never marked.
    Returns how many changed."""
    now = now or utcnow()
    shown, present = set(shown_ids), set(present_ids)
    markable = (Registration.event_id == event.id, Registration.status == RegistrationStatus.confirmed)
    changed = 0
    if shown & present:
        changed += affected_rows(db.execute(
            update(Registration)
            .where(*markable, Registration.id.in_(shown & present), Registration.attended.is_not(True))
            .values(attended=True, attended_marked_at=now)))
    if shown - present:
        changed += affected_rows(db.execute(
            update(Registration)
            .where(*markable, Registration.id.in_(shown - present), Registration.attended.is_(True))
            .values(attended=False, attended_marked_at=now)))
    return changed


STATUS_CSV = {RegistrationStatus.confirmed: "confirmée", RegistrationStatus.waitlisted: "liste d'attente",
              RegistrationStatus.cancelled: "annulée", RegistrationStatus.unconfirmed: "adresse à confirmer"}
CSV_HEADER = ["Nom", "E-mail", "Structure", "Fonction", "Personnes", "Statut", "Ordre d'arrivée",
              "Inscrit·e le", "Besoins d'accessibilité", "Présent·e"]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell starting with = + - @ as a formula: never for text typed by the public.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def registrations_csv(registrations: list[Registration]) -> bytes:
    """UTF-8 with a BOM and `;` separators: French Excel opens it with the accents right."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in registrations:
        attended = {True: "oui", False: "non", None: ""}[r.attended]
        writer.writerow([_cell(v) for v in (
            r.name, r.email, r.structure, r.role, r.party_size, STATUS_CSV[r.status], r.position,
            r.created_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"), r.accessibility_needs, attended)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


__all__ = ["Filters", "registrations", "counts_by", "summary", "mark_attendance", "registrations_csv",
           "distinct_values", "waitlist_places", "NONE"]
