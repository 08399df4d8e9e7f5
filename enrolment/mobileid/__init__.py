"""Mobile-ID as an identity source: the MID REST client and a local simulator.

``client`` and ``errors`` import no Django (a test proves it); ``config`` imports Django
lazily; ``simulator*`` are Django modules mounted at ``/mid-api/`` when
``MOBILE_ID_SIMULATOR`` is on. See docs/mobile-id.md.
"""

from __future__ import annotations

from enrolment.mobileid.client import (
    MobileIdClient,
    MobileIdIdentity,
    MobileIdSession,
    verification_code,
)
from enrolment.mobileid.config import client_from_settings, load_trust_anchors
from enrolment.mobileid.errors import MobileIdError

__all__ = [
    "MobileIdClient",
    "MobileIdError",
    "MobileIdIdentity",
    "MobileIdSession",
    "client_from_settings",
    "load_trust_anchors",
    "verification_code",
]
