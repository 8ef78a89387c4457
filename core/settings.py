"""Configuration: every environment variable the project reads, typed and checked once, when the
process starts, into one frozen `Settings`.

`VARIABLES` lists them all (the README's Configuration table says the same). An empty variable
counts as unset. A bad value is an `InvalidSetting` that names the variable in French and in
English; `read_settings` collects every one (a bad value is replaced by its default, so that the
rest can still be checked) and `load_settings` raises them together as one `SettingsError`.

What only the mailing package can judge (the SMTP URL, SMTP_RELAYS, DOMAIN_CAPS, the DKIM key) is
checked by `mailing.config.settings_problems`, which the bootstrap runs at start as well: core
cannot import mailing.

Defaults give the embedded setup: SQLite, a Celery broker on a local SQLite file (kombu's
SQLAlchemy transport) and the local SMTP catcher, all under the data directory.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kombu.transport import TRANSPORT_ALIASES
from limits.storage import SCHEMES as RATELIMIT_SCHEMES
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class InvalidSetting(ValueError):
    """One environment variable with a bad value. `fr` and `en` are whole sentences that name the
    variable; str() is the French one."""

    def __init__(self, variable: str, fr: str, en: str):
        super().__init__(fr)
        self.variable = variable
        self.fr = fr
        self.en = en

    @property
    def message(self) -> str:
        """Two lines: French, then English."""
        return f"{self.fr}\n{self.en}"


class SettingsError(ValueError):
    """Every bad variable found, each said in French then in English (two lines each)."""

    def __init__(self, problems: Iterable[InvalidSetting]):
        self.problems = list(problems)
        super().__init__("\n".join(problem.message for problem in self.problems))


# --- Masking --------------------------------------------------------------------------------------

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s;]*:)[^\s;/]*@", re.IGNORECASE)
MASK = "********"


def mask_url(text: str) -> str:
    """`text` with the password of every URL in it masked (`smtp://user:***@host`,
    `redis://:***@host`); the rest is kept, so that the value can still be recognised."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


# --- Parsers: (variable name, raw value) -> typed value, or InvalidSetting -------------------------

Parser = Callable[[str, str], Any]


def _text(name: str, raw: str) -> str:
    return raw


def _integer(minimum: int, maximum: int | None = None) -> Parser:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidSetting(name, f"{name} doit être un nombre entier (reçu « {raw} »).",
                                 f"{name} must be a whole number (got '{raw}').") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise InvalidSetting(name, f"{name} doit être compris entre {minimum} et {maximum} (reçu {value}).",
                                 f"{name} must be between {minimum} and {maximum} (got {value}).")
        if value < minimum:
            fr, en = (("positif ou nul", "zero or more") if minimum == 0 else
                      (f"supérieur ou égal à {minimum}", f"at least {minimum}"))
            raise InvalidSetting(name, f"{name} doit être {fr} (reçu {value}).", f"{name} must be {en} (got {value}).")
        return value
    return parse


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise InvalidSetting(name, f"{name} doit être un nombre de secondes positif ou nul (reçu « {raw} »).",
                             f"{name} must be a number of seconds, zero or more (got '{raw}').")
    return value


def parse_trusted_proxies(name: str, raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or networks (CIDR), separated by commas or spaces (TRUSTED_PROXIES, FEED_ALLOWED_NETWORKS)."""
    networks = []
    for part in raw.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise InvalidSetting(
                name, f"{name} : « {part} » n'est ni une adresse IP ni un réseau (10.0.0.2, 172.30.0.0/16…).",
                f"{name}: '{part}' is neither an IP address nor a network (10.0.0.2, 172.30.0.0/16…).") from None
    return tuple(networks)


def _choice(*choices: str, upper: bool = False) -> Parser:
    def parse(name: str, raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in choices:
            raise InvalidSetting(name, f"{name} doit valoir {' ou '.join(choices)} (reçu « {raw} »).",
                                 f"{name} must be {' or '.join(choices)} (got '{raw}').")
        return value
    return parse


def _data_dir(name: str, raw: str) -> Path:
    path = Path(raw).resolve()
    if path.exists() and not path.is_dir():
        raise InvalidSetting(name, f"{name} : {path} existe et n'est pas un dossier.",
                             f"{name}: {path} exists and is not a directory.")
    return path


def _path(name: str, raw: str) -> Path:
    return Path(raw)


def _readable_file(name: str, raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise InvalidSetting(name, f"{name} : le fichier {path} n'existe pas ou n'est pas un fichier.",
                             f"{name}: the file {path} does not exist or is not a file.")
    return path


_TRUE = ("1", "true", "yes", "oui", "on")
_FALSE = ("0", "false", "no", "non", "off")


def _boolean(name: str, raw: str) -> bool:
    value = raw.lower()
    if value not in _TRUE + _FALSE:
        raise InvalidSetting(name, f"{name} doit valoir 1 (oui) ou 0 (non) (reçu « {raw} »).",
                             f"{name} must be 1 (yes) or 0 (no) (got '{raw}').")
    return value in _TRUE


def _timeout(name: str, raw: str) -> float:
    value = _seconds(name, raw)
    if not 0 < value <= 600:
        raise InvalidSetting(name, f"{name} doit être un nombre de secondes entre 0 (exclu) et 600 (reçu « {raw} »).",
                             f"{name} must be a number of seconds above 0 and at most 600 (got '{raw}').")
    return value


def _url(name: str, raw: str, accepts: Callable[[str], bool], expected_fr: str, expected_en: str,
         host: bool = False) -> str:
    """`raw` when it is a URL whose scheme `accepts` (and with a host if `host`); passwords are
    masked in the messages."""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  raises ValueError on a bad port
    except ValueError:
        raise InvalidSetting(name, f"{name} : adresse illisible « {mask_url(raw)} » (port invalide ?).",
                             f"{name}: unreadable URL '{mask_url(raw)}' (bad port?).") from None
    if not accepts(parts.scheme.lower()):
        raise InvalidSetting(
            name,
            f"{name} : schéma « {parts.scheme} » non pris en charge dans « {mask_url(raw)} » (attendu {expected_fr}).",
            f"{name}: unsupported scheme '{parts.scheme}' in '{mask_url(raw)}' (expected {expected_en}).")
    if host and not parts.hostname:
        raise InvalidSetting(name, f"{name} : « {mask_url(raw)} » ne nomme pas d'hôte (attendu {expected_fr}).",
                             f"{name}: '{mask_url(raw)}' names no host (expected {expected_en}).")
    return raw


def _database_url(name: str, raw: str) -> str:
    try:
        backend = make_url(raw).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in ("sqlite", "postgresql"):
        raise InvalidSetting(
            name, f"{name} : « {mask_url(raw)} » n'est pas une base SQLite ou PostgreSQL "
                  "(attendu sqlite:///chemin ou postgresql+psycopg://utilisateur:motdepasse@hôte/base).",
            f"{name}: '{mask_url(raw)}' is not an SQLite or PostgreSQL database "
            "(expected sqlite:///path or postgresql+psycopg://user:password@host/db).")
    return raw


_BROKER_TRANSPORTS = frozenset(alias.lower() for alias in TRANSPORT_ALIASES)


def _broker_url(name: str, raw: str) -> str:
    # kombu reads `sqla+sqlite://…` as its "sqla" transport over the SQLAlchemy URL `sqlite://…`.
    return _url(name, raw, lambda scheme: scheme.partition("+")[0] in _BROKER_TRANSPORTS,
                "redis://hôte:6379/0, ou sqla+sqlite:///chemin pour l'installation embarquée",
                "redis://host:6379/0, or sqla+sqlite:///path for the embedded setup")


def _ratelimit_uri(name: str, raw: str) -> str:
    return _url(name, raw, RATELIMIT_SCHEMES.__contains__,
                "memory:// ou redis://hôte:6379/N", "memory:// or redis://host:6379/N")


def _base_url(name: str, raw: str) -> str:
    return _url(name, raw, ("http", "https").__contains__, "http:// ou https://", "http:// or https://",
                host=True).rstrip("/")


def _imap_url(name: str, raw: str) -> str:
    return _url(name, raw, ("imap", "imaps").__contains__, "imaps://utilisateur:motdepasse@hôte:993/DOSSIER",
                "imaps://user:password@host:993/FOLDER", host=True)


_DOMAIN_RE = re.compile(r"(?=.{1,253}\Z)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
                        r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z", re.IGNORECASE)


def _domain(name: str, raw: str) -> str:
    if not _DOMAIN_RE.match(raw):
        raise InvalidSetting(name, f"{name} : « {raw} » n'est pas un nom de domaine.",
                             f"{name}: '{raw}' is not a domain name.")
    return raw


def _mail_from(name: str, raw: str) -> str:
    address = parseaddr(raw)[1]
    local, at, domain = address.rpartition("@")
    if not (local and at and _DOMAIN_RE.match(domain)):
        raise InvalidSetting(name, f"{name} : « {raw} » ne contient pas d'adresse e-mail "
                                   "(attendu « Nom <adresse@domaine> » ou « adresse@domaine »).",
                             f"{name}: '{raw}' holds no e-mail address "
                             "(expected 'Name <address@domain>' or 'address@domain').")
    return raw


_LIST_ID_RE = re.compile(r"[^<>]*<[^<>@\s]+\.[^<>@\s]+>\Z")


def _list_id(name: str, raw: str) -> str:
    if not _LIST_ID_RE.match(raw):
        raise InvalidSetting(name,
                             f"{name} : « {raw} » n'est pas de la forme « Nom <identifiant.domaine> » (RFC 2919).",
                             f"{name}: '{raw}' is not of the form 'Name <label.domain>' (RFC 2919).")
    return raw


def _queue(name: str, raw: str) -> str:
    if any(c.isspace() for c in raw):
        raise InvalidSetting(name, f"{name} : un nom de file ne contient pas d'espace (reçu « {raw} »).",
                             f"{name}: a queue name holds no whitespace (got '{raw}').")
    return raw


# --- The variables --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variable:
    """One environment variable: the `Settings` field it fills, how its text is read, its default
    (a value, or a function of the fields read before it), and how check-config shows it."""
    name: str
    field: str
    parse: Parser
    default: Any
    shown: str = "plain"   # "plain"; "url": passwords masked; "secret": never shown
    strip: bool = True     # surrounding spaces dropped before reading


def _domain_of(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


SECRET_KEY_FILE = "secret_key"

VARIABLES: tuple[Variable, ...] = (
    Variable("PARENTALITES_DATA_DIR", "data_dir", _data_dir, lambda v: Path("var").resolve()),
    Variable("DATABASE_URL", "database_url", _database_url,
             lambda v: f"sqlite:///{v['data_dir'] / 'parentalites.sqlite'}", shown="url"),
    Variable("CELERY_BROKER_URL", "celery_broker_url", _broker_url,
             lambda v: f"sqla+sqlite:///{v['data_dir'] / 'broker.sqlite'}", shown="url"),
    Variable("CELERY_QUEUE", "celery_queue", _queue, "parentalites"),
    Variable("CATCHER_PORT", "catcher_port", _integer(1, 65535), 8025),
    # Its scheme and port are checked by mailing (mailing.smtp.parse_smtp_url).
    Variable("SMTP_URL", "smtp_url", _text, lambda v: f"smtp://127.0.0.1:{v['catcher_port']}", shown="url"),
    # Default: generated once into the data directory (read_settings), so that links sent by
    # e-mail stay valid across restarts of the embedded setup. Not stripped: it signs.
    Variable("SECRET_KEY", "secret_key", _text, None, shown="secret", strip=False),
    Variable("BASE_URL", "base_url", _base_url, "http://127.0.0.1:8000"),
    Variable("MAIL_FROM", "mail_from", _mail_from, "Lettre Parentalités <lettre@parentalites.localhost>"),
    Variable("LIST_ID", "list_id", _list_id, "Lettre Parentalités <lettre.parentalites.localhost>"),
    Variable("MAILOUT_BATCH_SIZE", "mailout_batch_size", _integer(1), 200),
    Variable("MAILOUT_PARALLELISM", "mailout_parallelism", _integer(1), 4),
    Variable("MAILOUT_STALE_AFTER", "mailout_stale_after", _integer(1), 300),
    # Parsed and checked by mailing (mailing.throttle.parse_relays, parse_domain_caps).
    Variable("SMTP_RELAYS", "smtp_relays", _text, None, shown="url"),
    Variable("DOMAIN_CAPS", "domain_caps", _text, None),
    Variable("THROTTLE_MAX_PAUSE", "throttle_max_pause", _seconds, 0.25),
    Variable("MAILOUT_MAX_CONSECUTIVE_FAILURES", "mailout_max_consecutive_failures", _integer(0), 20),
    Variable("RATELIMIT_STORAGE_URI", "ratelimit_storage_uri", _ratelimit_uri, "memory://", shown="url"),
    Variable("BOUNCE_DOMAIN", "bounce_domain", _domain, lambda v: _domain_of(v["mail_from"])),
    Variable("BOUNCE_MAILDIR", "bounce_maildir", _path, None),
    Variable("BOUNCE_IMAP_URL", "bounce_imap_url", _imap_url, None, shown="url"),
    Variable("BOUNCE_IMAP_CA_FILE", "bounce_imap_ca_file", _readable_file, None),
    Variable("BOUNCE_IMAP_ALLOW_PLAINTEXT", "bounce_imap_allow_plaintext", _boolean, False),
    Variable("BOUNCE_IMAP_TIMEOUT", "bounce_imap_timeout", _timeout, 30.0),
    Variable("BOUNCE_WEBHOOK_TOKEN", "bounce_webhook_token", _text, None, shown="secret"),
    Variable("NETWORK_NAME", "network_name", _text, "Réseau Parentalités"),
    Variable("ISSUES_PER_YEAR", "issues_per_year", _integer(1, 12), 3),
    Variable("CALL_FOR_CONTRIBUTIONS_DAYS", "call_for_contributions_days", _integer(1), 21),
    Variable("FEED_POLL_MINUTES", "feed_poll_minutes", _integer(1), 60),
    Variable("FEED_FAILURE_THRESHOLD", "feed_failure_threshold", _integer(1), 3),
    # Checked together, and the key loaded, by mailing (mailing.dkim.signer_from_settings).
    Variable("DKIM_DOMAIN", "dkim_domain", _text, None),
    Variable("DKIM_SELECTOR", "dkim_selector", _text, None),
    Variable("DKIM_PRIVATE_KEY", "dkim_private_key", _text, None, shown="secret"),
    Variable("PRIVACY_CONTACT", "privacy_contact", _mail_from, lambda v: parseaddr(v["mail_from"])[1]),
    Variable("RETENTION_YEARS", "retention_years", _integer(1, 10), 3),
    Variable("PENDING_RETENTION_DAYS", "pending_retention_days", _integer(1, 365), 30),
    Variable("REPERMISSION_GRACE_DAYS", "repermission_grace_days", _integer(1, 365), 30),
    Variable("REGISTRATION_RETENTION_MONTHS", "registration_retention_months", _integer(1, 120), 12),
    Variable("EVENT_MAX_PARTY_SIZE", "event_max_party_size", _integer(1, 50), 5),
    Variable("SUBSCRIBER_IMPORT_MAX_MB", "subscriber_import_max_mb", _integer(1, 500), 10),
    Variable("LOG_FORMAT", "log_format", _choice("text", "json"), "text"),
    Variable("LOG_LEVEL", "log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True), "INFO"),
    # The reverse proxies whose X-Forwarded-For/-Proto/-Host are believed (core/proxies.py); none by default.
    Variable("TRUSTED_PROXIES", "trusted_proxies", parse_trusted_proxies, ()),
    # Private networks a feed may still be fetched from (an intranet); none by default (contributions/feeds.py).
    Variable("FEED_ALLOWED_NETWORKS", "feed_allowed_networks", parse_trusted_proxies, ()),
    # Bearer token of GET /metrics (parentalites/ops.py); unset: the metrics are open (keep them
    # behind the proxy then).
    Variable("METRICS_TOKEN", "metrics_token", _text, None, shown="secret"),
    # Outgoing webhooks (parentalites/webhooks/): one POST's timeout, attempts per event, the first
    # retry's delay (doubled at each retry), failed attempts in a row before an endpoint is disabled.
    Variable("WEBHOOK_TIMEOUT", "webhook_timeout", _timeout, 10.0),
    Variable("WEBHOOK_MAX_ATTEMPTS", "webhook_max_attempts", _integer(1, 20), 6),
    Variable("WEBHOOK_RETRY_DELAY", "webhook_retry_delay", _seconds, 30.0),
    Variable("WEBHOOK_FAILURE_THRESHOLD", "webhook_failure_threshold", _integer(1), 15),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    celery_broker_url: str
    celery_queue: str
    catcher_port: int
    smtp_url: str
    secret_key: str
    base_url: str
    mail_from: str
    list_id: str
    mailout_batch_size: int
    mailout_parallelism: int
    mailout_stale_after: int
    smtp_relays: str | None          # mailing/throttle.py parse_relays: the relays, their caps and fallbacks
    domain_caps: str | None          # mailing/throttle.py parse_domain_caps: per-provider caps
    throttle_max_pause: float        # seconds a batch may pause inline for a bucket
    mailout_max_consecutive_failures: int
    ratelimit_storage_uri: str
    bounce_domain: str               # domain of the VERP return paths (mailing/verp.py)
    bounce_maildir: Path | None      # a Maildir of bounces polled by beat (tasks/bounces.py)
    bounce_imap_url: str | None      # an IMAP folder of bounces polled by beat
    bounce_imap_ca_file: Path | None  # PEM of a private CA the IMAP server's certificate is checked against
    bounce_imap_allow_plaintext: bool  # imap:// without STARTTLS allowed (never by default)
    bounce_imap_timeout: float       # seconds any IMAP socket operation may wait
    bounce_webhook_token: str | None  # bearer token of POST /webhooks/bounces; None: no webhook
    network_name: str                # events/messages.py: the structure of the network's own contributions
    issues_per_year: int             # editorial calendar: letters planned per year
    call_for_contributions_days: int  # appel à contributions this many days before a deadline
    feed_poll_minutes: int           # contributions/feeds.py: how often a feed is polled
    feed_failure_threshold: int      # failures in a row before the editors are told
    dkim_domain: str | None
    dkim_selector: str | None
    dkim_private_key: str | None     # a PEM key, or the path of a PEM file
    privacy_contact: str             # who receives RGPD requests (the privacy page, every footer)
    retention_years: int             # subscribers/retention.py: years without a sign of life before re-permission
    pending_retention_days: int      # unconfirmed subscriptions erased after this many days
    repermission_grace_days: int     # no answer to the re-permission e-mail: erased after this many days
    registration_retention_months: int  # event registrations anonymised this long after the event
    event_max_party_size: int  # people per registration, unless the event sets its own cap
    subscriber_import_max_mb: int    # largest CSV an editor may import
    log_format: str                  # "text" or "json" (one JSON object per line)
    log_level: str
    trusted_proxies: tuple = ()      # networks of the reverse proxies believed (core/proxies.py)
    feed_allowed_networks: tuple = ()  # private networks feeds may be fetched from (contributions/feeds.py)
    metrics_token: str | None = None  # bearer token of /metrics; None: open
    webhook_timeout: float = 10.0     # seconds for one webhook POST (connect, then each read)
    webhook_max_attempts: int = 6     # attempts per event and endpoint
    webhook_retry_delay: float = 30.0  # seconds before the first retry, doubled at each one
    webhook_failure_threshold: int = 15  # failed attempts in a row before an endpoint is disabled
    from_environment: frozenset[str] = frozenset()  # the variables set in the environment

    @property
    def mail_from_address(self) -> str:
        return parseaddr(self.mail_from)[1]

    @property
    def mail_domain(self) -> str:
        return self.mail_from_address.rpartition("@")[2] or "localhost"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def maildir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret_key_from_file(data_dir: Path, create: bool) -> str:
    """The key kept in the data directory, written there the first time (unless `create` is
    false: then "" when there is none yet)."""
    path = data_dir / SECRET_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        if not create:
            return ""
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


def _raw(variable: Variable, environ: Mapping[str, str]) -> str | None:
    raw = environ.get(variable.name)
    if raw is not None and variable.strip:
        raw = raw.strip()
    return raw or None


def read_settings(environ: Mapping[str, str] | None = None, *,
                  create_files: bool = True) -> tuple[Settings, list[InvalidSetting]]:
    """The settings from `environ` (default os.environ), and every bad value found: a bad value is
    replaced by its default, so the other variables are still read and checked. `create_files`
    false: no secret key file is written (secret_key is then "" when there is none yet)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[InvalidSetting] = []
    present = set()
    for variable in VARIABLES:
        raw = _raw(variable, environ)
        if raw is not None:
            present.add(variable.name)
            try:
                values[variable.field] = variable.parse(variable.name, raw)
                continue
            except InvalidSetting as problem:
                problems.append(problem)
        if variable.name == "SECRET_KEY":
            try:
                values["secret_key"] = _secret_key_from_file(values["data_dir"], create_files)
            except OSError as exc:
                problems.append(InvalidSetting(
                    "PARENTALITES_DATA_DIR",
                    f"PARENTALITES_DATA_DIR : la clé secrète n'a pas pu être lue ou créée dans {values['data_dir']} "
                    f"({exc.strerror or exc}) ; donnez SECRET_KEY ou un dossier accessible en écriture.",
                    f"PARENTALITES_DATA_DIR: the secret key could not be read or created in {values['data_dir']} "
                    f"({exc.strerror or exc}); set SECRET_KEY or a writable directory."))
                values["secret_key"] = ""
            continue
        default = variable.default
        values[variable.field] = default(values) if callable(default) else default
    return Settings(**values, from_environment=frozenset(present)), problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings; SettingsError naming every bad variable."""
    settings, problems = read_settings(environ)
    if problems:
        raise SettingsError(problems)
    return settings


@dataclass(frozen=True)
class Shown:
    """One line of `parentalites check-config`."""
    variable: str
    value: str
    source: str


UNSET = "(non défini / unset)"


def _show(variable: Variable, value: Any) -> str:
    if value is None or value == "":
        return UNSET
    if variable.shown == "secret":
        return MASK
    if variable.shown == "url":
        return mask_url(str(value))
    return str(value)


def describe_settings(settings: Settings, problems: Iterable[InvalidSetting] = (),
                      environ: Mapping[str, str] | None = None) -> list[Shown]:
    """Every variable with its effective value (secrets masked, passwords in URLs masked) and where
    it came from; a variable with a problem shows the value given, masked the same way."""
    environ = os.environ if environ is None else environ
    invalid = {problem.variable for problem in problems}
    lines = []
    for variable in VARIABLES:
        if variable.name in invalid and _raw(variable, environ) is not None:
            lines.append(Shown(variable.name, _show(variable, _raw(variable, environ)),
                               "environnement, INVALIDE / environment, INVALID"))
            continue
        value = getattr(settings, variable.field)
        if variable.name in settings.from_environment:
            source = "environnement / environment"
        elif variable.name == "SECRET_KEY":
            path = settings.data_dir / SECRET_KEY_FILE
            source = (f"fichier / file {path}" if value
                      else f"créé au premier démarrage / created at first start: {path}")
        else:
            source = "défaut / default"
        lines.append(Shown(variable.name, _show(variable, value), source))
    return lines


_settings: Settings | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings (tests and the demo change the environment before starting)."""
    global _settings
    _settings = None
