"""Remote onboarding from the app: eMRTD + face + liveness, Mobile-ID, an existing account.

The app starts an application (:func:`onboarding_start`) and gets a bearer secret; it
uploads its evidence and submits. The pipeline then runs one step at a time
(:func:`onboarding_step_run`, called by the Celery task ``enrolment.tasks.onboarding_step``):
each step runs in its own database transaction with the application row locked, records
its outcome in ``checks`` and one audit record, and names the next step. A worker killed
mid-step commits nothing, so the redelivered task runs that step again; a step that has
committed is never run twice (the row says which step is due).

Steps per identity source (docs/onboarding.md):

* EMRTD: passive → active → face → liveness → registry → decision
* MOBILE_ID: mobile_id_start → mobile_id_finish → registry → decision
* EXISTING_ACCOUNT: existing_account → registry → decision

The decision approves (a registration ticket, sealed to the app's key), sends the case
to the RA office's review queue (borderline face distance, registry warnings), or
rejects. eMRTD applications are approved only after the secondary authentication: a
one-time code sent to a contact the service already knew (the population registry's or
the person's confirmed one). Mobile-ID and an existing account are themselves
authentications with an existing eID means on the person's own phone, so they need no
further code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account, Person
from audit.services import audit_record
from core.errors import DomainError
from enrolment.models import (
    OnboardingApplication,
    OnboardingEvidence,
    RegistrationTicket,
    SeenFrame,
)
from enrolment.services import ticket_create
from signing import engine

logger = logging.getLogger(__name__)

AppId = uuid.UUID | str

Application = OnboardingApplication
State = OnboardingApplication.State
Source = OnboardingApplication.Source
Kind = OnboardingEvidence.Kind

#: An application must be submitted within this time of its start.
COLLECT_TTL = timedelta(hours=1)
#: A pipeline untouched this long is started again by the housekeeping task; one still
#: checking after CHECKING_MAX_AGE (a remote service down for good) expires.
STALL_AFTER = timedelta(minutes=5)
CHECKING_MAX_AGE = timedelta(hours=2)
#: The secondary-authentication code is valid this long, for this many tries.
SECONDARY_TTL = timedelta(minutes=30)
SECONDARY_MAX_TRIES = 5
#: Upload limits (the chip's files are small; DG2 holds one compressed face image).
MAX_SOD_BYTES = 64 * 1024
MAX_DG_BYTES = {1: 256, 2: 512 * 1024, 11: 4096, 12: 4096, 14: 8192, 15: 4096}
MIN_FRAMES = 4
MAX_FRAMES = 20
AA_CHALLENGE_BYTES = 8
CONSENT_TEXT = (
    "I agree that my face image from the document chip and my selfie frames are processed "
    "to verify my identity, and deleted after the decision and the retention period."
)

EMRTD_STEPS = ("passive", "active", "face", "liveness", "registry", "decision")
MOBILE_ID_STEPS = ("mobile_id_start", "mobile_id_finish", "registry", "decision")
EXISTING_STEPS = ("existing_account", "registry", "decision")
STEPS_BY_SOURCE = {
    Source.EMRTD: EMRTD_STEPS,
    Source.MOBILE_ID: MOBILE_ID_STEPS,
    Source.EXISTING_ACCOUNT: EXISTING_STEPS,
}
TICKET_SOURCE = {
    Source.EMRTD: RegistrationTicket.Source.EMRTD,
    Source.MOBILE_ID: RegistrationTicket.Source.MOBILE_ID,
    Source.EXISTING_ACCOUNT: RegistrationTicket.Source.EXISTING_ACCOUNT,
}


class OnboardingError(DomainError):
    code = "onboarding_invalid"


class OnboardingNotFound(OnboardingError):
    code = "not_found"


class OnboardingWrongState(OnboardingError):
    code = "wrong_state"


class StepFailed(Exception):
    """A check failed for a reason the applicant is told (``code``, ``message``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StepRetry(Exception):
    """The step could not finish now (a remote service is busy); run it again later."""


# --- the app's secret -----------------------------------------------------------------


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


def _actor(application: OnboardingApplication) -> str:
    return f"onboarding:{application.pk}"


def _audit(application: OnboardingApplication, action: str, **data: Any) -> None:
    audit_record(
        actor=_actor(application),
        action=f"onboarding.{action}",
        object_type="enrolment.OnboardingApplication",
        object_id=str(application.pk),
        data=data,
        source_ip=application.source_ip,
    )


def _lock(application_id: AppId) -> OnboardingApplication:
    application = (
        OnboardingApplication.objects.select_for_update().filter(pk=application_id).first()
    )
    if application is None:
        raise OnboardingNotFound("Unknown onboarding application.")
    return application


def _require(application: OnboardingApplication, state: str, source: str | None = None) -> None:
    if application.state != state or (source is not None and application.source != source):
        raise OnboardingWrongState(
            f"The application is {application.state.lower()}; this step is not possible now."
        )


def _enqueue(application: OnboardingApplication) -> None:
    _enqueue_id(application.pk)


def _enqueue_id(application_id: AppId) -> None:
    """Run the pipeline in a worker once the current transaction commits."""
    from enrolment.tasks import onboarding_process

    transaction.on_commit(lambda: onboarding_process.delay(str(application_id)))


# --- starting and collecting ----------------------------------------------------------


@dataclass(frozen=True)
class Started:
    application: OnboardingApplication
    token: str


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
    _throttle_start(source_ip=source_ip, target=document_number or phone_number)
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
        from enrolment.mobileid import verification_code

        # The challenge is drawn here so the app can show its code before the phone asks.
        challenge = secrets.token_bytes(32)
        application.identity |= {
            "mid_phone": phone_number,
            "mid_national_identity_number": national_identity_number,
            "mid_hash": base64.b64encode(challenge).decode("ascii"),
        }
        application.verification_code = verification_code(challenge)
        application.state = State.CHECKING
        application.step = MOBILE_ID_STEPS[0]
    else:
        existing = _existing_account(document_number)
        application.existing_account = existing
        application.level = Account.Level.QUALIFIED
        application.person = existing.person
        application.state = State.CHECKING
        application.step = EXISTING_STEPS[0]
    application.save()
    if source == Source.EXISTING_ACCOUNT:
        _existing_transaction_create(application)
    _audit(application, "started", source=source, level=level, consent=bool(consent))
    if source == Source.MOBILE_ID:
        _enqueue(application)
    return Started(application=application, token=token)


#: Applications one address may start per hour, and prompts one phone number or account
#: may receive per 15 minutes: an application of MOBILE_ID or EXISTING_ACCOUNT makes a
#: phone ask its owner to confirm, which must not become a way to pester (or wear down)
#: people.
STARTS_PER_ADDRESS_HOUR = 30
PROMPTS_PER_TARGET = 3


def _throttle_start(*, source_ip: str | None, target: str) -> None:
    from django.core.cache import cache

    def over(key: str, limit: int, seconds: int) -> bool:
        cache.add(key, 0, seconds)
        try:
            return int(cache.incr(key)) > limit
        except ValueError:  # expired between add and incr
            cache.set(key, 1, seconds)
            return False

    hashed = hashlib.sha256(target.encode()).hexdigest()[:32] if target else ""
    if (source_ip and over(f"onboarding:ip:{source_ip}", STARTS_PER_ADDRESS_HOUR, 3600)) or (
        hashed and over(f"onboarding:target:{hashed}", PROMPTS_PER_TARGET, 900)
    ):
        raise OnboardingError("Too many applications; try again later.", code="too_many_requests")


def _existing_account(document_number: str) -> Account:
    account = (
        Account.objects.select_related("person", "device")
        .filter(document_number=document_number)
        .first()
    )
    if (
        account is None
        or account.state != Account.State.ACTIVE
        or account.level != Account.Level.QUALIFIED
    ):
        raise OnboardingError(
            "Registration with an existing account needs an active qualified account.",
            code="existing_account_unusable",
        )
    return account


def existing_account_statement(application: OnboardingApplication) -> bytes:
    """The application the person signs with PIN2 (the digest of this text is signed)."""
    assert application.existing_account is not None
    return (
        "Open eID application for a new account\n"
        f"application: {application.pk}\n"
        f"applicant: {application.existing_account.person.semantics_identifier}\n"
        f"level: {application.level}\n"
        f"signed with: {application.existing_account.document_number}\n"
    ).encode()


def _existing_transaction_create(application: OnboardingApplication) -> None:
    from signing.models import Transaction
    from signing.services.transactions import transaction_create

    assert application.existing_account is not None
    digest = hashlib.sha256(existing_account_statement(application)).digest()
    tx = transaction_create(
        account=application.existing_account,
        kind=Transaction.Kind.SIGNATURE,
        rp_name="Open eID registration",
        interactions=[
            {"type": "confirmationMessage", "displayText200": "Register a new account?"},
            {"type": "displayTextAndPIN", "displayText60": "Register a new account"},
        ],
        digest=digest,
        hash_type="SHA256",
        padding="PSS",
        ttl=timedelta(minutes=5),
    )
    application.existing_transaction_id = tx.pk
    application.verification_code = engine.verification_code(digest)
    application.save(update_fields=["existing_transaction_id", "verification_code"])


@transaction.atomic
def onboarding_passport_submit(
    *,
    application_id: AppId,
    sod: bytes,
    data_groups: Mapping[int, bytes],
    aa_signature: bytes | None,
) -> OnboardingApplication:
    """Store the chip's files (replacing an earlier upload) and the AA answer."""
    application = _lock(application_id)
    _require(application, State.COLLECTING, Source.EMRTD)
    if not sod or len(sod) > MAX_SOD_BYTES:
        raise OnboardingError(f"EF.SOD must be 1 to {MAX_SOD_BYTES} bytes.")
    if 1 not in data_groups or 2 not in data_groups:
        raise OnboardingError("DG1 and DG2 are required.")
    for number, data in data_groups.items():
        limit = MAX_DG_BYTES.get(number)
        if limit is None:
            raise OnboardingError(f"DG{number} is not accepted.")
        if not data or len(data) > limit:
            raise OnboardingError(f"DG{number} must be 1 to {limit} bytes.")
    if aa_signature is not None and not 0 < len(aa_signature) <= 1024:
        raise OnboardingError("The active-authentication signature is too long.")
    application.evidence.exclude(kind=Kind.FRAME).delete()
    rows = [OnboardingEvidence(application=application, kind=Kind.SOD, data=sod)]
    rows += [
        OnboardingEvidence(application=application, kind=Kind.DATA_GROUP, number=n, data=d)
        for n, d in sorted(data_groups.items())
    ]
    if aa_signature is not None:
        rows.append(
            OnboardingEvidence(application=application, kind=Kind.AA_SIGNATURE, data=aa_signature)
        )
    OnboardingEvidence.objects.bulk_create(rows)
    _audit(application, "passport_received", data_groups=sorted(data_groups))
    return application


@dataclass(frozen=True)
class LivenessChallenge:
    steps: list[str]
    issued_at: datetime
    deadline: datetime


@transaction.atomic
def onboarding_liveness_start(*, application_id: AppId) -> LivenessChallenge:
    """Issue a fresh random challenge (frames of an earlier one are discarded)."""
    from enrolment.biometrics import liveness_challenge

    application = _lock(application_id)
    _require(application, State.COLLECTING, Source.EMRTD)
    application.evidence.filter(kind=Kind.FRAME).delete()
    application.liveness_steps = liveness_challenge()
    application.liveness_issued_at = timezone.now()
    application.liveness_deadline = application.liveness_issued_at + timedelta(
        seconds=settings.LIVENESS_DEADLINE_SECONDS
    )
    application.save(update_fields=["liveness_steps", "liveness_issued_at", "liveness_deadline"])
    _audit(application, "liveness_challenge", steps=application.liveness_steps)
    return LivenessChallenge(
        application.liveness_steps, application.liveness_issued_at, application.liveness_deadline
    )


@transaction.atomic
def onboarding_frame_add(
    *, application_id: AppId, index: int, data: bytes, captured_at_ms: int
) -> None:
    """Store one selfie frame of the running liveness challenge."""
    application = _lock(application_id)
    _require(application, State.COLLECTING, Source.EMRTD)
    if application.liveness_deadline is None:
        raise OnboardingWrongState("Ask for a liveness challenge first.")
    if timezone.now() > application.liveness_deadline:
        raise OnboardingError(
            "The liveness challenge has expired; ask for a new one.", code="liveness_late"
        )
    if not 0 <= index < MAX_FRAMES:
        raise OnboardingError(f"The frame index must be 0 to {MAX_FRAMES - 1}.")
    if not data or len(data) > settings.IMAGE_MAX_BYTES:
        raise OnboardingError(f"A frame must be 1 to {settings.IMAGE_MAX_BYTES} bytes.")
    OnboardingEvidence.objects.update_or_create(
        application=application,
        kind=Kind.FRAME,
        number=index,
        defaults={"data": data, "captured_at_ms": captured_at_ms},
    )


@transaction.atomic
def onboarding_submit(*, application_id: AppId) -> OnboardingApplication:
    """Evidence complete: start the pipeline."""
    application = _lock(application_id)
    _require(application, State.COLLECTING, Source.EMRTD)
    kinds = set(application.evidence.values_list("kind", flat=True))
    if Kind.SOD not in kinds:
        raise OnboardingError("Upload the passport data first.")
    if application.evidence.filter(kind=Kind.FRAME).count() < MIN_FRAMES:
        raise OnboardingError(f"Upload at least {MIN_FRAMES} selfie frames.")
    application.state = State.CHECKING
    application.step = EMRTD_STEPS[0]
    application.save(update_fields=["state", "step", "updated_at"])
    _audit(application, "submitted")
    _enqueue(application)
    return application


# --- the pipeline ---------------------------------------------------------------------


def _evidence(application: OnboardingApplication) -> tuple[bytes, dict[int, bytes], bytes | None]:
    sod = b""
    groups: dict[int, bytes] = {}
    aa_signature = None
    for row in application.evidence.exclude(kind=Kind.FRAME):
        if row.kind == Kind.SOD:
            sod = bytes(row.data)
        elif row.kind == Kind.DATA_GROUP:
            groups[row.number] = bytes(row.data)
        elif row.kind == Kind.AA_SIGNATURE:
            aa_signature = bytes(row.data)
    return sod, groups, aa_signature


def _step_passive(application: OnboardingApplication) -> dict[str, Any]:
    from enrolment.emrtd import CscaTrustStore, EmrtdError, passive_authenticate

    sod, groups, _ = _evidence(application)
    try:
        result = passive_authenticate(
            sod=sod,
            data_groups=groups,
            trust_store=CscaTrustStore.from_path(settings.EMRTD_CSCA_PATH),
            at=timezone.now(),
        )
    except EmrtdError as exc:
        raise StepFailed(exc.code, str(exc)) from None
    mrz = result.mrz
    if mrz.expiry_date < timezone.now().date():
        raise StepFailed("document_expired", "The document has expired.")
    personal_code = mrz.personal_code
    country = mrz.issuing_country
    if country is None:
        raise StepFailed("unknown_issuing_state", "The document's issuing state is unknown.")
    if not personal_code:
        raise StepFailed(
            "no_personal_code", "The document carries no personal identification code."
        )
    application.identity |= {
        "semantics_identifier": f"PNO{country}-{personal_code}",
        "given_name": mrz.given_names,
        "surname": mrz.surname,
        "date_of_birth": mrz.date_of_birth.isoformat(),
        "document_number": mrz.document_number,
        "document_expiry": mrz.expiry_date.isoformat(),
        "issuing_state": mrz.issuing_state,
    }
    return {"dsc": result.dsc_subject, "data_groups": result.data_groups_verified}


def _step_active(application: OnboardingApplication) -> dict[str, Any]:
    from enrolment.emrtd import EmrtdError, active_authenticate
    from enrolment.emrtd.datagroups import parse_dg14, parse_dg15

    # The data groups passed the passive step, and uploads end when checking starts: the
    # keys are read from them again, not verified again.
    _, groups, signature = _evidence(application)
    if 15 not in groups:
        return {"skipped": "no DG15"}
    if signature is None or application.aa_challenge is None:
        raise StepFailed("aa_missing", "The chip's active authentication answer is missing.")
    try:
        active_authenticate(
            aa_public_key=parse_dg15(groups[15]),
            challenge=bytes(application.aa_challenge),
            signature=signature,
            hash_algorithm=parse_dg14(groups[14]).aa_hash_algorithm if 14 in groups else None,
        )
    except EmrtdError as exc:
        raise StepFailed(exc.code, str(exc)) from None
    return {"ok": True}


def _frames(application: OnboardingApplication) -> list[OnboardingEvidence]:
    return list(application.evidence.filter(kind=Kind.FRAME).order_by("number"))


def _step_face(application: OnboardingApplication) -> dict[str, Any]:
    from enrolment.biometrics import BiometricError, face_match
    from enrolment.emrtd import EmrtdError
    from enrolment.emrtd.datagroups import parse_dg2

    _, groups, _ = _evidence(application)
    try:
        face = parse_dg2(groups[2]).image  # verified by the passive step
    except (KeyError, EmrtdError):
        raise StepFailed("missing_data_group", "The chip's portrait is missing.") from None
    frames = _frames(application)
    try:
        match = face_match(
            reference=face,
            frames=[bytes(f.data) for f in frames],
            threshold=settings.FACE_MATCH_THRESHOLD,
        )
    except BiometricError as exc:
        raise StepFailed(exc.code, str(exc)) from None
    application.face_distance = match.distance
    if not match.matched:
        raise StepFailed("face_mismatch", "The selfie does not match the document's photo.")
    return {"distance": round(match.distance, 4), "threshold": match.threshold}


def _step_liveness(application: OnboardingApplication) -> dict[str, Any]:
    from enrolment.biometrics import BiometricError, Frame, liveness_verify

    frames = _frames(application)
    assert application.liveness_issued_at is not None
    assert application.liveness_deadline is not None
    try:
        result = liveness_verify(
            challenge=application.liveness_steps,
            frames=[Frame(bytes(f.data), int(f.captured_at_ms or 0)) for f in frames],
            issued_at_ms=utc_ms(application.liveness_issued_at),
            deadline_ms=utc_ms(application.liveness_deadline),
        )
    except BiometricError as exc:
        raise StepFailed(exc.code, str(exc)) from None
    _remember_frames(application, result.frame_hashes)
    return {"steps": result.steps_seen}


def _remember_frames(application: OnboardingApplication, hashes: list[str]) -> None:
    """Refuse a frame any earlier application used; remember this one's.

    Only the SHA-256 of the bytes crosses applications: the unique index decides, so two
    applications replaying the same frames at the same moment cannot both pass, and the
    check costs one insert, not a scan. (Perceptual hashes only compare the frames of one
    submission: an honest person retrying later looks alike, and would be refused.)
    """
    exact = sorted({h for h in hashes if h.startswith("sha256:")})
    try:
        with transaction.atomic():
            SeenFrame.objects.bulk_create(
                [SeenFrame(frame_hash=h, application=application) for h in exact]
            )
    except IntegrityError:
        raise StepFailed(
            "liveness_reused_frame", "A selfie frame was already used in another application."
        ) from None


def _step_mobile_id_start(application: OnboardingApplication) -> dict[str, Any]:
    from enrolment.mobileid import MobileIdError, client_from_settings

    try:
        session = client_from_settings().authentication_start(
            phone_number=application.identity["mid_phone"],
            national_identity_number=application.identity["mid_national_identity_number"],
            display_text="Open eID registration",
            digest=base64.b64decode(application.identity["mid_hash"]),
        )
    except MobileIdError as exc:
        if exc.code == "service_unavailable":
            raise StepRetry(str(exc)) from None
        raise StepFailed(f"mobile_id_{exc.code}", str(exc)) from None
    application.mobile_id_session = session.session_id
    return {"session": session.session_id}


def _mobile_id_wait(application: OnboardingApplication) -> object:
    """The Mobile-ID long poll (up to minutes), made before the row is locked."""
    from enrolment.mobileid import MobileIdError, MobileIdSession, client_from_settings

    session = MobileIdSession(
        session_id=application.mobile_id_session,
        verification_code=application.verification_code,
        hash=base64.b64decode(application.identity["mid_hash"]),
        national_identity_number=application.identity["mid_national_identity_number"],
    )
    try:
        return client_from_settings().authentication_finish(session)
    except MobileIdError as exc:
        if exc.code == "service_unavailable":
            raise StepRetry(str(exc)) from None
        raise StepFailed(f"mobile_id_{exc.code}", str(exc)) from None


def _step_mobile_id_finish(application: OnboardingApplication, identity: object) -> dict[str, Any]:
    """Record the identity :func:`_mobile_id_wait` obtained (without the lock)."""
    from enrolment.mobileid import MobileIdIdentity

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


def _step_existing_account(application: OnboardingApplication) -> dict[str, Any]:
    from signing.models import Transaction

    tx = (
        Transaction.objects.filter(pk=application.existing_transaction_id).first()
        if application.existing_transaction_id is not None
        else None
    )
    if tx is None:
        raise StepFailed("existing_transaction_missing", "The signing transaction is gone.")
    if tx.state != Transaction.State.COMPLETE:
        raise StepRetry("waiting for the PIN2 signature")
    if tx.result != Transaction.Result.OK or tx.signature is None:
        raise StepFailed(
            "existing_account_refused", f"The existing account did not sign ({tx.result})."
        )
    _verify_existing_signature(application, bytes(tx.signature), bytes(tx.salt or b""))
    person = application.existing_account.person if application.existing_account else None
    assert person is not None
    application.identity |= {
        "semantics_identifier": person.semantics_identifier,
        "given_name": person.given_name,
        "surname": person.surname,
        "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else "",
    }
    return {"transaction": str(tx.pk), "result": tx.result}


def _verify_existing_signature(
    application: OnboardingApplication, signature: bytes, salt: bytes
) -> None:
    """Check the PIN2 signature with the account's signing certificate (as an RP would)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    from pki.models import Certificate

    assert application.existing_account is not None
    certificate = (
        Certificate.objects.filter(
            document_number=application.existing_account.document_number,
            purpose=Certificate.Purpose.SIGN,
            status=Certificate.Status.GOOD,
        )
        .order_by("-id")
        .first()
    )
    if certificate is None:
        raise StepFailed("existing_account_unusable", "The account has no signing certificate.")
    public_key = x509.load_der_x509_certificate(bytes(certificate.der)).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    digest = hashlib.sha256(existing_account_statement(application)).digest()
    try:
        public_key.verify(
            signature,
            digest,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=len(salt) or 32),
            Prehashed(hashes.SHA256()),
        )
    except InvalidSignature:
        raise StepFailed(
            "existing_signature_invalid", "The PIN2 signature does not verify."
        ) from None


def _step_registry(application: OnboardingApplication) -> dict[str, Any]:
    from accounts.identifiers import derive_date_of_birth
    from enrolment.registry import registry_compare, registry_get

    identity = application.identity
    semantics_identifier = identity["semantics_identifier"]
    dob_text = identity.get("date_of_birth") or ""
    born = (
        datetime.fromisoformat(dob_text).date()
        if dob_text
        else derive_date_of_birth(semantics_identifier)
    )
    if born is None:
        raise StepFailed("no_date_of_birth", "The date of birth is not known.")
    record = registry_get().lookup(semantics_identifier)
    given_name, surname = identity["given_name"], identity["surname"]
    if record is not None and application.source == Source.EMRTD:
        # The MRZ spells names in A-Z only (Männik → MAENNIK or MANNIK): compare in that
        # form, and keep the registry's spelling for the person.
        if mrz_name_matches(given_name, record.given_name):
            given_name = record.given_name
        if mrz_name_matches(surname, record.surname):
            surname = record.surname
    check = registry_compare(
        record=record, given_name=given_name, surname=surname, date_of_birth=born
    )
    if check.reasons:
        raise StepFailed(
            "registry_" + check.reasons[0],
            "The population registry does not confirm this identity: " + ", ".join(check.reasons),
        )
    application.identity |= {
        "date_of_birth": born.isoformat(),
        "given_name": given_name,
        "surname": surname,
    }
    if record is not None and record.email:
        application.identity |= {"registry_email": record.email}
    if record is not None and record.phone:
        application.identity |= {"registry_phone": record.phone}
    return {"warnings": list(check.warnings)}


# ICAO Doc 9303 part 3 §6: the recommended transliterations of letters with diacritics.
_ICAO_LETTERS = str.maketrans(
    {"Ä": "AE", "Å": "AA", "Æ": "AE", "Ö": "OE", "Ø": "OE", "Ü": "UE", "ß": "SS", "Þ": "TH"}
)


def _mrz_form(name: str, *, icao: bool) -> str:
    import unicodedata

    text = name.upper()
    if icao:
        text = text.translate(_ICAO_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join("".join(c if "A" <= c <= "Z" else " " for c in text).split())


def mrz_name_matches(mrz_name: str, name: str) -> bool:
    """Whether an MRZ name (A-Z, spaces) is ``name`` written the ICAO way or plainly."""
    given = " ".join(mrz_name.upper().replace("<", " ").split())
    return given in (_mrz_form(name, icao=True), _mrz_form(name, icao=False))


def _step_decision(application: OnboardingApplication) -> dict[str, Any]:
    reasons = []
    if application.checks.get("registry", {}).get("warnings"):
        reasons.append("registry warnings")
    if application.face_distance is not None and (
        application.face_distance >= settings.FACE_MATCH_THRESHOLD - settings.FACE_REVIEW_MARGIN
    ):
        reasons.append("face distance close to the threshold")
    person = _person(application)
    if reasons:
        application.state = State.REVIEW
        return {"outcome": "review", "reasons": reasons}
    if application.source == Source.EMRTD:
        _secondary_send(application, person)
        return {"outcome": "secondary"}
    _approve(application, person)
    return {"outcome": "approved"}


#: Steps that wait for a remote service first, without the row lock, then record what
#: they got with it: step → (wait, record).
UNLOCKED_WAITS: dict[
    str,
    tuple[
        Callable[[OnboardingApplication], object],
        Callable[[OnboardingApplication, object], dict[str, Any]],
    ],
] = {
    "mobile_id_finish": (_mobile_id_wait, _step_mobile_id_finish),
}

STEPS: dict[str, Callable[[OnboardingApplication], dict[str, Any]]] = {
    "passive": _step_passive,
    "active": _step_active,
    "face": _step_face,
    "liveness": _step_liveness,
    "mobile_id_start": _step_mobile_id_start,
    "existing_account": _step_existing_account,
    "registry": _step_registry,
    "decision": _step_decision,
}


def _next_step(application: OnboardingApplication, step: str) -> str:
    steps = STEPS_BY_SOURCE[Source(application.source)]
    index = steps.index(step)
    return steps[index + 1] if index + 1 < len(steps) else ""


def onboarding_step_run(*, application_id: AppId) -> bool:
    """Run the step that is due; True if another step is due after it.

    The step runs in one transaction with the row locked, so it commits together with the
    name of the next step or not at all. A step that waits for a remote service (the
    Mobile-ID long poll) does its waiting first, without the lock (:data:`UNLOCKED_WAITS`).
    Raises :class:`StepRetry` when the step must be tried again later (the task retries).
    """
    peek = OnboardingApplication.objects.filter(pk=application_id).first()
    if peek is None or peek.state != State.CHECKING or not peek.step:
        return False
    waited: object = None
    if peek.step in UNLOCKED_WAITS:
        try:
            waited = UNLOCKED_WAITS[peek.step][0](peek)
        except StepFailed as failure:
            waited = failure
    with transaction.atomic():
        application = _lock(application_id)
        if application.state != State.CHECKING or application.step != peek.step:
            return application.state == State.CHECKING and bool(application.step)
        step = application.step
        try:
            if isinstance(waited, StepFailed):
                raise waited
            outcome = (
                UNLOCKED_WAITS[step][1](application, waited)
                if step in UNLOCKED_WAITS
                else STEPS[step](application)
            )
        except StepFailed as failure:
            _reject(application, step, failure.code, failure.message)
            return False
        application.checks = application.checks | {step: outcome | {"ok": True}}
        application.step = (
            _next_step(application, step) if application.state == State.CHECKING else ""
        )
        application.save()
        _audit(application, f"step.{step}", **outcome)
        return bool(application.step)


def onboarding_run(*, application_id: AppId) -> None:
    """Run every due step, one transaction each (the Celery task's body).

    One message carries the whole pipeline and is acknowledged only at the end, so a
    worker killed anywhere leaves the message to be delivered again, and the next delivery
    resumes at the step the row names.
    """
    while onboarding_step_run(application_id=application_id):
        pass


@transaction.atomic
def onboarding_fail_internal(*, application_id: AppId, reason: str) -> None:
    """A step kept failing for a reason that is ours, not the applicant's: reject it with
    ``internal_error`` rather than leave it checking for ever (the log has the details).
    """
    application = _lock(application_id)
    if application.state == State.CHECKING:
        _reject(application, application.step or "pipeline", "internal_error", reason[:300])


def _reject(application: OnboardingApplication, step: str, code: str, message: str) -> None:
    application.checks = application.checks | {step: {"ok": False, "code": code}}
    application.state = State.REJECTED
    application.step = ""
    application.failure_code = code[:60]
    application.failure_message = message[:300]
    application.decided_at = timezone.now()
    application.save()
    _audit(application, "rejected", step=step, code=code)


def onboarding_advance_if_waiting(*, application_id: AppId) -> None:
    """Existing account: run its first step once the PIN2 transaction has finished
    (called when the app asks for the status; the transaction wakes nobody else).
    """
    application = OnboardingApplication.objects.filter(pk=application_id).first()
    if application is None or application.step != "existing_account":
        return
    try:
        if onboarding_step_run(application_id=application_id):
            _enqueue_id(application_id)
    except StepRetry:
        return


def _person(application: OnboardingApplication) -> Person:
    identity = application.identity
    if application.person is not None:
        return application.person
    dob = identity.get("date_of_birth") or None
    person = account_services.person_get_or_create(
        semantics_identifier=identity["semantics_identifier"],
        given_name=identity["given_name"],
        surname=identity["surname"],
        date_of_birth=datetime.fromisoformat(dob).date() if dob else None,
        actor=_actor(application),
        source_ip=application.source_ip,
    )
    application.person = person
    return person


# --- secondary authentication ---------------------------------------------------------


def _secondary_contact(
    application: OnboardingApplication, person: Person
) -> tuple[Literal["email", "sms"], str]:
    """A contact the service knew before this application: never one the applicant typed."""
    from enrolment.secondary import channel_available

    identity = application.identity
    candidates: list[tuple[Literal["email", "sms"], str]] = [
        ("email", identity.get("registry_email", "")),
        ("sms", identity.get("registry_phone", "")),
        ("email", person.email),
        ("sms", person.phone),
    ]
    for channel, address in candidates:
        if address and channel_available(channel):
            return channel, address
    raise StepFailed(
        "no_verified_contact",
        "No verified e-mail address or phone number is known for this person; "
        "register at a bank branch instead.",
    )


def _secondary_send(application: OnboardingApplication, person: Person) -> None:
    """Send the code now, inside the transaction: if delivery fails the state change rolls
    back and the step is retried (a code sent for a rolled-back attempt never matches).
    """
    from enrolment.secondary import SecondaryAuthError, code_hash, new_code, send_code

    channel, address = _secondary_contact(application, person)
    code = new_code()
    try:
        send_code(channel=channel, address=address, code=code, link=None, language="en")
    except SecondaryAuthError as exc:
        raise StepRetry(f"the one-time code could not be sent: {exc}") from None
    application.secondary_channel = channel
    application.secondary_address = address
    application.secondary_code_hash = code_hash(code)
    application.secondary_sent_at = timezone.now()
    application.secondary_tries = 0
    application.state = State.SECONDARY


def mask_address(address: str) -> str:
    """``a***@example.com`` / ``+372*****66``: enough to recognise, not to harvest."""
    if "@" in address:
        name, domain = address.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return address[:4] + "*" * max(0, len(address) - 6) + address[-2:]


def onboarding_secondary_confirm(*, application_id: AppId, code: str) -> OnboardingApplication:
    """The applicant enters the code sent to the known contact; the ticket is issued.

    A wrong code is counted (committed) before the error is raised.
    """
    application, tries_left = _secondary_check(application_id=application_id, code=code)
    if tries_left is not None:
        raise _WrongCode(tries_left)
    return application


@transaction.atomic
def _secondary_check(
    *, application_id: AppId, code: str
) -> tuple[OnboardingApplication, int | None]:
    from enrolment.secondary import code_matches

    application = _lock(application_id)
    _require(application, State.SECONDARY)
    assert application.secondary_sent_at is not None
    if timezone.now() > application.secondary_sent_at + SECONDARY_TTL:
        raise OnboardingError("The code has expired.", code="secondary_expired")
    if application.secondary_tries >= SECONDARY_MAX_TRIES:
        raise OnboardingError("Too many wrong codes.", code="secondary_locked")
    if not isinstance(code, str) or not code_matches(
        code.strip(), bytes(application.secondary_code_hash or b"")
    ):
        application.secondary_tries += 1
        application.save(update_fields=["secondary_tries", "updated_at"])
        _audit(application, "secondary_failed", tries=application.secondary_tries)
        return application, SECONDARY_MAX_TRIES - application.secondary_tries
    application.secondary_confirmed_at = timezone.now()
    _audit(application, "secondary_confirmed", channel=application.secondary_channel)
    _approve(application, _person(application))
    application.save()
    return application, None


class _WrongCode(OnboardingError):
    code = "secondary_wrong_code"

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"Wrong code; {tries_left} tries left.")


# --- decisions --------------------------------------------------------------------------


def _approve(application: OnboardingApplication, person: Person) -> None:
    ticket, code = ticket_create(
        person=person,
        identity_source=TICKET_SOURCE[Source(application.source)],
        level=application.level,
        created_by=_actor(application),
        source_ip=application.source_ip,
    )
    app_key = engine.load_p256_public_key(base64.b64decode(application.identity["app_key"]))
    envelope = engine.transport_seal_secret(
        code.encode("ascii"), app_key, engine.onboarding_ticket_aad(str(application.pk))
    )
    application.ticket = ticket
    application.ticket_code_box = _envelope_bytes(envelope)
    application.state = State.APPROVED
    application.step = ""
    application.decided_at = timezone.now()
    _audit(application, "approved", ticket=ticket.pk)
    if application.source != Source.EMRTD:
        _notify_known_contact(application, person)


def _notify_known_contact(application: OnboardingApplication, person: Person) -> None:
    """Mobile-ID and existing-account registrations were confirmed on the person's own
    phone; still tell them at the contact we knew, in case someone talked them into it.
    Best effort, after the commit: a failed notice never undoes the registration.
    """
    from enrolment.secondary import SecondaryAuthError, send_notice

    try:
        channel, address = _secondary_contact(application, person)
    except StepFailed:
        return  # no known contact: the portal still lists the person's applications

    def send() -> None:
        try:
            send_notice(channel=channel, address=address, language="en")
        except SecondaryAuthError as exc:
            logger.warning("onboarding %s: notice not delivered: %s", application.pk, exc)

    transaction.on_commit(send)


def _envelope_bytes(envelope: Mapping[str, str]) -> bytes:
    import json

    return json.dumps(dict(envelope), sort_keys=True).encode("ascii")


def ticket_envelope(application: OnboardingApplication) -> dict[str, Any] | None:
    """The sealed ticket code for the app (only the app's key opens it): the envelope of
    :func:`signing.engine.transport_seal_secret` and the code's length in bytes.
    """
    import json

    if application.ticket_code_box is None:
        return None
    envelope = json.loads(bytes(application.ticket_code_box))
    length = len(base64.b64decode(envelope["ct"])) - 16  # AES-GCM tag
    return {"envelope": envelope, "length": length}


@transaction.atomic
def onboarding_review_decide(
    *, application_id: AppId, approve: bool, reviewer: str, note: str, source_ip: str | None
) -> OnboardingApplication:
    """A supervisor's decision on an application in the manual review queue."""
    application = _lock(application_id)
    _require(application, State.REVIEW)
    application.reviewed_by = reviewer
    application.review_note = note[:500]
    audit_record(
        actor=reviewer,
        action="onboarding.reviewed",
        object_type="enrolment.OnboardingApplication",
        object_id=str(application.pk),
        data={"approve": approve, "note": note[:500]},
        source_ip=source_ip,
    )
    if not approve:
        application.state = State.REJECTED
        application.failure_code = "review_rejected"
        application.failure_message = "Rejected by the manual review."
        application.decided_at = timezone.now()
        application.save()
        return application
    person = _person(application)
    if application.source == Source.EMRTD:
        try:
            _secondary_send(application, person)
        except StepFailed as failure:
            _reject(application, "decision", failure.code, failure.message)
            return application
        except StepRetry:
            raise OnboardingError(
                "The one-time code could not be sent; nothing was decided. Try again.",
                code="delivery_failed",
            ) from None
    else:
        _approve(application, person)
    application.save()
    return application


# --- housekeeping -----------------------------------------------------------------------

BIOMETRIC_KINDS = (Kind.FRAME, Kind.DATA_GROUP, Kind.SOD, Kind.AA_SIGNATURE)


@transaction.atomic
def onboarding_housekeeping(*, now: datetime | None = None) -> dict[str, int]:
    """Expire stale applications, restart stalled pipelines, delete evidence past retention.

    Evidence (chip files with the face image, selfie frames) is deleted once the decision
    is older than ``BIOMETRIC_RETENTION_DAYS``; open applications older than
    :data:`COLLECT_TTL` (or their code's life) expire and lose their evidence at once.
    """
    now = now or timezone.now()
    stale = (
        OnboardingApplication.objects.filter(
            state=State.COLLECTING, created_at__lt=now - COLLECT_TTL
        )
        | OnboardingApplication.objects.filter(
            state=State.SECONDARY, secondary_sent_at__lt=now - SECONDARY_TTL
        )
        | OnboardingApplication.objects.filter(
            state=State.CHECKING, created_at__lt=now - CHECKING_MAX_AGE
        )
        | OnboardingApplication.objects.filter(
            state=State.REVIEW, updated_at__lt=now - timedelta(days=settings.REVIEW_MAX_DAYS)
        )
    )
    expired = 0
    for application in stale.select_for_update():
        application.state = State.EXPIRED
        application.step = ""
        application.decided_at = now
        application.save()
        _audit(application, "expired")
        expired += 1
    retention = timedelta(days=settings.BIOMETRIC_RETENTION_DAYS)
    due = OnboardingApplication.objects.filter(
        state__in=OnboardingApplication.FINAL_STATES,
        decided_at__lte=now - retention,
        biometrics_deleted_at__isnull=True,
    )
    purged = 0
    for application in due.select_for_update():
        count, _ = application.evidence.filter(kind__in=BIOMETRIC_KINDS).delete()
        application.biometrics_deleted_at = now
        application.save(update_fields=["biometrics_deleted_at"])
        _audit(application, "biometrics_deleted", rows=count)
        purged += 1
    # A pipeline whose message was lost (the process died between a commit and the
    # publish) is started again; the rows say which step is due, so nothing runs twice.
    stalled = OnboardingApplication.objects.filter(
        state=State.CHECKING, updated_at__lt=now - STALL_AFTER
    ).values_list("pk", flat=True)
    restarted = 0
    for application_id in stalled:
        _enqueue_id(application_id)
        restarted += 1
    return {"expired": expired, "purged": purged, "restarted": restarted}


def utc_ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


# --- manual review (RA office) ------------------------------------------------------------


@dataclass(frozen=True)
class ReviewImages:
    """What a reviewer compares: the chip's portrait and a few selfie frames, as JPEG."""

    portrait: bytes | None
    frames: list[bytes]


def review_queue() -> list[OnboardingApplication]:
    """Applications waiting for a supervisor's decision, oldest first."""
    return list(
        OnboardingApplication.objects.filter(state=State.REVIEW).order_by("updated_at")[:100]
    )


def review_images(application: OnboardingApplication, *, frames: int = 3) -> ReviewImages:
    """Portrait (DG2, re-encoded: browsers do not show JPEG 2000) and the first frames.

    Evidence already deleted by the retention task gives no images.
    """
    from enrolment.biometrics import BiometricError
    from enrolment.biometrics.images import decode_image, encode_jpeg
    from enrolment.emrtd import EmrtdError
    from enrolment.emrtd.datagroups import parse_dg2

    def jpeg(data: bytes) -> bytes | None:
        try:
            return encode_jpeg(decode_image(data, max_side=480), quality=85)
        except BiometricError:
            return None

    portrait = None
    dg2 = application.evidence.filter(kind=Kind.DATA_GROUP, number=2).first()
    if dg2 is not None:
        try:
            portrait = jpeg(parse_dg2(bytes(dg2.data)).image)
        except EmrtdError:
            portrait = None
    shown = [jpeg(bytes(f.data)) for f in _frames(application)[:frames]]
    return ReviewImages(portrait, [f for f in shown if f is not None])
