"""Is a host on the Internet? The one check every outgoing request to an address a person typed
goes through (partners' feeds, admins' webhooks): every address the name resolves to must be
public, and the connection then goes to the address checked, never to the name again, so that a
second resolution (DNS rebinding) cannot answer otherwise. FEED_ALLOWED_NETWORKS names the private
networks allowed all the same (an intranet, the tests' local server)."""
from __future__ import annotations

import ipaddress
import logging
import socket

from core.settings import get_settings

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnknownHost(Exception):
    """The name does not resolve."""


class PrivateAddress(Exception):
    """The name (or one of its addresses) leads into a private or internal network."""


def is_public(address: Address) -> bool:
    """An address of the Internet: not private, loopback, link-local, multicast, reserved nor
    unspecified (an IPv4 mapped into IPv6 is judged as the IPv4), unless FEED_ALLOWED_NETWORKS
    names it."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in get_settings().feed_allowed_networks):
        return True
    return address.is_global and not (address.is_private or address.is_loopback or address.is_link_local
                                      or address.is_multicast or address.is_reserved or address.is_unspecified)


def public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, all of them public; UnknownHost or PrivateAddress
    otherwise (a name that also resolves into a private network is refused whole)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        log.info("host %r does not resolve: %s", host, exc)
        raise UnknownHost(host) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses or not all(is_public(address) for address in addresses):
        log.warning("host %r resolves to %s: refused", host, addresses)
        raise PrivateAddress(host)
    return [str(address) for address in addresses]
