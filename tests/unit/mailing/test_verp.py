"""VERP return paths (mailing/verp.py): one per delivery, signed, and forgeries refused."""
from __future__ import annotations

from mailing.verp import parse_verp, verp_address


def test_verp_round_trip_and_forgeries(monkeypatch, reread_settings):
    address = verp_address(4217)
    local, _, domain = address.partition("@")
    assert local.startswith("bounces+d4217-") and 10 <= len(local.rpartition("-")[2]) <= 12
    assert domain == "parentalites.test"  # MAIL_FROM's domain when BOUNCE_DOMAIN is unset
    assert parse_verp(address) == 4217
    assert parse_verp(f"<{address}>") == 4217
    assert parse_verp(address.upper()) == 4217  # a server that upper-cases the local part
    mac = local.rpartition("-")[2]
    tampered = mac[:-1] + ("a" if mac[-1] != "a" else "b")
    assert parse_verp(address.replace(mac, tampered)) is None             # modified HMAC
    assert parse_verp(address.replace("d4217-", "d4218-")) is None         # another delivery, same HMAC
    assert parse_verp(f"bounces+d4217-{'a' * len(mac)}@parentalites.test") is None
    assert parse_verp("bounces@parentalites.test") is None
    assert parse_verp("") is None
    monkeypatch.setenv("BOUNCE_DOMAIN", "retours.parentalites.test")
    reread_settings()
    assert verp_address(7).endswith("@retours.parentalites.test") and parse_verp(verp_address(7)) == 7
