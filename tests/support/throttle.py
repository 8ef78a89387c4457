"""Two processes sharing one bucket store: the scenarios each store must pass, run by the unit tier
on the file store and by the integration tier on Redis."""
from __future__ import annotations

import multiprocessing
import time
from collections import Counter

import pytest

from mailing.throttle import Relay, Throttle, parse_domain_caps, recipient_domain

A = "smtp://relay-a.test:25"
B = "smtp://relay-b.test:25"


def _hammer(throttle, relay, recipients, attempts, now, until, start, results):
    """A worker process: try to send as fast as it can, count what it was granted."""
    start.wait(30)
    granted: Counter = Counter()
    i = 0
    while (i < attempts) if until is None else (time.time() < until):
        recipient = recipients[i % len(recipients)]
        if throttle.try_acquire(relay, recipient, now=now) == 0.0:
            granted[recipient_domain(recipient)] += 1
        i += 1
    results.put(dict(granted))


def _run_two_processes(throttle, relay, recipient_lists, attempts=0, now=None, until=None):
    context = multiprocessing.get_context("fork")   # as Celery's prefork pool does
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=_hammer, args=(throttle, relay, recipients, attempts, now, until,
                                                       start, results))
                 for recipients in recipient_lists]
    for process in processes:
        process.start()
    start.set()
    totals: Counter = Counter()
    try:
        for _ in processes:
            totals.update(results.get(timeout=120))
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    return totals


def never_grants_more_than_the_buckets_hold(shared_store) -> None:
    """Time frozen: no refill, so the buckets hold exactly their capacity, and two processes
    hammering them together must be granted exactly that much, not one more."""
    # Hour-scale buckets: Redis expires a key in real time once its bucket would be full again,
    # so with a frozen `now` a per-second bucket could expire (and refill) during a slow run.
    throttle = Throttle(shared_store, parse_domain_caps("gmail.com=30/3600"))
    relay = Relay(A, per_hour=50)
    now = 1_000_000.0
    # The parent uses the store before forking (its descriptor, its connections): the children
    # must not share them.
    assert throttle.try_acquire(Relay(B, per_second=1), "x@a.fr", now=now) == 0.0
    totals = _run_two_processes(throttle, relay, [["a@gmail.com"], ["b@gmail.com", "c@orange.fr"]],
                                attempts=400, now=now)
    # The relay's 50 tokens all went (B's 200 orange attempts could not leave one), gmail's 30 at most.
    assert totals["gmail.com"] + totals["orange.fr"] == 50
    assert totals["gmail.com"] <= 30
    # Nothing more for anyone at that instant, and nothing was lost: gmail still holds exactly
    # what the processes did not take.
    assert throttle.try_acquire(relay, "d@orange.fr", now=now) == pytest.approx(3600 / 50)
    unlimited = Relay("smtp://unlimited.test:25")
    left = sum(throttle.try_acquire(unlimited, "d@gmail.com", now=now) == 0.0 for _ in range(40))
    assert left == 30 - totals["gmail.com"]


def grants_at_most_the_rate_on_the_real_clock(shared_store) -> None:
    """The real clock (Redis's own clock for Redis): whatever the speed, in the window
    [start, end] the processes are granted at most capacity + rate × window."""
    throttle = Throttle(shared_store)
    relay = Relay(A, per_second=20)
    start = time.time()
    totals = _run_two_processes(throttle, relay, [["a@a.fr"], ["b@b.fr"]], until=start + 0.4)
    window = time.time() - start
    granted = sum(totals.values())
    assert 0 < granted <= 20 + 20 * window
