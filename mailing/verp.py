"""VERP return paths: every message of a mail-out leaves with an envelope sender that names its
delivery (`bounces+d<id>-<hmac>@domain`), so a bounce maps to exactly one subscriber even when the
remote server no longer names the address. The HMAC makes the address unforgeable."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from core.settings import get_settings

VERP_PREFIX = "bounces"
HMAC_LENGTH = 12
# Lower-case base32: some servers lower-case the local part of a return path on the way back.
VERP_RE = re.compile(rf"{VERP_PREFIX}\+d(\d{{1,18}})-([a-z2-7]{{{HMAC_LENGTH}}})@", re.IGNORECASE)


def _verp_mac(delivery_id: int) -> str:
    digest = hmac.new(get_settings().secret_key.encode(), f"verp:{delivery_id}".encode(),
                      hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:HMAC_LENGTH]


def bounce_domain() -> str:
    """BOUNCE_DOMAIN; by default the domain of MAIL_FROM."""
    return get_settings().bounce_domain


def verp_address(delivery_id: int) -> str:
    """The envelope sender of one delivery: `bounces+d<id>-<hmac>@<domain>`."""
    return f"{VERP_PREFIX}+d{int(delivery_id)}-{_verp_mac(int(delivery_id))}@{bounce_domain()}"


def parse_verp(address: str) -> int | None:
    """The delivery id a VERP address names, or None if it is not one of ours (or forged)."""
    match = VERP_RE.search(address or "")
    if match is None:
        return None
    delivery_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2).lower(), _verp_mac(delivery_id)):
        return None
    return delivery_id
