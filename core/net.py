"""The real client address of a request, behind configured trusted proxies only."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or — when that is a trusted proxy — the nearest untrusted address in
    X-Forwarded-For (walking from the right, so a client cannot forge its own entry).
    """
    address = str(request.META.get("REMOTE_ADDR", ""))
    if not _trusted(address):
        return address
    forwarded = request.headers.get("X-Forwarded-For", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        if not _trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # garbage in the header: do not trust any of it
    return address
