"""The client address a login is counted against.

Behind a reverse proxy every request comes from the proxy's address, so the per-address throttle
would throttle everyone at once; ``X-Forwarded-For`` names the client, but anyone can send that
header. So the header is believed only when the peer is a configured trusted proxy
(``CIVICGRID_TRUSTED_PROXIES``, CIDRs), and then read from the right, skipping further trusted
proxies: the first untrusted hop is the client (the left end is whatever the client claimed).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

UNKNOWN = "unknown"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_proxies(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks; a bad entry raises ValueError at the first login."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: str) -> str:
    """The address to count: the peer, or, when the peer is a trusted proxy, the right-most
    untrusted address of ``X-Forwarded-For``."""
    if not peer:
        return UNKNOWN
    proxies = parse_proxies(trusted_proxies)
    if not proxies or not forwarded_for or not _trusted(peer, proxies):
        return peer[:64]
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return (hops[0] if hops else peer)[:64]
