"""Sending limits (mailing/throttle.py): bucket arithmetic with injected time, all-or-none across
a relay's and a domain's buckets, configuration parsing, relay choice, and the cross-process
guarantee of the file-lock store (several processes never take more than the buckets hold; the
Redis store's: tests/integration/mailing/test_throttle.py). Behaviour only: time is injected,
nothing sleeps to test a speed."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from mailing.throttle import (
    Bucket,
    FileBucketStore,
    MemoryBucketStore,
    RedisBucketStore,
    Relay,
    Throttle,
    choose_relay,
    match_domain,
    parse_domain_caps,
    parse_relays,
    recipient_domain,
)
from tests.support.throttle import (
    A,
    B,
    grants_at_most_the_rate_on_the_real_clock,
    never_grants_more_than_the_buckets_hold,
)

F = "smtp://fallback.test:25"


def memory_throttle(caps: str | None = None) -> Throttle:
    return Throttle(MemoryBucketStore(clock=lambda: pytest.fail("time must be injected")),
                    parse_domain_caps(caps))


class SpyStore(MemoryBucketStore):
    """A memory store that remembers which buckets were asked for."""

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []

    def take(self, buckets, now=None):
        self.asked += [b.key for b in buckets]
        return super().take(buckets, now)


# --- Bucket arithmetic, injected time -------------------------------------------------------------

def test_per_second_bucket_refills_with_elapsed_time():
    throttle = memory_throttle()
    relay = Relay(A, per_second=10)
    assert [throttle.try_acquire(relay, "x@a.fr", now=100.0) for _ in range(10)] == [0.0] * 10
    assert throttle.try_acquire(relay, "x@a.fr", now=100.0) == pytest.approx(0.1)
    assert throttle.try_acquire(relay, "x@a.fr", now=100.04) == pytest.approx(0.06)
    assert throttle.try_acquire(relay, "x@a.fr", now=100.1) == 0.0       # one token back
    assert throttle.try_acquire(relay, "x@a.fr", now=100.1) == pytest.approx(0.1)
    # A long idle time refills up to the capacity, not beyond.
    granted = sum(throttle.try_acquire(relay, "x@a.fr", now=1000.0) == 0.0 for _ in range(50))
    assert granted == 10


def test_fractional_per_second_allows_one_message_then_spaces_them():
    throttle = memory_throttle()
    relay = Relay(A, per_second=0.5)          # one message every two seconds
    assert throttle.try_acquire(relay, "a.fr", now=0.0) == 0.0
    assert throttle.try_acquire(relay, "a.fr", now=0.0) == pytest.approx(2.0)
    assert throttle.try_acquire(relay, "a.fr", now=1.5) == pytest.approx(0.5)
    assert throttle.try_acquire(relay, "a.fr", now=2.0) == 0.0


def test_per_hour_bucket_refills_per_hour():
    throttle = memory_throttle()
    relay = Relay(A, per_hour=60)             # capacity 60, one token per minute
    assert sum(throttle.try_acquire(relay, "a.fr", now=0.0) == 0.0 for _ in range(100)) == 60
    assert throttle.try_acquire(relay, "a.fr", now=0.0) == pytest.approx(60.0)
    assert throttle.try_acquire(relay, "a.fr", now=45.0) == pytest.approx(15.0)
    assert throttle.try_acquire(relay, "a.fr", now=60.0) == 0.0
    assert sum(throttle.try_acquire(relay, "a.fr", now=1800.0) == 0.0 for _ in range(100)) == 29
    assert sum(throttle.try_acquire(relay, "a.fr", now=10 * 3600.0) == 0.0 for _ in range(100)) == 60


def test_per_second_and_per_hour_together_answer_the_longest_wait():
    throttle = memory_throttle()
    relay = Relay(A, per_second=5, per_hour=7)
    assert sum(throttle.try_acquire(relay, "a.fr", now=0.0) == 0.0 for _ in range(10)) == 5
    assert throttle.try_acquire(relay, "a.fr", now=0.0) == pytest.approx(0.2)     # the second bucket
    assert sum(throttle.try_acquire(relay, "a.fr", now=1.0) == 0.0 for _ in range(10)) == 2
    # Now the hour bucket is empty (7 taken, 1 s of refill = 7/3600): it dictates the wait.
    assert throttle.try_acquire(relay, "a.fr", now=1.0) == pytest.approx((1 - 7 / 3600) * 3600 / 7)


def test_domain_cap_is_n_per_s_seconds_for_all_relays():
    throttle = memory_throttle("gmail.com=2/60")
    a, b = Relay(A), Relay(B)
    assert throttle.try_acquire(a, "un@gmail.com", now=0.0) == 0.0
    assert throttle.try_acquire(b, "deux@gmail.com", now=0.0) == 0.0
    assert throttle.try_acquire(b, "trois@gmail.com", now=0.0) == pytest.approx(30.0)
    assert throttle.try_acquire(a, "trois@gmail.com", now=0.0) == pytest.approx(30.0)
    assert throttle.try_acquire(a, "quelqu.un@orange.fr", now=0.0) == 0.0        # no cap there
    assert throttle.try_acquire(a, "trois@gmail.com", now=30.0) == 0.0


def test_all_or_none_across_relay_and_domain_buckets():
    throttle = memory_throttle("gmail.com=1/60")
    capped = Relay(A, per_second=2)
    free = Relay(B)
    assert throttle.try_acquire(capped, "un@gmail.com", now=0.0) == 0.0
    # The domain is full: the relay's token is not taken either…
    assert throttle.try_acquire(capped, "deux@gmail.com", now=0.0) == pytest.approx(60.0)
    assert throttle.try_acquire(capped, "un@orange.fr", now=0.0) == 0.0           # …it is still there
    # The relay is full: the domain's token is not taken either…
    assert throttle.try_acquire(capped, "trois@laposte.net", now=0.0) == pytest.approx(0.5)
    assert throttle.try_acquire(capped, "deux@gmail.com", now=60.0) == 0.0
    throttle2 = memory_throttle("gmail.com=1/60")
    exhausted = Relay(A, per_second=1)
    assert throttle2.try_acquire(exhausted, "x@orange.fr", now=0.0) == 0.0
    assert throttle2.try_acquire(exhausted, "y@gmail.com", now=0.0) == pytest.approx(1.0)
    assert throttle2.try_acquire(free, "y@gmail.com", now=0.0) == 0.0             # …gmail still had it


def test_unlimited_relay_without_cap_never_touches_the_store():
    spy = SpyStore()
    throttle = Throttle(spy, parse_domain_caps("gmail.com=1/60"))
    assert all(throttle.try_acquire(Relay(A), "x@orange.fr") == 0.0 for _ in range(1000))
    assert spy.asked == []


@pytest.mark.parametrize("recipient, expected", [
    ("jean@gmail.com", "gmail.com"),
    ("Jean@GMail.COM", "gmail.com"),
    ("jean@mail.gmail.com", "gmail.com"),
    ("jean@a.b.gmail.com.", "gmail.com"),
    ("GMAIL.com", "gmail.com"),
    ("jean@notgmail.com", None),
    ("jean@gmail.com.evil.test", None),
    ("jean@orange.fr", "orange.fr"),
    ("jean@wanadoo.orange.fr", "wanadoo.orange.fr"),   # the closest configured parent wins
    ("jean@x.wanadoo.orange.fr", "wanadoo.orange.fr"),
    ("jean@free.fr", None),
    ("jean@Exemple.РФ", "exemple.xn--p1ai"),
    ("jean@xn--e1afmkfd.exemple.xn--p1ai", "exemple.xn--p1ai"),
])
def test_domain_matching_includes_subdomains_and_ignores_case(recipient, expected):
    caps = parse_domain_caps("gmail.com=600/60, orange.fr=200/60, Wanadoo.Orange.FR=10/60, "
                             "EXEMPLE.РФ=5/60")
    assert match_domain(recipient, caps) == expected


def test_subdomains_share_their_provider_bucket():
    throttle = memory_throttle("gmail.com=2/60")
    relay = Relay(A)
    assert throttle.try_acquire(relay, "a@gmail.com", now=0.0) == 0.0
    assert throttle.try_acquire(relay, "b@Mail.GMAIL.com", now=0.0) == 0.0
    assert throttle.try_acquire(relay, "c@googlemail.gmail.com", now=0.0) > 0.0


def test_recipient_domain():
    assert recipient_domain("Jean.Dupont@Mail.Example.ORG") == "mail.example.org"
    assert recipient_domain("example.org.") == "example.org"


# --- Configuration ------------------------------------------------------------------------------

def test_parse_relays_default_is_one_unlimited_relay():
    assert parse_relays(None, A) == [Relay(A)]
    assert parse_relays("  ", A) == [Relay(A)]
    assert Relay(A).buckets() == []


def test_parse_relays_full_spec():
    relays = parse_relays("smtp://a:25 weight=3 per_second=50 per_hour=100000; "
                          "smtp+starttls://u:p%40ss@b:587 fallback\n smtps://c:465 per_second=0.5", A)
    assert relays == [
        Relay("smtp://a:25", weight=3, per_second=50.0, per_hour=100000),
        Relay("smtp+starttls://u:p%40ss@b:587", fallback=True),
        Relay("smtps://c:465", per_second=0.5),
    ]
    a = relays[0]
    assert [(b.capacity, b.rate) for b in a.buckets()] == [(50.0, 50.0), (100000.0, 100000 / 3600)]
    assert relays[2].buckets()[0] == Bucket(relays[2].buckets()[0].key, 1.0, 0.5)
    # Bucket names and reprs carry no password.
    assert "p%40ss" not in relays[1].key and "p%40ss" not in repr(relays[1])
    assert relays[1].label == "smtp+starttls://u:***@b:587"


@pytest.mark.parametrize("spec, message", [
    ("smtp://a:25 weight=abc", "weight doit être un entier supérieur ou égal à 1 (reçu « abc »)"),
    ("smtp://a:25 weight=0", "weight doit être un entier"),
    ("smtp://a:25 per_second=-3", "per_second doit être un nombre strictement positif"),
    ("smtp://a:25 per_second=nan", "per_second doit être un nombre strictement positif"),
    ("smtp://a:25 per_hour=1.5", "per_hour doit être un entier"),
    ("smtp://a:25 wieght=3", "option inconnue « wieght=3 »"),
    ("ftp://a:25", "n'est pas une adresse de relais SMTP"),
    ("smtp://a:99999", "port invalide"),
    ("smtp://a:25; smtp://a:25", "listé deux fois"),
    ("smtp://a:25 fallback", "au moins un relais principal"),
    (" ; ", "aucun relais"),
])
def test_parse_relays_errors_are_clear_and_french(spec, message):
    with pytest.raises(ValueError, match="^SMTP_RELAYS : ") as error:
        parse_relays(spec, A)
    assert message in str(error.value)


def test_relay_error_never_shows_the_password():
    with pytest.raises(ValueError) as error:
        parse_relays("smtp+starttls://user:secret@b:587 weight=x", A)
    assert "secret" not in str(error.value) and "user:***@b:587" in str(error.value)


def test_parse_domain_caps():
    assert parse_domain_caps(None) == {}
    assert parse_domain_caps("") == {}
    assert parse_domain_caps("gmail.com=600/60, orange.fr=200/60") == {
        "gmail.com": (600, 60.0), "orange.fr": (200, 60.0)}
    assert parse_domain_caps("GMail.com = 600 / min; @free.fr=20000/h\nsfr.fr=10/30s, laposte.net=1/2.5") == {
        "gmail.com": (600, 60.0), "free.fr": (20000, 3600.0), "sfr.fr": (10, 30.0), "laposte.net": (1, 2.5)}


@pytest.mark.parametrize("spec, message", [
    ("gmail.com=abc", "« gmail.com=abc » n'est pas de la forme domaine=N/S"),
    ("gmail.com=600", "n'est pas de la forme domaine=N/S"),
    ("gmail.com=600/", "n'est pas de la forme domaine=N/S"),
    ("gmail.com:600/60", "n'est pas de la forme domaine=N/S"),
    ("gmail.com=0/60", "N et S doivent être strictement positifs"),
    ("gmail.com=5/0", "N et S doivent être strictement positifs"),
    ("gm ail.com=5/60", "n'est pas de la forme"),
    ("gm/ail.com=5/60", "n'est pas un nom de domaine"),
    ("gmail.com=1/60, GMAIL.COM=2/60", "le domaine gmail.com est listé deux fois"),
])
def test_parse_domain_caps_errors_are_clear_and_french(spec, message):
    with pytest.raises(ValueError, match="^DOMAIN_CAPS : ") as error:
        parse_domain_caps(spec)
    assert message in str(error.value)


def test_from_env_picks_the_store(tmp_path):
    env = {"DOMAIN_CAPS": "gmail.com=600/60", "THROTTLE_MAX_PAUSE": "0.1"}
    redis_throttle = Throttle.from_env("redis://127.0.0.1:6379/0", tmp_path, environ=env)
    assert isinstance(redis_throttle.store, RedisBucketStore)
    assert redis_throttle.domain_caps == {"gmail.com": (600, 60.0)} and redis_throttle.max_pause == 0.1
    embedded = Throttle.from_env(f"sqla+sqlite:///{tmp_path}/broker.sqlite", tmp_path, environ={})
    assert isinstance(embedded.store, FileBucketStore) and embedded.store.path == tmp_path / "throttle.json"
    assert embedded.domain_caps == {} and embedded.max_pause == 0.25
    assert isinstance(Throttle.from_env(None, tmp_path, environ={}).store, FileBucketStore)
    with pytest.raises(ValueError, match="THROTTLE_MAX_PAUSE doit être un nombre de secondes"):
        Throttle.from_env(None, tmp_path, environ={"THROTTLE_MAX_PAUSE": "-1"})
    with pytest.raises(ValueError, match="^DOMAIN_CAPS : "):
        Throttle.from_env(None, tmp_path, environ={"DOMAIN_CAPS": "gmail.com=abc"})


# --- Relay choice -------------------------------------------------------------------------------

def test_weighted_choice_follows_the_weights():
    throttle = memory_throttle()
    relays = [Relay(A, weight=3), Relay(B, weight=1), Relay(F, weight=50, fallback=True)]
    rng = random.Random(20240611)
    counts = Counter(choose_relay(relays, throttle, "x@a.fr", now=0.0, rng=rng).relay.url for _ in range(8000))
    assert counts[F] == 0
    assert counts[A] / 8000 == pytest.approx(0.75, abs=0.02)
    assert counts[B] / 8000 == pytest.approx(0.25, abs=0.02)


def test_weighted_choice_among_relays_with_room():
    throttle = memory_throttle()
    relays = [Relay(A, weight=3, per_second=1), Relay(B, weight=1, per_second=1000)]
    rng = random.Random(7)
    picks = [choose_relay(relays, throttle, "x@a.fr", now=0.0, rng=rng).relay.url for _ in range(200)]
    assert picks.count(A) == 1 and picks.count(B) == 199   # A is full after one: B takes the rest


def test_fallback_only_when_the_primaries_are_exhausted():
    throttle = memory_throttle()
    relays = [Relay(A, per_second=2), Relay(B, per_second=1), Relay(F, per_second=10, fallback=True)]
    rng = random.Random(1)
    picks = [choose_relay(relays, throttle, "x@a.fr", now=0.0, rng=rng) for _ in range(14)]
    assert Counter(c.relay.url for c in picks[:3]) == {A: 2, B: 1}
    assert [c.relay.url for c in picks[3:13]] == [F] * 10
    assert picks[13].relay is None
    assert picks[13].wait == pytest.approx(0.1) and picks[13].relay_wait == pytest.approx(0.1)
    # Half a second later A has a token again: the primaries come first again.
    assert choose_relay(relays, throttle, "x@a.fr", now=0.5, rng=rng).relay.url == A
    assert choose_relay(relays, throttle, "x@a.fr", now=0.5, rng=rng).relay.url == F


def test_a_capped_domain_does_not_spill_onto_the_fallback():
    spy = SpyStore()
    throttle = Throttle(spy, parse_domain_caps("gmail.com=2/60"))
    fallback = Relay(F, per_second=1, fallback=True)
    relays = [Relay(A), fallback]
    assert choose_relay(relays, throttle, "a@gmail.com", now=0.0).relay.url == A
    assert choose_relay(relays, throttle, "b@gmail.com", now=0.0).relay.url == A
    choice = choose_relay(relays, throttle, "c@gmail.com", now=0.0)
    assert choice.relay is None and choice.wait == pytest.approx(30.0)
    assert choice.relay_wait == 0.0                         # the relays have room: only gmail waits
    assert not any(key.startswith(f"relay:{fallback.key}") for key in spy.asked)
    assert choose_relay(relays, throttle, "d@orange.fr", now=0.0).relay.url == A


def test_choice_when_everything_waits_reports_the_smallest_waits():
    throttle = memory_throttle("gmail.com=1/60")
    relays = [Relay(A, per_second=1), Relay(F, per_second=4, fallback=True)]
    assert choose_relay(relays, throttle, "a@gmail.com", now=0.0).relay.url == A
    assert choose_relay(relays, throttle, "b@orange.fr", now=0.0).relay.url == F
    choice = choose_relay(relays, throttle, "c@gmail.com", now=0.0)
    assert choice.relay is None
    assert choice.wait == pytest.approx(60.0)     # gmail's bucket: one per minute
    assert choice.relay_wait == 0.0               # the fallback still has tokens for other domains
    for _ in range(3):
        assert choose_relay(relays, throttle, "d@orange.fr", now=0.0).relay.url == F
    choice = choose_relay(relays, throttle, "e@orange.fr", now=0.0)
    assert choice.relay is None
    assert choice.wait == pytest.approx(0.25) and choice.relay_wait == pytest.approx(0.25)


def test_no_relay_is_an_error():
    with pytest.raises(ValueError, match="aucun relais SMTP"):
        choose_relay([], memory_throttle(), "a.fr")


# --- The file store, shared by several processes -----------------------------------------------

@pytest.fixture(params=["file"])
def shared_store(request, tmp_path):
    return FileBucketStore(tmp_path / "data" / "throttle.json")


def test_store_shared_by_two_processes_never_grants_more_than_the_buckets_hold(shared_store):
    never_grants_more_than_the_buckets_hold(shared_store)


def test_store_shared_by_two_processes_with_the_real_clock(shared_store):
    grants_at_most_the_rate_on_the_real_clock(shared_store)


def test_file_store_forgets_full_buckets_and_survives_a_torn_file(tmp_path):
    path = tmp_path / "throttle.json"
    throttle = Throttle(FileBucketStore(path))
    relay = Relay(A, per_second=2)
    assert throttle.try_acquire(relay, "a.fr", now=10.0) == 0.0
    assert throttle.try_acquire(relay, "a.fr", now=10.0) == 0.0
    assert throttle.try_acquire(relay, "a.fr", now=10.0) == pytest.approx(0.5)
    assert relay.key in path.read_text()
    assert throttle.try_acquire(Relay(B, per_second=1), "a.fr", now=20.0) == 0.0
    assert relay.key not in path.read_text()     # A's bucket was full again: dropped
    path.write_text('{"relay:')                   # a crash in the middle of a write
    assert throttle.try_acquire(relay, "a.fr", now=21.0) == 0.0
