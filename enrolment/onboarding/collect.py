"""Collecting an eMRTD application's evidence from the app: the chip's files, a liveness
challenge and its selfie frames, then the submission that starts the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from enrolment.models import OnboardingApplication, OnboardingEvidence
from enrolment.onboarding.budget import checks_abandon, checks_admit
from enrolment.onboarding.common import (
    EMRTD_STEPS,
    AppId,
    Kind,
    OnboardingError,
    OnboardingWrongState,
    Source,
    State,
    audit,
    lock,
    require,
)
from enrolment.onboarding.passport import frame_size_check
from enrolment.onboarding.worker import enqueue

#: Upload limits (the chip's files are small; DG2 holds one compressed face image).
MAX_SOD_BYTES = 64 * 1024
MAX_DG_BYTES = {1: 256, 2: 512 * 1024, 11: 4096, 12: 4096, 14: 8192, 15: 4096}
MAX_AA_SIGNATURE_BYTES = 1024
MIN_FRAMES = 4
MAX_FRAMES = 20


@transaction.atomic
def onboarding_passport_submit(
    *,
    application_id: AppId,
    sod: bytes,
    data_groups: Mapping[int, bytes],
    aa_signature: bytes | None,
) -> OnboardingApplication:
    """Store the chip's files (replacing an earlier upload) and the AA answer."""
    application = lock(application_id)
    require(application, State.COLLECTING, Source.EMRTD)
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
    if aa_signature is not None and not 0 < len(aa_signature) <= MAX_AA_SIGNATURE_BYTES:
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
    audit(application, "passport_received", data_groups=sorted(data_groups))
    return application


@dataclass(frozen=True)
class LivenessChallenge:
    steps: list[str]
    issued_at: datetime
    deadline: datetime


@transaction.atomic
def onboarding_liveness_start(*, application_id: AppId) -> LivenessChallenge:
    """Issue a fresh random challenge (frames of an earlier one are discarded)."""
    # Deferred: enrolment.biometrics loads face_recognition and dlib's models at import
    # (about 1 s and 130 MB); the web process must not pay that to draw three poses.
    from enrolment.biometrics import liveness_challenge

    application = lock(application_id)
    require(application, State.COLLECTING, Source.EMRTD)
    application.evidence.filter(kind=Kind.FRAME).delete()
    application.liveness_steps = liveness_challenge()
    application.liveness_issued_at = timezone.now()
    application.liveness_deadline = application.liveness_issued_at + timedelta(
        seconds=settings.LIVENESS_DEADLINE_SECONDS
    )
    application.save(update_fields=["liveness_steps", "liveness_issued_at", "liveness_deadline"])
    audit(application, "liveness_challenge", steps=application.liveness_steps)
    return LivenessChallenge(
        application.liveness_steps, application.liveness_issued_at, application.liveness_deadline
    )


@transaction.atomic
def onboarding_frame_add(
    *, application_id: AppId, index: int, data: bytes, captured_at_ms: int
) -> None:
    """Store one selfie frame of the running liveness challenge."""
    application = lock(application_id)
    require(application, State.COLLECTING, Source.EMRTD)
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
    frame_size_check(data)
    OnboardingEvidence.objects.update_or_create(
        application=application,
        kind=Kind.FRAME,
        number=index,
        defaults={"data": data, "captured_at_ms": captured_at_ms},
    )


def onboarding_submit(
    *, application_id: AppId, source_ip: str | None = None
) -> OnboardingApplication:
    """Evidence complete: start the pipeline.

    The application first takes its slots of the biometric-check budgets (``budget``):
    a full budget refuses the submission (:class:`~enrolment.onboarding.common.ChecksBusy`)
    and changes nothing. ``source_ip`` is the submitting client's address.
    """
    taken = checks_admit(application_id=application_id, address=source_ip)
    try:
        return _submit(application_id)
    except BaseException:
        checks_abandon(application_id=application_id, taken=taken)
        raise


@transaction.atomic
def _submit(application_id: AppId) -> OnboardingApplication:
    application = lock(application_id)
    require(application, State.COLLECTING, Source.EMRTD)
    kinds = set(application.evidence.values_list("kind", flat=True))
    if Kind.SOD not in kinds:
        raise OnboardingError("Upload the passport data first.")
    if application.evidence.filter(kind=Kind.FRAME).count() < MIN_FRAMES:
        raise OnboardingError(f"Upload at least {MIN_FRAMES} selfie frames.")
    application.state = State.CHECKING
    application.step = EMRTD_STEPS[0]
    application.save(update_fields=["state", "step", "updated_at"])
    audit(application, "submitted")
    enqueue(application.pk)
    return application
