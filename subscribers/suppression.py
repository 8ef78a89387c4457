"""Addresses that must never be mailed again once erased: only a keyed hash stays
(`suppressed_hashes`, HMAC-SHA-256 with a key derived from SECRET_KEY).

The RGPD branch writes its own `subscribers/privacy.py` with `is_suppressed_hash(db, address)`;
the importer reaches this module only through `is_suppressed_hash` and `suppressed_among`, so the
lead may point it there instead (same name, same signature).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import among
from core.settings import get_settings
from subscribers.models import SuppressedHash

SALT = b"suppressed-address"


def _key() -> bytes:
    return hmac.new(get_settings().secret_key.encode(), SALT, hashlib.sha256).digest()


def address_hash(address: str, key: bytes | None = None) -> str:
    """The keyed hash of a normalised address (lower-case, trimmed), 64 hex digits."""
    return hmac.new(key or _key(), address.strip().lower().encode(), hashlib.sha256).hexdigest()


def is_suppressed_hash(db: Session, address: str) -> bool:
    return db.scalar(select(SuppressedHash.id).where(SuppressedHash.address_hash == address_hash(address))) is not None


def suppressed_among(db: Session, addresses: Iterable[str], chunk: int = 5000) -> set[str]:
    """Which of these addresses are in the suppression list (one query per `chunk` addresses)."""
    key = _key()
    by_hash = {address_hash(a, key): a for a in addresses}
    found: set[str] = set()
    hashes = list(by_hash)
    for start in range(0, len(hashes), chunk):
        part = hashes[start:start + chunk]
        found.update(by_hash[h] for h in db.scalars(select(SuppressedHash.address_hash)
                                                    .where(among(db, SuppressedHash.address_hash, part))))
    return found
