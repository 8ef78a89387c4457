"""The mails a subscriber import triggers, sent through the letter's mail-out engine.

An import (subscribers/importer.py) creates, in one transaction, pending subscribers (no consent
nor legitimate interest: they must confirm) and active ones on legitimate interest (they are
welcomed, told how to leave). It sends the `subscribers.importer.imported` signal; the bootstrap
connects `on_import` here, which creates one Issue per kind of mail — `confirmation` (template
`subscription_import_confirm`, its personal `confirm_url` slot leads to /abonnement/valider/<token>)
and `welcome` (template `subscription_welcome`) — plans exactly those subscribers, and starts the
mail-out: throttled, batched, paused, resumed and followed like a letter. They have no numéro and
are never archived. Planning happens here, with the import, since the engine's own planning
selects active subscribers only: `recipients` adds nobody later.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from core.db import among
from core.formatting import PARIS
from mailing import engine
from mailing.templates import RenderedEmail, render_email
from newsletter import mailout
from newsletter.models import Issue, IssueKind, IssueStatus
from subscribers.importer import imported
from subscribers.models import Subscriber

TEMPLATES = {IssueKind.confirmation: "subscription_import_confirm", IssueKind.welcome: "subscription_welcome"}
TITLES = {IssueKind.confirmation: "Demande de confirmation aux abonnés importés",
          IssueKind.welcome: "Bienvenue aux abonnés importés"}
PLAN_CHUNK = 5000  # ids per INSERT … SELECT (SQLite allows 32,766 parameters)


def render(issue: Issue) -> RenderedEmail:
    """The mail with its personal slots left in place (greeting, confirm, preferences, unsubscribe)."""
    return render_email(TEMPLATES[IssueKind(issue.kind)], {
        "issue": issue, "imported": True,
        "greeting": engine.slot("greeting"), "confirm_url": engine.slot("confirm_url"),
        "unsubscribe_url": engine.slot("unsubscribe_url"), "preferences_url": engine.slot("preferences_url"),
    })


def _nobody_more(issue: Issue) -> ColumnElement[bool]:
    return false()  # every recipient was planned with the import


def _check(issue: Issue) -> None:
    pass


CONFIRMATION_RULES = mailout.KindRules(render=render, recipients=_nobody_more, archived=False, check=_check)
WELCOME_RULES = mailout.KindRules(render=render, recipients=_nobody_more, archived=False, check=_check)


def start_campaign(db: Session, kind: IssueKind, subscriber_ids: Sequence[int], filename: str) -> Issue:
    """Create the issue, plan these subscribers, and start its mail-out after the caller's COMMIT."""
    issue = Issue(kind=kind, numero=None, title=f"{TITLES[kind]} ({filename})"[:300],
                  issue_date=datetime.now(PARIS).date(), status=IssueStatus.draft)
    db.add(issue)
    db.flush()
    for start in range(0, len(subscriber_ids), PLAN_CHUNK):
        chunk = list(subscriber_ids[start:start + PLAN_CHUNK])
        engine.plan(db, issue.id, select(Subscriber.id).where(among(db, Subscriber.id, chunk)))
    mailout.request_send(db, issue)
    return issue


def on_import(db: Session, *, filename: str, actor: str | None, pending_ids: Sequence[int],
              welcome_ids: Sequence[int]) -> list[Issue]:
    """Receiver of `subscribers.importer.imported` (connected by the bootstrap)."""
    issues = []
    if pending_ids:
        issues.append(start_campaign(db, IssueKind.confirmation, pending_ids, filename))
    if welcome_ids:
        issues.append(start_campaign(db, IssueKind.welcome, welcome_ids, filename))
    return issues


def install() -> None:
    """Called by the bootstrap: the kinds registered with the mail-out, the import's signal connected."""
    imported.connect(on_import)
    mailout.register_kind(IssueKind.confirmation, CONFIRMATION_RULES)
    mailout.register_kind(IssueKind.welcome, WELCOME_RULES)
