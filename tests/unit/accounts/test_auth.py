"""The `next` target after login: only a path of this site, after the normalising a browser does."""
from __future__ import annotations

import pytest

from accounts.auth import safe_next

REFUSED = [
    None, "", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/%09/evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "\t//evil.example", " //evil.example",
    "https:evil.example", "https://evil.example", "http:/evil.example", "javascript:alert(1)",
    "evil.example", "redaction/", "/%2F/evil.example", "/%5Cevil.example", "%2F%2Fevil.example",
    "/%252F%252Fevil.example", "/%0a/evil.example", "/\x00/evil.example", "/\u3000/evil.example",
    "/\\/evil.example", "//%09evil.example", "/ /evil.example",
]
ACCEPTED = ["/", "/redaction/", "/redaction/numeros/3?onglet=envoi", "/partenaires/#fiche", "/agenda/12/"]


@pytest.mark.parametrize("target", REFUSED)
def test_a_next_target_off_the_site_is_refused(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ACCEPTED)
def test_a_path_of_the_site_is_kept(target):
    assert safe_next(target) == target
