"""What a status poll reads before it waits: its session, then a final answer if cached.

The order matters. The session is found first, by one keyed query that includes the
relying parties allowed at the caller's address (:func:`api.rp.services.session_for`),
so an unknown id, another relying party's session and one that stopped being readable
take the same path: that query, no row, 404. Only a session found that way is looked up
in the cache of final answers; a cache consulted by bare id before it would answer a
foreign but recently completed session measurably faster than an unknown id (issue 17,
tests/rp/test_lookup_timing.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from api.rp import services
from api.rp.models import RpSession

#: A final answer is remembered this long (never beyond its 5-minute readability), so
#: the polls of a completed session skip the status read (transactions, certificates).
FINAL_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Found:
    session: RpSession
    #: The final answer another poll cached, or None: then read the status.
    final: dict[str, Any] | None


def session_lookup(*, session_id: uuid.UUID, address: str, version: int) -> Found:
    """The caller's session and its cached final answer, or NotFound (one path for all)."""
    session = services.session_for(session_id=session_id, address=address, version=version)
    return Found(session, cached_final(session))


def _final_key(session: RpSession) -> str:
    return f"rp-status:{session.pk}"


def remember_final(session: RpSession, status: services.Status) -> None:
    """Remember a final answer briefly, so the other polls of it skip the status read."""
    assert status.readable_until is not None
    until = status.readable_until.timestamp()
    seconds = min(FINAL_CACHE_SECONDS, until - timezone.now().timestamp())
    if seconds > 0:
        cache.set(_final_key(session), {"body": status.body, "until": until}, seconds)


def cached_final(session: RpSession) -> dict[str, Any] | None:
    """The final answer remembered for this (already authorised) session, if still readable."""
    entry = cache.get(_final_key(session))
    if not isinstance(entry, dict) or timezone.now().timestamp() > entry["until"]:
        return None
    body = entry["body"]
    return body if isinstance(body, dict) else None
