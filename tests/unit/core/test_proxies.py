"""Proxy headers are believed only from the proxies named in TRUSTED_PROXIES."""
from __future__ import annotations

import pytest

from core.proxies import TrustedProxies
from core.settings import InvalidSetting, parse_trusted_proxies


def seen(networks: str, peer: str, forwarded_for: str | None = None, proto: str | None = None,
         host: str | None = None) -> tuple[str, str, str]:
    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http", "HTTP_HOST": "app:8000"}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    if proto is not None:
        environ["HTTP_X_FORWARDED_PROTO"] = proto
    if host is not None:
        environ["HTTP_X_FORWARDED_HOST"] = host
    result = {}

    def app(env, start_response):
        result.update(env)
        return []

    TrustedProxies(app, parse_trusted_proxies("TRUSTED_PROXIES", networks) if networks else ())(environ, None)
    return result["REMOTE_ADDR"], result["wsgi.url_scheme"], result["HTTP_HOST"]


CASES = [
    # no trusted proxy (the default): every proxy header is ignored
    ("", "198.51.100.7", "203.0.113.9", "https", "evil.example", ("198.51.100.7", "http", "app:8000")),
    ("", "127.0.0.1", "203.0.113.9", None, None, ("127.0.0.1", "http", "app:8000")),
    # a peer that is not a trusted proxy: ignored too
    ("10.0.0.2", "198.51.100.7", "203.0.113.9", "https", None, ("198.51.100.7", "http", "app:8000")),
    # the trusted proxy: the address it saw, its scheme and host
    ("10.0.0.2", "10.0.0.2", "203.0.113.9", "https", "lettre.example", ("203.0.113.9", "https", "lettre.example")),
    # a forged first entry is the client's own writing: the proxy appended the real one last
    ("10.0.0.2", "10.0.0.2", "1.2.3.4, 203.0.113.9", None, None, ("203.0.113.9", "http", "app:8000")),
    # two trusted hops (a CIDR): the first address from the right that is not a proxy
    ("10.0.0.0/24, 2001:db8::/32", "10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.3", None, None,
     ("203.0.113.9", "http", "app:8000")),
    ("10.0.0.0/24, 2001:db8::/32", "2001:db8::1", "2001:db8:1::5", None, None, ("2001:db8:1::5", "http", "app:8000")),
    # garbage in the header: the last sane address, else the peer
    ("10.0.0.2", "10.0.0.2", "nonsense", None, None, ("10.0.0.2", "http", "app:8000")),
    ("10.0.0.2", "10.0.0.2", "", "gopher", None, ("10.0.0.2", "http", "app:8000")),
]


@pytest.mark.parametrize(("networks", "peer", "forwarded_for", "proto", "host", "expected"), CASES)
def test_proxy_headers_are_believed_only_from_a_trusted_peer(networks, peer, forwarded_for, proto, host, expected):
    assert seen(networks, peer, forwarded_for, proto, host) == expected


def test_trusted_proxies_setting_reads_addresses_and_networks_and_refuses_the_rest():
    assert [str(n) for n in parse_trusted_proxies("TRUSTED_PROXIES", "10.0.0.2 172.30.0.0/16,::1")] == [
        "10.0.0.2/32", "172.30.0.0/16", "::1/128"]
    with pytest.raises(InvalidSetting, match="TRUSTED_PROXIES"):
        parse_trusted_proxies("TRUSTED_PROXIES", "10.0.0.2, proxy.example")
