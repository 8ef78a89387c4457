"""What every web answer shares: reading a number from a request, and the security headers
(Content-Security-Policy with a nonce per response, HSTS behind https). Used by the app factory and
by the views of every package."""
from __future__ import annotations

import re
import secrets

from flask import g

# PostgreSQL's integer: an id or a page beyond it is no row, and binding it is an error (a 500).
INT_MAX = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def small_int(value: str | None, minimum: int = 0, maximum: int = INT_MAX) -> int | None:
    """`value` as an int when it is plain ASCII digits within [minimum, maximum], else None ("²",
    "1e400", "-3", 10**30: ignored rather than a 500)."""
    if value is None or not _DIGITS.fullmatch(value.strip()):
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None


def ids(values: list[str]) -> list[int]:
    """The ids among form values (checkboxes): the others are dropped."""
    return [n for n in (small_int(v, 1) for v in values) if n is not None]


def csp_nonce() -> str:
    """The nonce of this response's inline <script> and <style> (templates: nonce="{{ csp_nonce() }}")."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str, frame_ancestors: str = "'self'") -> str:
    return "; ".join((
        "default-src 'self'", f"script-src 'self' 'nonce-{nonce}'", f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
        f"frame-ancestors {frame_ancestors}"))


def allow_framing(response):
    """Let any site show this response in an <iframe> (the embeddable widgets, and only them): a
    frame-ancestors of * and no X-Frame-Options (the app factory leaves it out for this request)."""
    g.frameable = True
    response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), frame_ancestors="*")
    return response


# An e-mail shown as a page (previews, the archive's e-mail version): its own inline styles and
# remote images, never a script, a form or a frame of it elsewhere.
EMAIL_PAGE_CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
                  "font-src https:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")

HSTS = "max-age=31536000"
