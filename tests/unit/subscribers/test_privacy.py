"""The keyed hash that is all an erased, suppressed address leaves behind."""
from __future__ import annotations

import hashlib
import re

from subscribers.privacy import address_hash


def test_the_hash_is_hex_sha256_sized_and_stable(monkeypatch, reread_settings):
    monkeypatch.setenv("SECRET_KEY", "une-clé-de-test")
    reread_settings()
    value = address_hash("marie@example.org")
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert address_hash("marie@example.org") == value


def test_case_and_surrounding_spaces_do_not_matter_but_the_address_does(monkeypatch, reread_settings):
    monkeypatch.setenv("SECRET_KEY", "une-clé-de-test")
    reread_settings()
    assert address_hash("  Marie@Example.ORG ") == address_hash("marie@example.org")
    assert address_hash("marie@example.org") != address_hash("marie@example.com")


def test_it_is_keyed_not_a_plain_digest(monkeypatch, reread_settings):
    """Without the key, the table of hashes cannot be matched against a list of addresses."""
    monkeypatch.setenv("SECRET_KEY", "une-clé-de-test")
    reread_settings()
    first = address_hash("marie@example.org")
    assert first not in {hashlib.sha256(b"marie@example.org").hexdigest(),
                         hashlib.sha256(b"une-cl\xc3\xa9-de-testmarie@example.org").hexdigest()}
    monkeypatch.setenv("SECRET_KEY", "une-autre-clé")
    reread_settings()
    assert address_hash("marie@example.org") != first
