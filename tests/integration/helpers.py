"""Helpers shared by several integration (and browser) test files: waiting, logging in, racing
sessions, composing a letter, subscribers, events, the outbox."""
from __future__ import annotations

import importlib.metadata
import time
from datetime import date, timedelta

from sqlalchemy import select

from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from core.db import utcnow
from events.models import Event, EventType
from mailing.models import OutboundEmail
from newsletter import issues
from newsletter.models import Issue, IssueStatus
from subscribers.models import Subscriber, SubscriberStatus

# --- Waiting, logging in, racing ------------------------------------------------------------------

def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def login(client, email: str, password: str):
    response = client.post("/connexion", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def run_concurrently(work, count: int, *, before_barrier=None, timeout: float = 60.0) -> list:
    """Run `work(session, index)` in `count` threads, each with its own database session, released
    together by a barrier; returns the results in thread order and fails on any thread's exception.
    `before_barrier(session, index)` runs first (e.g. to load a stale view before the race)."""
    import threading

    from core.db import SessionFactory
    barrier = threading.Barrier(count, timeout=timeout)
    results: list = [None] * count
    errors: list = []

    def run(index: int) -> None:
        session = SessionFactory()
        try:
            if before_barrier:
                before_barrier(session, index)
            barrier.wait()
            results[index] = work(session, index)
        except Exception as exc:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads), "a thread is still running"
    return results


# --- A letter and its readers --------------------------------------------------------------------

def compose(db, world, numero=1, articles=2) -> Issue:
    issue = issues.create_issue(db, world["editor"], numero, f"Lettre de test {numero}", date(2026, 10, 1),
                                "Édito **gras**.")
    for n in range(articles):
        c = contributions.create(db, world["partner"], contributions.ContributionData(
            kind=ContributionKind.actualite, title=f"Article {numero}.{n} — « éàç »", body_md="Du *texte*."))
        contributions.decide(db, world["editor"], c, S.accepted)
        issues.add_item(db, issue, c)
    db.commit()  # the editor's requests' boundary
    return issue


def people(db, count: int, status=SubscriberStatus.active, prefix="pro") -> list[Subscriber]:
    subs = [Subscriber(email=f"{prefix}{i}@example.org", name=f"Zoé {prefix} {i}", status=status) for i in range(count)]
    db.add_all(subs)
    db.commit()
    return subs


def wait_sent(db, issue_id: int, timeout: float = 90) -> Issue:
    def done():
        db.expire_all()
        issue = db.get(Issue, issue_id)
        return issue if issue.status is IssueStatus.sent else None
    return wait_for(done, timeout, message=f"issue {issue_id} to be sent")


def letters(smtp) -> list:
    return [m for m in smtp.messages if m.message["Subject"].startswith("Lettre Parentalités n°")]


# --- Events and the outbox -----------------------------------------------------------------------

def make_event(db, capacity=None, days=10, **extra) -> Event:
    start = (utcnow() + timedelta(days=days)).replace(microsecond=0)
    values = dict(type=EventType.soiree_reaap, title="Soirée-rencontre du Réaap", description_md="Échanges.",
                  starts_at=start, ends_at=start + timedelta(hours=2), place="Centre social Les Tilleuls",
                  address="12 rue des Lilas, 93000 Bobigny", capacity=capacity, organiser="Réaap 93",
                  contact_email="reaap@exemple.org")
    values.update(extra)
    event = Event(**values)
    db.add(event)
    db.commit()
    return event


def run_login_link_jobs(db, captured_jobs) -> None:
    """Do, in this process, the work of the login-link jobs /connexion/lien enqueued (a worker's)."""
    from accounts.auth import LOGIN_LINK_TASK, send_login_link
    db.expire_all()  # a worker's session is fresh: it sees what the requests committed
    for job in [job for job in captured_jobs if job[0] == LOGIN_LINK_TASK]:
        captured_jobs.remove(job)
        send_login_link(db, *job[1])
        db.commit()


def outbox(db, template=None) -> list[OutboundEmail]:
    query = select(OutboundEmail).order_by(OutboundEmail.id)
    if template:
        query = query.where(OutboundEmail.template == template)
    return list(db.scalars(query))


def run_subscribe_jobs(db, captured_jobs) -> None:
    """Do, in this process, the work of the subscription jobs /abonnement enqueued, as a worker does:
    the task itself (tasks.subscribers.subscribe), in its own unit of work, committed."""
    from subscribers.views import SUBSCRIBE_TASK
    from tasks.subscribers import subscribe
    for job in [job for job in captured_jobs if job[0] == SUBSCRIBE_TASK]:
        captured_jobs.remove(job)
        subscribe(*job[1])
    db.expire_all()  # the test's session sees what the task committed


NO_PREFERENCES = {"topics": [], "role": None, "commune": None, "departement": None}
TEST_CLIENT_AGENT = f"Werkzeug/{importlib.metadata.version('werkzeug')}"  # Flask's test client's User-Agent


def subscribe_job(address: str, name: str, structure: str = "", preferences: dict | None = None) -> tuple:
    """The job /abonnement enqueues for a form posted by Flask's test client."""
    return ("tasks.subscribers.subscribe", (address, name, structure, preferences or NO_PREFERENCES,
                                            "127.0.0.1", TEST_CLIENT_AGENT))
