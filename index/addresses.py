"""Which IP addresses a fetch may connect to: the globally reachable ones, judged by what they are; and
the policy a fetch follows (``FetchPolicy``: its limits and the private networks it may reach).

An address is public when Python's ``ipaddress`` calls it global (IANA's special-purpose registries),
it is not multicast, and it is none of the registry's later entries that Python 3.11 predates (and
not IPv6 site-local, ``fec0::/10``, deprecated but still routed on some networks). An IPv6 address
that carries an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo)
reaches that IPv4 address too, so each one it carries must be allowed as well (for the local-use
NAT64 prefix, never public itself, the last 32 bits, as in the well-known one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 5

# Not globally reachable per IANA's registries, yet global to Python 3.11's ipaddress.
_LATER_SPECIAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.8/32",  # IPv4 dummy address (RFC 7600)
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation (RFC 8215)
        "100:0:0:1::/64",  # dummy IPv6 prefix (RFC 9780)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # segment routing SIDs (RFC 9602)
        "fec0::/10",  # site-local (RFC 3879)
    )
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::a.b.c.d (RFC 4291, deprecated)
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # ::ffff:0:a.b.c.d (RFC 2765)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix (RFC 6052)
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # local use (RFC 8215): never public


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` itself is globally reachable (what it may carry inside is not looked at)."""
    return (
        address.is_global
        and not address.is_multicast
        and not any(address in network for network in _LATER_SPECIAL)
    )


def carried_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, which a connection to it may reach."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    found += list(address.teredo or ())  # its server, and the client it reaches
    compatible = address in _IPV4_COMPATIBLE and int(address) > 1  # not :: nor ::1
    if compatible or address in _IPV4_TRANSLATED or address in _NAT64 or address in _LOCAL_NAT64:
        found.append(ipaddress.IPv4Address(address.packed[12:]))  # the last 32 bits, as in a /96
    return found


def allowed(address: IPAddress, private: Iterable[IPNetwork] = ()) -> bool:
    """Whether a fetch may connect to ``address``: it and every IPv4 address it carries are public or
    within one of the ``private`` networks a self-hoster allowed.

    An IPv4-mapped address (``::ffff:a.b.c.d``) is the IPv4 address itself, and the well-known NAT64
    and 6to4 prefixes are routes to the IPv4 address they carry: those are judged by that address.
    """
    networks = tuple(private)

    def reachable(candidate: IPAddress) -> bool:
        return is_public(candidate) or any(candidate in network for network in networks)

    carried = carried_ipv4(address)
    transparent = isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address.sixtofour is not None or address in _NAT64
    )
    return (transparent or reachable(address)) and all(map(reachable, carried))


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What a fetch may do: its size and time limits, and the private networks it may reach."""

    max_bytes: int = 5_000_000
    timeout: float = 20.0  # seconds for the whole fetch: robots.txt, redirects and the body
    max_redirects: int = MAX_REDIRECTS
    allow_private: tuple[IPNetwork, ...] = ()

    def allows(self, address: IPAddress) -> bool:
        """Whether ``address`` may be connected to: a public one (and every IPv4 address it carries),
        or one in ``allow_private`` (see ``index.addresses``)."""
        return allowed(address, self.allow_private)
