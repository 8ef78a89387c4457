"""Sending limits on Redis (mailing/throttle.py): the Redis store shared by several processes, its
keys' expiry, and an unreachable Redis. The arithmetic and the file store are in
tests/unit/mailing/test_throttle.py."""
from __future__ import annotations

import secrets

import pytest

from mailing.throttle import (
    RedisBucketStore,
    Relay,
    Throttle,
    ThrottleUnavailable,
    parse_domain_caps,
)
from tests.conftest import REDIS_URL
from tests.support.throttle import (
    A,
    grants_at_most_the_rate_on_the_real_clock,
    never_grants_more_than_the_buckets_hold,
)


@pytest.fixture
def redis_prefix():
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"parentalites-test-throttle-{secrets.token_hex(6)}"
    yield prefix
    keys = list(client.scan_iter(match=f"{{{prefix}}}:*", count=1000))
    if keys:
        client.delete(*keys)
    assert not list(client.scan_iter(match=f"{{{prefix}}}:*"))
    client.close()


@pytest.fixture(params=["redis"])
def shared_store(request, redis_prefix):
    return RedisBucketStore(REDIS_URL, redis_prefix)


def test_store_shared_by_two_processes_never_grants_more_than_the_buckets_hold(shared_store):
    never_grants_more_than_the_buckets_hold(shared_store)


def test_store_shared_by_two_processes_with_the_real_clock(shared_store):
    grants_at_most_the_rate_on_the_real_clock(shared_store)


def test_redis_store_expires_its_keys(redis_prefix):
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    store = RedisBucketStore(client, redis_prefix)
    throttle = Throttle(store, parse_domain_caps("gmail.com=600/60"))
    relay = Relay(A, per_second=10, per_hour=3600)
    assert throttle.try_acquire(relay, "a@gmail.com") == 0.0
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{{{redis_prefix}}}:*"))
    assert keys == sorted(store.redis_key(b.key) for b in relay.buckets() + [throttle.domain_bucket("gmail.com")])
    for key in keys:
        assert 0 < client.pttl(key) <= 3_601_000   # gone once the bucket would be full again


def test_unreachable_redis_is_reported():
    store = RedisBucketStore("redis://127.0.0.1:1/0", "x")
    with pytest.raises(ThrottleUnavailable, match="Redis injoignable"):
        Throttle(store).try_acquire(Relay(A, per_second=1), "a.fr")
