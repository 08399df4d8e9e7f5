"""The registration ticket's code, sealed to the app's key: only the app that started the
application can open it (:func:`signing.engine.transport_seal_secret`).
"""

from __future__ import annotations

import json
from typing import Any

from enrolment.models import OnboardingApplication
from signing import engine

#: The app's P-256 public key (DER) as the start stored it in ``identity["app_key"]``.
MAX_APP_KEY_BYTES = 256
#: AES-GCM appends a tag of this size to the sealed code.
GCM_TAG_BYTES = 16


def seal_ticket_code(application: OnboardingApplication, code: str) -> bytes:
    """The envelope of ``code`` for the application's app key, as stored in
    ``ticket_code_box`` (JSON).
    """
    app_key = engine.load_p256_public_key(
        engine.b64decode_strict(
            application.identity["app_key"], what="app_key", max_bytes=MAX_APP_KEY_BYTES
        )
    )
    envelope = engine.transport_seal_secret(
        code.encode("ascii"), app_key, engine.onboarding_ticket_aad(str(application.pk))
    )
    return json.dumps(dict(envelope), sort_keys=True).encode("ascii")


def ticket_envelope(application: OnboardingApplication) -> dict[str, Any] | None:
    """The sealed ticket code for the app (only the app's key opens it): the envelope of
    :func:`signing.engine.transport_seal_secret` and the code's length in bytes.
    """
    if application.ticket_code_box is None:
        return None
    envelope = json.loads(bytes(application.ticket_code_box))
    sealed = engine.b64decode_strict(envelope["ct"], what="ct")
    return {"envelope": envelope, "length": len(sealed) - GCM_TAG_BYTES}
