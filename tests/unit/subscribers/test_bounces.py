"""Bounce ingestion's configuration (subscribers/bounces.py): the IMAP URL. Ingestion itself, the
policy and the pages are in tests/integration/subscribers/test_bounces.py."""
from __future__ import annotations

import pytest

from subscribers import bounces


def test_imap_url_is_parsed():
    config = bounces.parse_imap_url(
        "imaps://retours%40parentalites.test:mot%20de%3Apasse@imap.exemple.test:993/Retours")
    assert (config.host, config.port, config.user, config.password, config.folder, config.ssl) == (
        "imap.exemple.test", 993, "retours@parentalites.test", "mot de:passe", "Retours", True)
    plain = bounces.parse_imap_url("imap://u:p@localhost")
    assert (plain.port, plain.folder, plain.ssl) == (143, "INBOX", False)
    with pytest.raises(ValueError) as error:
        bounces.parse_imap_url("https://u:secret@example.test/")
    assert "secret" not in str(error.value)
