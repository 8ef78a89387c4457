"""One signed POST to a webhook endpoint, under the same address rules as the partners' feeds:
the name must resolve to public addresses only (core.public_address), the connection goes to the
address checked (no second resolution: no DNS rebinding), and a redirect is never followed (a 3xx
counts as a failure)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3

from core.public_address import PrivateAddress, UnknownHost, public_addresses

log = logging.getLogger(__name__)

USER_AGENT = "Parentalites-Webhooks/1.0"
SIGNATURE_HEADER = "Parentalites-Signature"
MAX_ANSWER_BYTES = 64 * 1024  # what is read of the answer (then dropped): the status is what counts


class UnsafeURL(Exception):
    """The URL cannot be used; the message says why, in French, for the admin."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_url(url: str) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses) of a URL a webhook may be sent to, or UnsafeURL. The name
    is resolved: each of its addresses must be public."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("L'adresse est mal formée (port invalide ?).") from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        raise UnsafeURL("L'adresse doit commencer par https:// (ou http://) et nommer un site.")
    if parts.username or parts.password:
        raise UnsafeURL("L'adresse ne doit pas contenir d'identifiant ni de mot de passe.")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = public_addresses(host, port)
    except UnknownHost:
        raise UnsafeURL("Le nom de ce site est introuvable (erreur de nom de domaine).") from None
    except PrivateAddress:
        raise UnsafeURL("Cette adresse mène à un réseau privé ou interne : les webhooks ne peuvent y être "
                        "envoyés.") from None
    return scheme, host, port, addresses


@dataclass
class Answer:
    status_code: int | None
    duration_ms: int
    error: str | None  # French, for the admin; None when the endpoint answered 2xx

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body`; never raises for what the endpoint (or the network) does."""
    started = time.monotonic()

    def answer(status: int | None, error: str | None) -> Answer:
        return Answer(status, round((time.monotonic() - started) * 1000), error)

    try:
        # Again at each send (the name may point elsewhere now); the connection goes to the
        # address checked here, never to the name.
        scheme, host, port, addresses = check_url(url)
    except UnsafeURL as exc:
        return answer(None, str(exc))
    address = addresses[0]
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pool_timeout = urllib3.Timeout(connect=timeout, read=timeout)
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=pool_timeout, retries=False, maxsize=1,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                                           server_hostname=host, assert_hostname=host)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=pool_timeout, retries=False, maxsize=1)
    all_headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json",
                   "Host": parts.netloc, **headers}
    try:
        with pool:
            response = pool.urlopen("POST", target, body=body, headers=all_headers, redirect=False,
                                    preload_content=False, assert_same_host=False)
            try:
                response.read(MAX_ANSWER_BYTES)
            finally:
                response.release_conn()
    except urllib3.exceptions.SSLError as exc:
        log.info("webhook %s: TLS error %s", url, exc)
        return answer(None, "Connexion sécurisée impossible : le certificat du site est refusé.")
    except urllib3.exceptions.NewConnectionError as exc:
        log.info("webhook %s: %s", url, exc)
        return answer(None, "Impossible de joindre le site (connexion refusée ou hors délai).")
    except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
        log.info("webhook %s: timeout %s", url, exc)
        return answer(None, f"Le site n'a pas répondu dans les {timeout:g} secondes.")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        log.info("webhook %s: %s", url, exc)
        return answer(None, "Impossible de joindre le site (connexion interrompue).")
    status = response.status
    if 200 <= status < 300:
        return answer(status, None)
    if 300 <= status < 400:
        return answer(status, f"Le site renvoie vers une autre adresse (HTTP {status}) : les redirections ne "
                              "sont pas suivies, indiquez l'adresse finale.")
    return answer(status, f"Le site a répondu HTTP {status}.")
