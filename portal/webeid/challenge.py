"""Challenge nonces: issued once per login attempt, bound to one browser, used once.

The nonce is what the card signs (with the origin), so a token is only good for the
challenge it answers. The caller keeps the ``Challenge`` where only this browser can
reach it (the portal: the server-side session) and hands it back to ``challenge_take``
exactly once — taking it is what makes a replayed token fail.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal.webeid.errors import ChallengeExpired, ChallengeMissing

#: 256 bits, the Web eID minimum; base64 gives a 44-character string.
NONCE_BYTES = 32
NONCE_TTL = timedelta(minutes=5)
#: Base64 of NONCE_BYTES bytes.
NONCE_LENGTH = 44


@dataclass(frozen=True)
class Challenge:
    nonce: str
    expires_at: datetime

    def as_dict(self) -> dict[str, str]:
        """JSON-safe form for a session store."""
        return {"nonce": self.nonce, "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_dict(cls, data: object) -> Challenge | None:
        """The stored form back; anything unexpected is treated as no challenge."""
        if not isinstance(data, dict):
            return None
        nonce, expires = data.get("nonce"), data.get("expires_at")
        if not isinstance(nonce, str) or not isinstance(expires, str):
            return None
        try:
            expires_at = datetime.fromisoformat(expires)
        except ValueError:
            return None
        if expires_at.tzinfo is None:
            return None
        return cls(nonce=nonce, expires_at=expires_at)


def challenge_new(*, now: datetime, ttl: timedelta = NONCE_TTL) -> Challenge:
    """A fresh challenge from the operating system's CSPRNG."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    nonce = base64.b64encode(secrets.token_bytes(NONCE_BYTES)).decode("ascii")
    return Challenge(nonce=nonce, expires_at=now + ttl)


def challenge_take(stored: Challenge | None, *, now: datetime) -> str:
    """The nonce of a challenge the caller has just removed from its store.

    Raises ``ChallengeMissing`` when there is none (never issued, or already taken:
    the second use of a token) and ``ChallengeExpired`` after its lifetime.
    """
    if stored is None or len(stored.nonce) != NONCE_LENGTH:
        raise ChallengeMissing()
    if now >= stored.expires_at:
        raise ChallengeExpired()
    return stored.nonce
