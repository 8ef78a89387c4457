"""Who is asking: the address, scheme and host a request came from, read from proxy headers only
when the direct peer is a proxy named in TRUSTED_PROXIES (none by default). Anybody can write
X-Forwarded-For: believed from anyone, it resets every rate limit and lies in consent proofs."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
              "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None


class TrustedProxies:
    """WSGI middleware, werkzeug's ProxyFix made conditional: behind a trusted peer, the client is
    the first address of X-Forwarded-For, read from the right, that is not itself a trusted proxy
    (entries further left are whatever the client wrote); the scheme and host are the last proxy's.
    From any other peer, every proxy header is removed and REMOTE_ADDR stays the peer."""

    def __init__(self, app, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]):
        self.app = app
        self.networks = tuple(networks)

    def trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def __call__(self, environ, start_response):
        peer = _address(environ.get("REMOTE_ADDR", ""))
        if self.networks and self.trusted(peer):
            client = environ.get("REMOTE_ADDR", "")
            for entry in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
                address = _address(entry)
                if address is None:
                    break
                client = str(address)
                if not self.trusted(address):
                    break
            environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[-1].strip()
            if host:
                environ["HTTP_HOST"] = host
        else:
            for name in _FORWARDED:
                environ.pop(name, None)
        return self.app(environ, start_response)
