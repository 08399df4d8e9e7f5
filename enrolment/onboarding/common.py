"""What every part of remote onboarding shares: the steps of each identity source, the
errors, the row lock, the audit trail and the stored evidence.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from audit.services import audit_record
from core.errors import DomainError
from enrolment.models import OnboardingApplication, OnboardingEvidence

AppId = uuid.UUID | str

State = OnboardingApplication.State
Source = OnboardingApplication.Source
Kind = OnboardingEvidence.Kind

EMRTD_STEPS = ("passive", "active", "face", "liveness", "registry", "decision")
MOBILE_ID_STEPS = ("mobile_id_start", "mobile_id_finish", "registry", "decision")
EXISTING_STEPS = ("existing_account", "registry", "decision")
STEPS_BY_SOURCE = {
    Source.EMRTD: EMRTD_STEPS,
    Source.MOBILE_ID: MOBILE_ID_STEPS,
    Source.EXISTING_ACCOUNT: EXISTING_STEPS,
}


class OnboardingError(DomainError):
    code = "onboarding_invalid"


class OnboardingNotFound(OnboardingError):
    code = "not_found"


class OnboardingWrongState(OnboardingError):
    code = "wrong_state"


class FrameTooLarge(OnboardingError):
    """A selfie frame declares more pixels than face matching needs (``SELFIE_MAX_PIXELS``)."""

    code = "frame_too_large"
    status = 413


class ChecksBusy(OnboardingError):
    """Too many biometric checks run already: this address's (429) or everyone's (503).

    ``retry_after`` (seconds) becomes the answer's ``Retry-After`` header.
    """

    def __init__(self, message: str, *, code: str, status: int, retry_after: int) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.retry_after = retry_after


class StepFailed(Exception):
    """A check failed for a reason the applicant is told (``code``, ``message``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StepRetry(Exception):
    """The step could not finish now (a remote service is busy); run it again later."""


def actor(application: OnboardingApplication) -> str:
    """The audit actor of everything the application itself causes."""
    return f"onboarding:{application.pk}"


def audit(application: OnboardingApplication, action: str, **data: Any) -> None:
    audit_record(
        actor=actor(application),
        action=f"onboarding.{action}",
        object_type="enrolment.OnboardingApplication",
        object_id=str(application.pk),
        data=data,
        source_ip=application.source_ip,
    )


def lock(application_id: AppId) -> OnboardingApplication:
    """The application row, locked until the transaction ends (``SELECT ... FOR UPDATE``)."""
    application = (
        OnboardingApplication.objects.select_for_update().filter(pk=application_id).first()
    )
    if application is None:
        raise OnboardingNotFound("Unknown onboarding application.")
    return application


def require(application: OnboardingApplication, state: str, source: str | None = None) -> None:
    if application.state != state or (source is not None and application.source != source):
        raise OnboardingWrongState(
            f"The application is {application.state.lower()}; this step is not possible now."
        )


def utc_ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


def stored_evidence(
    application: OnboardingApplication,
) -> tuple[bytes, dict[int, bytes], bytes | None]:
    """The chip's files as uploaded: EF.SOD, the data groups by number, the AA answer."""
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


def stored_frames(application: OnboardingApplication) -> list[OnboardingEvidence]:
    """The selfie frames in their order."""
    return list(application.evidence.filter(kind=Kind.FRAME).order_by("number"))
