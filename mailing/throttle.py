"""Sending limits: token buckets per SMTP relay and per recipient domain, shared by every worker
process, answering "go now" or "wait this long" and never sleeping.

A relay may cap messages per second and per hour (`SMTP_RELAYS`); a mail provider may be capped
at N messages per S seconds (`DOMAIN_CAPS`), one bucket per configured provider, shared by all
relays and covering its subdomains. One message takes one token from each bucket that applies,
all of them or none, atomically across processes:

- Redis (when the broker is Redis): one Lua script refills by elapsed time (Redis server clock,
  so worker hosts' clocks do not matter), then takes a token from every key or answers the waits;
- a JSON file under the data directory, locked with `fcntl.flock` (the embedded setup);
- memory (unit use, one process).

Token bucket semantics: capacity C, refill rate r tokens per second, one token per message. In any
window of T seconds at most C + r·T messages go: `per_second=X` is C = max(1, X), r = X;
`per_hour=H` is C = H, r = H/3600 (so a burst of up to H, then H per hour on average);
`domain=N/S` is C = N, r = N/S.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit

from core.settings import InvalidSetting, get_settings

log = logging.getLogger(__name__)

RELAYS_ENV = "SMTP_RELAYS"
DOMAIN_CAPS_ENV = "DOMAIN_CAPS"
MAX_PAUSE_ENV = "THROTTLE_MAX_PAUSE"
DEFAULT_MAX_PAUSE = 0.25      # seconds the engine may pause inline before giving deliveries back
REDIS_PREFIX = "parentalites:throttle"
FILE_NAME = "throttle.json"
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
_EPSILON = 1e-9               # float noise: 0.9999999999 tokens is one token


class ThrottleUnavailable(RuntimeError):
    """The shared bucket store (Redis, the lock file) could not be reached: send nothing now."""


class RelayError(ValueError):
    """A relay's URL or option is wrong; `fr` (also str()) and `en` say why."""

    def __init__(self, fr: str, en: str):
        super().__init__(fr)
        self.fr = fr
        self.en = en


def _invalid(variable: str, fr: str, en: str) -> InvalidSetting:
    return InvalidSetting(variable, f"{variable} : {fr}", f"{variable}: {en}")


# --- Relays -------------------------------------------------------------------------------------

def _redacted(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<adresse illisible>"


@dataclass(frozen=True)
class Bucket:
    """One token bucket: `capacity` tokens at most, refilled at `rate` tokens per second."""
    key: str
    capacity: float
    rate: float


@dataclass(frozen=True)
class Relay:
    """An SMTP relay (an `SMTPConnection` URL) with its weight among the primary relays, whether it
    is a fallback (used only when every primary relay must wait), and its optional caps."""
    url: str
    weight: int = 1
    fallback: bool = False
    per_second: float | None = None
    per_hour: int | None = None

    def __post_init__(self):
        label = self.label
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018  raises ValueError on a bad port
        except ValueError:
            raise RelayError(f"relais {label} : adresse illisible (port invalide ?)",
                             f"relay {label}: unreadable URL (bad port?)") from None
        if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
            raise RelayError(
                f"« {label} » n'est pas une adresse de relais SMTP (smtp://hôte:port, "
                "smtp+starttls://utilisateur:motdepasse@hôte:587 ou smtps://utilisateur:motdepasse@hôte:465)",
                f"'{label}' is not an SMTP relay URL (smtp://host:port, "
                "smtp+starttls://user:password@host:587 or smtps://user:password@host:465)")
        if isinstance(self.weight, bool) or not isinstance(self.weight, int) or self.weight < 1:
            raise RelayError(f"relais {label} : weight doit être un entier supérieur ou égal à 1 "
                             f"(reçu {self.weight!r})",
                             f"relay {label}: weight must be a whole number, at least 1 (got {self.weight!r})")
        if self.per_second is not None and not (
                isinstance(self.per_second, (int, float)) and math.isfinite(self.per_second) and self.per_second > 0):
            raise RelayError(f"relais {label} : per_second doit être un nombre strictement positif "
                             f"(reçu {self.per_second!r})",
                             f"relay {label}: per_second must be a number above 0 (got {self.per_second!r})")
        if self.per_hour is not None and (
                isinstance(self.per_hour, bool) or not isinstance(self.per_hour, int) or self.per_hour < 1):
            raise RelayError(f"relais {label} : per_hour doit être un entier supérieur ou égal à 1 "
                             f"(reçu {self.per_hour!r})",
                             f"relay {label}: per_hour must be a whole number, at least 1 (got {self.per_hour!r})")

    def __repr__(self) -> str:  # never print a password
        return (f"Relay({self.label!r}, weight={self.weight}, fallback={self.fallback}, "
                f"per_second={self.per_second}, per_hour={self.per_hour})")

    @property
    def label(self) -> str:
        """The URL with its password masked, for logs."""
        return _redacted(self.url)

    @property
    def key(self) -> str:
        """A stable name for this relay's buckets, the same in every process, without secrets."""
        parts = urlsplit(self.url)
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:12]
        return f"{parts.hostname}:{parts.port or ''}:{digest}"

    def buckets(self) -> list[Bucket]:
        found = []
        if self.per_second is not None:
            found.append(Bucket(f"relay:{self.key}:s", max(1.0, float(self.per_second)), float(self.per_second)))
        if self.per_hour is not None:
            found.append(Bucket(f"relay:{self.key}:h", float(self.per_hour), self.per_hour / 3600.0))
        return found


def _positive_int(raw: str) -> int | None:
    return int(raw) if re.fullmatch(r"\d+", raw) and int(raw) >= 1 else None


def _positive_float(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


_WHOLE = ("un entier supérieur ou égal à 1", "a whole number, at least 1")
# A relay's numeric options: how each is read, and what it must be (French, English).
_RELAY_OPTIONS: dict[str, tuple[Callable[[str], float | None], str, str]] = {
    "weight": (_positive_int, *_WHOLE),
    "per_second": (_positive_float, "un nombre strictement positif", "a number above 0"),
    "per_hour": (_positive_int, *_WHOLE),
}


def parse_relays(spec: str | None, default_url: str) -> list[Relay]:
    """`SMTP_RELAYS`: relays separated by `;` (or new lines), each a URL followed by options
    separated by spaces: `weight=N`, `per_second=X`, `per_hour=N`, `fallback`. Unset or blank:
    one relay, `default_url`, unlimited. Raises InvalidSetting (a ValueError; str() in French)."""
    if spec is None or not spec.strip():
        return [Relay(default_url)]
    relays: list[Relay] = []
    for entry in re.split(r"[;\n]", spec):
        if not entry.strip():
            continue
        url, *options = entry.split()
        label = _redacted(url)
        fields: dict = {}
        for option in options:
            name, equals, raw = option.partition("=")
            if name == "fallback" and not equals:
                fields["fallback"] = True
            elif name in _RELAY_OPTIONS and equals:
                parse, fr_rule, en_rule = _RELAY_OPTIONS[name]
                fields[name] = parse(raw)
                if fields[name] is None:
                    raise _invalid(RELAYS_ENV, f"pour le relais {label}, {name} doit être {fr_rule} (reçu « {raw} »).",
                                   f"for relay {label}, {name} must be {en_rule} (got '{raw}').")
            else:
                raise _invalid(RELAYS_ENV, f"option inconnue « {option} » pour le relais {label} "
                                           "(options possibles : weight=N, per_second=X, per_hour=N, fallback).",
                               f"unknown option '{option}' for relay {label} "
                               "(possible options: weight=N, per_second=X, per_hour=N, fallback).")
        try:
            relay = Relay(url, **fields)
        except RelayError as exc:
            raise _invalid(RELAYS_ENV, f"{exc.fr}.", f"{exc.en}.") from None
        if any(other.url == relay.url for other in relays):
            raise _invalid(RELAYS_ENV, f"le relais {label} est listé deux fois.", f"relay {label} is listed twice.")
        relays.append(relay)
    if not relays:
        raise _invalid(RELAYS_ENV, "aucun relais (séparez les relais par « ; »).",
                       "no relay (separate relays with ';').")
    if all(relay.fallback for relay in relays):
        raise _invalid(RELAYS_ENV, "il faut au moins un relais principal (sans « fallback »).",
                       "at least one primary relay (without 'fallback') is needed.")
    return relays


# --- Domains ------------------------------------------------------------------------------------

_DOMAIN_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*")
_CAP_RE = re.compile(r"\s*([^=\s]+)\s*=\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|min|h)?\s*")
_UNITS = {None: 1.0, "s": 1.0, "min": 60.0, "h": 3600.0}


def normalise_domain(domain: str) -> str:
    """Lower case, no surrounding dots, IDNA (punycode) form when the name has non-ASCII letters."""
    domain = domain.strip().lstrip("@.").rstrip(".").lower()
    if not domain.isascii():
        with contextlib.suppress(UnicodeError):  # not a valid name: kept as typed
            domain = domain.encode("idna").decode("ascii")
    return domain


def recipient_domain(recipient: str) -> str:
    """The normalised domain of an address (`Jean@Mail.Example.ORG` → `mail.example.org`); a bare
    domain is normalised as it is."""
    return normalise_domain(recipient.rpartition("@")[2])


def parse_domain_caps(spec: str | None) -> dict[str, tuple[int, float]]:
    """`DOMAIN_CAPS`: `domaine=N/S` entries separated by `,` or `;` (or new lines): at most N
    messages per S seconds to this domain and its subdomains, all relays together. S may carry a
    unit: `600/60`, `600/60s`, `600/min`, `20000/h`, `20000/1h`. Returns {domain: (N, S)}. Raises
    InvalidSetting (a ValueError; str() in French)."""
    caps: dict[str, tuple[int, float]] = {}
    if spec is None:
        return caps
    for entry in re.split(r"[,;\n]", spec):
        if not entry.strip():
            continue
        match = _CAP_RE.fullmatch(entry)
        if not match or (match.group(3) is None and match.group(4) is None):
            raise _invalid(
                DOMAIN_CAPS_ENV,
                f"« {entry.strip()} » n'est pas de la forme domaine=N/S (au plus N messages "
                "par S secondes), par exemple « gmail.com=600/60 » ou « orange.fr=200/min ».",
                f"'{entry.strip()}' is not of the form domain=N/S (at most N messages "
                "per S seconds), e.g. 'gmail.com=600/60' or 'orange.fr=200/min'.")
        raw_domain, raw_count, raw_seconds, unit = match.groups()
        domain = normalise_domain(raw_domain)
        if not _DOMAIN_RE.fullmatch(domain):
            raise _invalid(DOMAIN_CAPS_ENV, f"« {raw_domain} » n'est pas un nom de domaine.",
                           f"'{raw_domain}' is not a domain name.")
        count = int(raw_count)
        seconds = float(raw_seconds if raw_seconds is not None else 1) * _UNITS[unit]
        if count < 1 or seconds <= 0:
            raise _invalid(DOMAIN_CAPS_ENV, f"pour {domain}, N et S doivent être strictement positifs "
                                            f"(reçu « {entry.strip()} »).",
                           f"for {domain}, N and S must be above 0 (got '{entry.strip()}').")
        if domain in caps:
            raise _invalid(DOMAIN_CAPS_ENV, f"le domaine {domain} est listé deux fois.",
                           f"domain {domain} is listed twice.")
        caps[domain] = (count, seconds)
    return caps


def match_domain(recipient: str, caps: Mapping[str, object]) -> str | None:
    """The configured domain that covers this recipient (an address or a domain): the domain itself
    or its closest parent (`smtp.mail.gmail.com` → `gmail.com`); None when no cap applies."""
    domain = recipient_domain(recipient)
    while domain:
        if domain in caps:
            return domain
        domain = domain.partition(".")[2]
    return None


# --- Bucket stores ------------------------------------------------------------------------------

class BucketStore(Protocol):
    def take(self, buckets: Sequence[Bucket], now: float | None = None) -> list[float]:
        """All or none: when every bucket holds a token, take one from each and answer zeros;
        else take nothing and answer, per bucket, the seconds until it holds one (0.0 if it does)."""


def _take_all(states: Sequence[tuple[float, float] | None], buckets: Sequence[Bucket],
              now: float) -> tuple[list[float], list[tuple[float, float]] | None]:
    """The refill arithmetic shared by the Python stores (the Lua script repeats it). A state is
    (tokens, time of that count); an unknown bucket is full. Returns the waits and, when granted,
    the new states."""
    levels, waits = [], []
    for state, bucket in zip(states, buckets, strict=True):
        if state is None:
            level = bucket.capacity
        else:
            tokens, stamp = state
            level = min(bucket.capacity, tokens + max(0.0, now - stamp) * bucket.rate)
        levels.append(level)
        waits.append(0.0 if level >= 1.0 - _EPSILON else (1.0 - level) / bucket.rate)
    if any(waits):
        return waits, None
    return waits, [(max(0.0, level - 1.0), now) for level in levels]


class MemoryBucketStore:
    """Buckets in this process's memory (unit use, or a single process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._states: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, buckets: Sequence[Bucket], now: float | None = None) -> list[float]:
        with self._lock:
            now = self._clock() if now is None else now
            waits, states = _take_all([self._states.get(b.key) for b in buckets], buckets, now)
            if states:
                self._states.update((b.key, state) for b, state in zip(buckets, states, strict=True))
            return waits


class FileBucketStore:
    """Buckets in one small JSON file, read and written under an exclusive `flock`: atomic across
    the processes of one machine (the embedded setup). A bucket that would be full again is
    dropped from the file. An unreadable file (a crash in the middle of a write) counts as empty."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self._clock = clock
        self._fd: int | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()  # flock does not exclude threads sharing one descriptor

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # After a fork the inherited descriptor shares its flock with the parent's: open our own.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @staticmethod
    def _read(fd: int) -> dict[str, list[float]]:
        raw = os.pread(fd, os.fstat(fd).st_size, 0)
        if not raw:
            return {}
        try:
            data = json.loads(raw)
            return {key: value for key, value in data.items()
                    if isinstance(value, list) and len(value) == 3
                    and all(isinstance(x, (int, float)) for x in value)}
        except (ValueError, AttributeError):
            log.warning("throttle: unreadable bucket file, starting again with full buckets")
            return {}

    def take(self, buckets: Sequence[Bucket], now: float | None = None) -> list[float]:
        with self._lock:
            try:
                fd = self._descriptor()
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise ThrottleUnavailable(f"fichier de limites {self.path} inaccessible : {exc}") from exc
            try:
                now = self._clock() if now is None else now
                data = self._read(fd)
                waits, states = _take_all(
                    [(data[b.key][0], data[b.key][1]) if b.key in data else None for b in buckets], buckets, now)
                if states:
                    for bucket, (tokens, stamp) in zip(buckets, states, strict=True):
                        data[bucket.key] = [tokens, stamp, stamp + (bucket.capacity - tokens) / bucket.rate]
                    data = {key: value for key, value in data.items() if value[2] > now}
                    payload = json.dumps(data, separators=(",", ":")).encode()
                    os.pwrite(fd, payload, 0)
                    os.ftruncate(fd, len(payload))
                return waits
            except OSError as exc:
                raise ThrottleUnavailable(f"fichier de limites {self.path} : {exc}") from exc
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


# KEYS: the buckets; ARGV[1]: now in seconds, or "" for the Redis server clock; then capacity and
# rate for each key. A bucket is a hash {t: tokens, ts: time of that count}; it expires once it
# would be full again (a missing bucket is full). Returns the waits as strings (a Lua number would
# be truncated to an integer reply).
_LUA_TAKE = """
local now = tonumber(ARGV[1])
if now == nil then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local levels, waits, granted = {}, {}, true
for i = 1, #KEYS do
  local capacity, rate = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 't', 'ts')
  local level = capacity
  if state[1] and state[2] then
    local elapsed = now - tonumber(state[2])
    if elapsed < 0 then elapsed = 0 end
    level = math.min(capacity, tonumber(state[1]) + elapsed * rate)
  end
  levels[i] = level
  if level >= 1 - 1e-9 then waits[i] = 0 else waits[i] = (1 - level) / rate; granted = false end
end
if granted then
  for i = 1, #KEYS do
    local capacity, rate = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
    local level = math.max(0, levels[i] - 1)
    redis.call('HSET', KEYS[i], 't', string.format('%.17g', level), 'ts', string.format('%.17g', now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((capacity - level) / rate * 1000) + 1000)
  end
end
local out = {}
for i = 1, #KEYS do out[i] = string.format('%.17g', waits[i]) end
return out
"""


class RedisBucketStore:
    """Buckets in Redis, taken by one Lua script (atomic across every process and host). Keys are
    `{prefix}:relay:…` and `{prefix}:domain:…`; the braces keep them in one cluster slot."""

    def __init__(self, redis_url_or_client, prefix: str = REDIS_PREFIX):
        self._url = redis_url_or_client if isinstance(redis_url_or_client, str) else None
        self._client = None if self._url else redis_url_or_client
        self._script = None
        self.prefix = prefix

    def redis_key(self, bucket_key: str) -> str:
        return f"{{{self.prefix}}}:{bucket_key}"

    def _get_script(self):
        if self._script is None:
            if self._client is None:
                import redis
                self._client = redis.Redis.from_url(self._url, socket_timeout=5, socket_connect_timeout=5)
            self._script = self._client.register_script(_LUA_TAKE)
        return self._script

    def take(self, buckets: Sequence[Bucket], now: float | None = None) -> list[float]:
        args: list[str] = ["" if now is None else repr(float(now))]
        for bucket in buckets:
            args += [repr(float(bucket.capacity)), repr(float(bucket.rate))]
        try:
            reply = self._get_script()(keys=[self.redis_key(b.key) for b in buckets], args=args)
        except Exception as exc:  # redis.exceptions.RedisError, OSError
            raise ThrottleUnavailable(f"Redis injoignable pour les limites d'envoi : {exc}") from exc
        return [float(value) for value in reply]


def parse_max_pause(raw: str | None) -> float:
    """`THROTTLE_MAX_PAUSE`: seconds (>= 0) the engine may pause inline; empty gives the default."""
    raw = (raw or "").strip()
    if not raw:
        return DEFAULT_MAX_PAUSE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise InvalidSetting(MAX_PAUSE_ENV,
                             f"{MAX_PAUSE_ENV} doit être un nombre de secondes positif ou nul (reçu « {raw} »).",
                             f"{MAX_PAUSE_ENV} must be a number of seconds, zero or more (got '{raw}').")
    return value


# --- The throttle -------------------------------------------------------------------------------

class Throttle:
    """The relays' and domains' buckets, over one store. Never sleeps: answers 0.0 (go, tokens
    taken) or the seconds to wait (nothing taken)."""

    def __init__(self, store: BucketStore, domain_caps: Mapping[str, tuple[int, float]] | None = None,
                 *, max_pause: float = DEFAULT_MAX_PAUSE):
        self.store = store
        self.domain_caps = {normalise_domain(d): cap for d, cap in (domain_caps or {}).items()}
        self.max_pause = max_pause

    @classmethod
    def from_env(cls, redis_url: str | None, data_dir: Path | str, *,
                 environ: Mapping[str, str] | None = None, prefix: str = REDIS_PREFIX) -> Throttle:
        """`from_settings` with `DOMAIN_CAPS` and `THROTTLE_MAX_PAUSE` taken from `environ`, a
        mapping of variables, or else from the settings. Raises InvalidSetting (a ValueError)."""
        if environ is None:
            settings = get_settings()
            return cls.from_settings(redis_url, data_dir, settings.domain_caps, settings.throttle_max_pause,
                                     prefix=prefix)
        return cls.from_settings(redis_url, data_dir, environ.get(DOMAIN_CAPS_ENV),
                                 parse_max_pause(environ.get(MAX_PAUSE_ENV)), prefix=prefix)

    @classmethod
    def from_settings(cls, redis_url: str | None, data_dir: Path | str, domain_caps: str | None,
                      max_pause: float = DEFAULT_MAX_PAUSE, *, prefix: str = REDIS_PREFIX) -> Throttle:
        """Redis when `redis_url` is a redis:// (rediss://, unix://) URL — the broker URL may be
        passed as it is —, else the file `<data_dir>/throttle.json`. Raises InvalidSetting (a ValueError)."""
        caps = parse_domain_caps(domain_caps)
        if redis_url and redis_url.startswith(("redis://", "rediss://", "unix://")):
            store: BucketStore = RedisBucketStore(redis_url, prefix)
        else:
            store = FileBucketStore(Path(data_dir) / FILE_NAME)
        return cls(store, caps, max_pause=max_pause)

    def domain_bucket(self, recipient: str) -> Bucket | None:
        """The bucket of the configured domain covering this recipient (an address or a domain)."""
        domain = match_domain(recipient, self.domain_caps)
        if domain is None:
            return None
        count, seconds = self.domain_caps[domain]
        return Bucket(f"domain:{domain}", float(count), count / seconds)

    def _take(self, relay: Relay, recipient: str, now: float | None) -> tuple[float, float]:
        """(wait, relay_wait): the seconds until this message could go (0.0: it goes, tokens
        taken), and the part of it due to the relay's own buckets."""
        relay_buckets = relay.buckets()
        domain = self.domain_bucket(recipient)
        buckets = relay_buckets + ([domain] if domain else [])
        if not buckets:
            return 0.0, 0.0
        waits = self.store.take(buckets, now)
        return max(waits), max(waits[:len(relay_buckets)], default=0.0)

    def try_acquire(self, relay: Relay, recipient: str, now: float | None = None) -> float:
        """0.0 when a message to `recipient` (an address or a domain) may go through `relay` now:
        one token taken from the relay's per-second and per-hour buckets and the domain's bucket,
        all or none. Else the seconds until it could, nothing taken. `now` (seconds) is for tests;
        None uses the store's clock."""
        return self._take(relay, recipient, now)[0]


class Choice(NamedTuple):
    relay: Relay | None   # the relay to send through (its tokens are taken), or None
    wait: float           # 0.0 with a relay; else seconds until this recipient could go
    relay_wait: float     # 0.0 when some relay has room (only the recipient's domain is capped);
                          # else seconds until the first relay has room again, whatever the domain


_random = random.Random()


def weighted_order(relays: Sequence[Relay], rng: random.Random | None = None) -> list[Relay]:
    """A random order where each relay comes first with probability weight / total weight (and
    so on among the rest): Efraimidis–Spirakis keys u^(1/w)."""
    if len(relays) < 2:
        return list(relays)
    rng = rng or _random
    return sorted(relays, key=lambda relay: rng.random() ** (1.0 / relay.weight), reverse=True)


def choose_relay(relays: Sequence[Relay], throttle: Throttle, recipient: str, *,
                 now: float | None = None, rng: random.Random | None = None) -> Choice:
    """Pick a relay for one message and take its tokens: the primary relays in a weighted random
    order, the first with room wins; the fallback relays only when every primary must wait for its
    own caps (not when only the recipient's domain is capped: a fallback would hit the same cap).
    Relay None when all must wait; see `Choice` for what the waits mean."""
    if not relays:
        raise ValueError("aucun relais SMTP configuré")
    wait = relay_wait = math.inf
    for group in ([r for r in relays if not r.fallback], [r for r in relays if r.fallback]):
        if relay_wait == 0.0:
            break
        for relay in weighted_order(group, rng):
            this_wait, this_relay_wait = throttle._take(relay, recipient, now)
            if this_wait == 0.0:
                return Choice(relay, 0.0, 0.0)
            wait, relay_wait = min(wait, this_wait), min(relay_wait, this_relay_wait)
    return Choice(None, wait, relay_wait)
