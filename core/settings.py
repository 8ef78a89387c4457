"""Configuration, read once from the environment into one settings object.

Every variable is listed in the README. Defaults give the embedded setup: SQLite, a Celery broker
on a local SQLite file (kombu's SQLAlchemy transport) and the local SMTP catcher, all under the
data directory.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} doit être un entier (reçu {raw!r})") from exc


def _env_choice(name: str, choices: tuple[str, ...], default: str, upper: bool = False) -> str:
    raw = (os.environ.get(name) or "").strip()
    value = (raw.upper() if upper else raw.lower()) if raw else default
    if value not in choices:
        raise RuntimeError(f"{name} doit valoir {' ou '.join(choices)} (reçu {raw!r})")
    return value


def _env_float(name: str, default: float) -> float:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value >= 0 and value != float("inf")):
        raise RuntimeError(f"{name} doit être un nombre positif ou nul (reçu {raw!r})")
    return value


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data directory,
    so that links sent by e-mail stay valid across restarts of the embedded setup."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    celery_broker_url: str
    celery_queue: str
    smtp_url: str
    secret_key: str
    base_url: str
    mail_from: str
    list_id: str
    catcher_port: int
    mailout_batch_size: int = 200
    mailout_parallelism: int = 4
    mailout_stale_after: int = 300
    mailout_max_consecutive_failures: int = 20
    ratelimit_storage_uri: str = "memory://"
    network_name: str = "Réseau Parentalités"  # events/messages.py: the structure of the network's own contributions
    issues_per_year: int = 3                # editorial calendar: letters planned per year
    call_for_contributions_days: int = 21   # appel à contributions this many days before a deadline
    feed_poll_minutes: int = 60        # contributions/feeds.py: how often a feed is polled
    feed_failure_threshold: int = 3    # failures in a row before the editors are told
    smtp_relays: str | None = None     # mailing/throttle.py parse_relays: the relays, their caps and fallbacks
    domain_caps: str | None = None     # mailing/throttle.py parse_domain_caps: per-provider caps
    throttle_max_pause: float = 0.25   # seconds a batch may pause inline for a bucket
    log_format: str = "text"           # "text" or "json" (one JSON object per line)
    log_level: str = "INFO"

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


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("PARENTALITES_DATA_DIR", "var")).resolve()
    catcher_port = _env_int("CATCHER_PORT", 8025)
    return Settings(
        data_dir=data_dir,
        database_url=os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'parentalites.sqlite'}",
        celery_broker_url=os.environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.sqlite'}",
        celery_queue=os.environ.get("CELERY_QUEUE") or "parentalites",
        smtp_url=os.environ.get("SMTP_URL") or f"smtp://127.0.0.1:{catcher_port}",
        secret_key=_secret_key(data_dir),
        base_url=(os.environ.get("BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
        mail_from=os.environ.get("MAIL_FROM") or "Lettre Parentalités <lettre@parentalites.localhost>",
        list_id=os.environ.get("LIST_ID") or "Lettre Parentalités <lettre.parentalites.localhost>",
        catcher_port=catcher_port,
        mailout_batch_size=_env_int("MAILOUT_BATCH_SIZE", 200),
        mailout_parallelism=_env_int("MAILOUT_PARALLELISM", 4),
        mailout_stale_after=_env_int("MAILOUT_STALE_AFTER", 300),
        mailout_max_consecutive_failures=_env_int("MAILOUT_MAX_CONSECUTIVE_FAILURES", 20),
        ratelimit_storage_uri=os.environ.get("RATELIMIT_STORAGE_URI") or "memory://",
        network_name=os.environ.get("NETWORK_NAME") or "Réseau Parentalités",
        issues_per_year=_env_int("ISSUES_PER_YEAR", 3),
        call_for_contributions_days=_env_int("CALL_FOR_CONTRIBUTIONS_DAYS", 21),
        feed_poll_minutes=max(1, _env_int("FEED_POLL_MINUTES", 60)),
        feed_failure_threshold=max(1, _env_int("FEED_FAILURE_THRESHOLD", 3)),
        smtp_relays=os.environ.get("SMTP_RELAYS") or None,
        domain_caps=os.environ.get("DOMAIN_CAPS") or None,
        throttle_max_pause=_env_float("THROTTLE_MAX_PAUSE", 0.25),
        log_format=_env_choice("LOG_FORMAT", ("text", "json"), "text"),
        log_level=_env_choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True),
    )


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
