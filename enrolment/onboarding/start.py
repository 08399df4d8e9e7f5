"""Opening an application, and recognising the app by the secret it received then."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from core import ratelimit
from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import (
    EXISTING_STEPS,
    MOBILE_ID_STEPS,
    AppId,
    OnboardingError,
    OnboardingNotFound,
    Source,
    State,
    audit,
)
from enrolment.onboarding.existing_account import signing_request_create, usable_account
from enrolment.onboarding.mobile_id import prepare_authentication
from enrolment.onboarding.worker import enqueue
from signing import engine

AA_CHALLENGE_BYTES = 8
CONSENT_TEXT = (
    "I agree that my face image from the document chip and my selfie frames are processed "
    "to verify my identity, and deleted after the decision and the retention period."
)
#: Applications one address may start per hour. An application of MOBILE_ID or
#: EXISTING_ACCOUNT makes a phone ask its owner to confirm, which must not become a way
#: to pester (or wear down) people: those prompts are also limited per requesting
#: address and per phone number or account, in windows of PROMPT_WINDOW seconds.
STARTS_PER_ADDRESS_HOUR = 30
PROMPTS_PER_ADDRESS = 5
PROMPTS_PER_TARGET = 3
PROMPT_WINDOW = 900


@dataclass(frozen=True)
class Started:
    application: OnboardingApplication
    token: str


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(b"openeid-onboarding-v1\x00" + token.encode("utf-8")).digest()


def onboarding_for_app(*, application_id: AppId, token: str) -> OnboardingApplication:
    """The application if ``token`` is its secret; an unknown id and a wrong secret both
    raise the same 404 error, so ids cannot be probed.
    """
    application = OnboardingApplication.objects.filter(pk=application_id).first()
    if (
        application is None
        or not isinstance(token, str)
        or not 20 <= len(token) <= 100
        or not hmac.compare_digest(bytes(application.token_hash), _token_hash(token))
    ):
        raise OnboardingNotFound("Unknown onboarding application.")
    return application


@transaction.atomic
def onboarding_start(
    *,
    source: str,
    level: str,
    app_public_key: bytes,
    consent: bool = False,
    email: str = "",
    phone: str = "",
    phone_number: str = "",
    national_identity_number: str = "",
    document_number: str = "",
    source_ip: str | None = None,
) -> Started:
    """Open an application. ``app_public_key`` (P-256, DER) receives the ticket code.

    EMRTD needs the consent to biometric processing. MOBILE_ID and EXISTING_ACCOUNT
    start checking at once (the phone or the other device asks the person to confirm).
    """
    if source not in Source.values:
        raise OnboardingError("Unknown identity source.")
    target = {Source.MOBILE_ID.value: phone_number, Source.EXISTING_ACCOUNT.value: document_number}
    _throttle_start(source=source, source_ip=source_ip, target=target.get(source, ""))
    if level not in Account.Level.values:
        raise OnboardingError("Unknown account level.")
    try:
        engine.load_p256_public_key(app_public_key)
    except engine.InvalidInput:
        raise OnboardingError("The app key must be an EC P-256 public key.") from None
    token = secrets.token_urlsafe(32)
    application = OnboardingApplication(
        token_hash=_token_hash(token),
        source=source,
        level=level,
        email=email,
        phone=phone,
        source_ip=source_ip,
        identity={"app_key": base64.b64encode(app_public_key).decode("ascii")},
    )
    if source == Source.EMRTD:
        if not consent:
            raise OnboardingError(
                "Remote onboarding with a passport needs your consent to biometric processing.",
                code="consent_required",
            )
        application.consent_at = timezone.now()
        application.consent_text = CONSENT_TEXT
        application.aa_challenge = secrets.token_bytes(AA_CHALLENGE_BYTES)
    elif source == Source.MOBILE_ID:
        if not phone_number or not national_identity_number:
            raise OnboardingError("Mobile-ID needs the phone number and the identity code.")
        prepare_authentication(
            application,
            phone_number=phone_number,
            national_identity_number=national_identity_number,
        )
        application.state = State.CHECKING
        application.step = MOBILE_ID_STEPS[0]
    else:
        existing = usable_account(document_number)
        application.existing_account = existing
        application.level = Account.Level.QUALIFIED
        application.person = existing.person
        application.state = State.CHECKING
        application.step = EXISTING_STEPS[0]
    application.save()
    if source == Source.EXISTING_ACCOUNT:
        signing_request_create(application)
    audit(application, "started", source=source, level=level, consent=bool(consent))
    if source == Source.MOBILE_ID:
        enqueue(application.pk)
    return Started(application=application, token=token)


def _throttle_start(*, source: str, source_ip: str | None, target: str) -> None:
    """Refuse (429 with Retry-After, nothing created) a start over a limit
    (core.ratelimit: fixed windows counted atomically in the shared cache). The address's
    limits are counted first and the first refusal stops the count, so a refused address
    cannot also use up a person's prompts for everyone else."""
    checks: list[tuple[ratelimit.Limit, str]] = []
    if source_ip:
        checks.append(
            (ratelimit.Limit("onboarding_starts", STARTS_PER_ADDRESS_HOUR, 3600), source_ip)
        )
    if source in (Source.MOBILE_ID, Source.EXISTING_ACCOUNT):
        if source_ip:
            limit = ratelimit.Limit(
                "onboarding_prompts_address", PROMPTS_PER_ADDRESS, PROMPT_WINDOW
            )
            checks.append((limit, source_ip))
        if target:
            limit = ratelimit.Limit("onboarding_prompts_target", PROMPTS_PER_TARGET, PROMPT_WINDOW)
            checks.append((limit, target))
    for limit, key in checks:
        ratelimit.hit(limit, key, message="Too many applications; try again later.")
