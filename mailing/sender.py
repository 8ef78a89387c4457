"""The one way out: every message, a letter's batch or a single transactional e-mail, leaves
through a `RelayPool`: the relays of `SMTP_RELAYS` (or `SMTP_URL` alone when it is unset), their
weights and fallbacks, the throttle's buckets shared by every worker, DKIM signing (in
`SMTPConnection`). With `SMTP_RELAYS` set, nothing goes to `SMTP_URL`.
"""
from __future__ import annotations

import logging
import smtplib
import time
from functools import lru_cache

from core.settings import get_settings
from mailing.smtp import SMTPConnection
from mailing.throttle import Relay, Throttle, choose_relay, parse_relays

log = logging.getLogger(__name__)

# A single e-mail may wait this long, in total, for a relay's or a domain's bucket; beyond it the
# outbox task retries later (a confirmation must not hold a worker for minutes).
SINGLE_MAX_WAIT = 5.0


class RateLimited(Exception):
    """Every relay (or the recipient's domain) is at its limit for longer than a single message
    may wait; the message stays queued and is tried again later."""

    def __init__(self, wait: float):
        super().__init__(f"limite d'envoi atteinte, nouvel essai dans {wait:.0f} s")
        self.wait = wait


@lru_cache(maxsize=4)
def relay_setup(relays_spec: str | None, smtp_url: str, broker_url: str, data_dir: str,
                domain_caps: str | None, max_pause: float) -> tuple[list[Relay], Throttle]:
    """Parsed once per process (the arguments are the configuration it depends on)."""
    return (parse_relays(relays_spec, smtp_url),
            Throttle.from_settings(broker_url, data_dir, domain_caps, max_pause))


class RelayPool:
    """SMTP connections, one per relay used, opened on first use; the relays and the throttle come
    from the settings."""

    def __init__(self) -> None:
        settings = get_settings()
        self.relays, self.throttle = relay_setup(
            settings.smtp_relays, settings.smtp_url, settings.celery_broker_url, str(settings.data_dir),
            settings.domain_caps, settings.throttle_max_pause)
        self.connections: dict[str, SMTPConnection] = {}

    def connection(self, relay: Relay) -> SMTPConnection:
        if relay.url not in self.connections:
            self.connections[relay.url] = SMTPConnection(relay.url)
        return self.connections[relay.url]

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()

    def __enter__(self) -> RelayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_one(self, envelope_from: str, recipient: str, message: bytes) -> Relay:
        """Send one message as the mail-out would: a relay chosen by weight with room in its
        buckets (waiting a few seconds at most), another relay when one cannot be reached.
        Raises RateLimited, or smtplib's refusals (the caller decides what they mean); raises the
        last connection error when no relay answered."""
        waited = 0.0
        unreachable: dict[str, Exception] = {}
        while True:
            candidates = [r for r in self.relays if r.url not in unreachable]
            if not candidates:
                raise next(reversed(unreachable.values()))
            choice = choose_relay(candidates, self.throttle, recipient)
            if choice.relay is None:
                if waited + choice.wait > SINGLE_MAX_WAIT:
                    raise RateLimited(choice.wait)
                time.sleep(choice.wait)
                waited += choice.wait
                continue
            try:
                self.connection(choice.relay).send(envelope_from, recipient, message)
                return choice.relay
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
                raise  # the relay answered: a refusal, not a lost connection
            except (smtplib.SMTPException, OSError) as exc:
                log.warning("relay %s unreachable (%s); trying another", choice.relay.label, exc)
                self.connections.pop(choice.relay.url).close()
                unreachable[choice.relay.url] = exc
