"""What the browser tests share: Debian's Chromium and how it is started, a phone's screen, where
screenshots go, and e-mailed links pointed at the local server."""
from __future__ import annotations

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots (ignored by git)
BASE_URL = "https://parentalites.test"  # BASE_URL in the tests' environment (tests/conftest.py)
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}


def local(url: str, server: str) -> str:
    """A link from an e-mail, pointed at the local server instead of BASE_URL."""
    assert url.startswith(BASE_URL + "/"), url
    return server + url.removeprefix(BASE_URL)


def log_in(page, server: str, email: str = "redaction@reaap.test", password: str = "mdp-redaction") -> None:
    """Sign in through the login form (the world's editor unless told otherwise)."""
    page.goto(server + "/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
