"""Who is asked again and who is erased: the retention rules, without a database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from subscribers.models import Subscriber, SubscriberStatus
from subscribers.retention import (
    Limits,
    last_sign_of_life,
    months_before,
    needs_repermission,
    repermission_expired,
    years_before,
)

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
LIMITS = Limits.at(NOW, retention_years=3, grace_days=30, pending_days=30)


@pytest.mark.parametrize(("moment", "months", "expected"), [
    (datetime(2026, 12, 2), 12, datetime(2025, 12, 2)),
    (datetime(2026, 3, 31), 1, datetime(2026, 2, 28)),      # no 31 February: the last day
    (datetime(2024, 2, 29), 12, datetime(2023, 2, 28)),
    (datetime(2026, 1, 15, 8, 30), 1, datetime(2025, 12, 15, 8, 30)),  # across the year, time kept
    (datetime(2026, 5, 10), 0, datetime(2026, 5, 10)),
])
def test_months_before(moment, months, expected):
    assert months_before(moment, months) == expected


def test_three_years_before():
    assert years_before(datetime(2027, 2, 28), 3) == datetime(2024, 2, 28)
    assert LIMITS.silent_since == datetime(2023, 12, 2, 4, 0, tzinfo=UTC)
    assert LIMITS.asked_before == NOW - timedelta(days=30)


def subscriber(**values) -> Subscriber:
    values.setdefault("status", SubscriberStatus.active)
    values.setdefault("created_at", NOW - timedelta(days=5 * 365))
    return Subscriber(email="x@example.org", **values)


def test_the_last_sign_of_life_falls_back_to_confirmation_then_creation():
    created = NOW - timedelta(days=2000)
    confirmed = NOW - timedelta(days=1900)
    active = NOW - timedelta(days=10)
    assert last_sign_of_life(subscriber(created_at=created)) == created
    assert last_sign_of_life(subscriber(created_at=created, confirmed_at=confirmed)) == confirmed
    assert last_sign_of_life(subscriber(created_at=created, confirmed_at=confirmed, last_activity_at=active)) == active


def test_silent_for_three_years_is_asked_once():
    silent = subscriber(confirmed_at=NOW - timedelta(days=3 * 365 + 2))
    assert needs_repermission(silent, LIMITS)
    silent.repermission_sent_at = NOW
    assert not needs_repermission(silent, LIMITS)  # asked already: never twice


def test_a_recent_sign_of_life_or_another_status_is_not_asked():
    assert not needs_repermission(subscriber(last_activity_at=NOW - timedelta(days=3 * 365 - 2)), LIMITS)
    for status in (SubscriberStatus.pending, SubscriberStatus.unsubscribed, SubscriberStatus.suppressed):
        assert not needs_repermission(subscriber(status=status), LIMITS)


def test_no_answer_within_the_grace_period_expires():
    asked_31_days_ago = subscriber(repermission_sent_at=NOW - timedelta(days=31))
    asked_29_days_ago = subscriber(repermission_sent_at=NOW - timedelta(days=29))
    assert repermission_expired(asked_31_days_ago, LIMITS)
    assert not repermission_expired(asked_29_days_ago, LIMITS)
    assert not repermission_expired(subscriber(), LIMITS)  # never asked
    assert not repermission_expired(subscriber(status=SubscriberStatus.unsubscribed,
                                               repermission_sent_at=NOW - timedelta(days=90)), LIMITS)
