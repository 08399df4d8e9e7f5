"""Mobile-ID as the identity source (docs/mobile-id.md): the person authenticates with
Mobile-ID on their phone; the application shows the same verification code meanwhile.

Steps: ``mobile_id_start`` (the authentication request), ``mobile_id_finish`` (the long
poll, waited for without the row lock, then recorded).
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from enrolment.mobileid import (
    MobileIdError,
    MobileIdIdentity,
    MobileIdSession,
    client_from_settings,
    verification_code,
)
from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import StepFailed, StepRetry
from signing import engine

#: The authentication challenge (a SHA-256-sized random value, Base64 in ``identity``).
CHALLENGE_BYTES = 32
DISPLAY_TEXT = "Open eID registration"


def prepare_authentication(
    application: OnboardingApplication, *, phone_number: str, national_identity_number: str
) -> None:
    """Store whom to ask and the challenge, and the verification code the app shows.

    The challenge is drawn at the start so the app can show its code before the phone asks.
    """
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    application.identity |= {
        "mid_phone": phone_number,
        "mid_national_identity_number": national_identity_number,
        "mid_hash": base64.b64encode(challenge).decode("ascii"),
    }
    application.verification_code = verification_code(challenge)


def _challenge(application: OnboardingApplication) -> bytes:
    return engine.b64decode_strict(
        application.identity["mid_hash"], what="mid_hash", exact_bytes=CHALLENGE_BYTES
    )


def step_mobile_id_start(application: OnboardingApplication) -> dict[str, Any]:
    try:
        session = client_from_settings().authentication_start(
            phone_number=application.identity["mid_phone"],
            national_identity_number=application.identity["mid_national_identity_number"],
            display_text=DISPLAY_TEXT,
            digest=_challenge(application),
        )
    except MobileIdError as exc:
        if exc.code == "service_unavailable":
            raise StepRetry(str(exc)) from None
        raise StepFailed(f"mobile_id_{exc.code}", str(exc)) from None
    application.mobile_id_session = session.session_id
    return {"session": session.session_id}


def mobile_id_wait(application: OnboardingApplication) -> object:
    """The Mobile-ID long poll (up to minutes), made before the row is locked."""
    session = MobileIdSession(
        session_id=application.mobile_id_session,
        verification_code=application.verification_code,
        hash=_challenge(application),
        national_identity_number=application.identity["mid_national_identity_number"],
    )
    try:
        return client_from_settings().authentication_finish(session)
    except MobileIdError as exc:
        if exc.code == "service_unavailable":
            raise StepRetry(str(exc)) from None
        raise StepFailed(f"mobile_id_{exc.code}", str(exc)) from None


def step_mobile_id_finish(application: OnboardingApplication, identity: object) -> dict[str, Any]:
    """Record the identity :func:`mobile_id_wait` obtained (without the lock)."""
    assert isinstance(identity, MobileIdIdentity)
    expected = application.identity["mid_national_identity_number"]
    if not identity.semantics_identifier.endswith("-" + expected):
        raise StepFailed("mobile_id_identity_mismatch", "Mobile-ID answered for someone else.")
    application.identity |= {
        "semantics_identifier": identity.semantics_identifier,
        "given_name": identity.given_name,
        "surname": identity.surname,
    }
    return {"subject": identity.semantics_identifier}
