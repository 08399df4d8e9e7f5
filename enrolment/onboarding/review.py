"""The manual review queue (RA office): applications whose automated checks were
borderline wait here for a supervisor's decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from enrolment.emrtd import EmrtdError
from enrolment.emrtd.datagroups import parse_dg2
from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import (
    AppId,
    Kind,
    OnboardingError,
    Source,
    State,
    StepFailed,
    StepRetry,
    lock,
    require,
    stored_frames,
)
from enrolment.onboarding.outcome import applicant, reject

# Renamed: `approve` is the supervisor's decision in onboarding_review_decide.
from enrolment.onboarding.outcome import approve as approve_application
from enrolment.onboarding.secondary_auth import secondary_send

#: The queue shows this many applications, oldest first.
QUEUE_LENGTH = 100


@dataclass(frozen=True)
class ReviewImages:
    """What a reviewer compares: the chip's portrait and a few selfie frames, as JPEG."""

    portrait: bytes | None
    frames: list[bytes]


def review_queue() -> list[OnboardingApplication]:
    """Applications waiting for a supervisor's decision, oldest first."""
    return list(
        OnboardingApplication.objects.filter(state=State.REVIEW).order_by("updated_at")[
            :QUEUE_LENGTH
        ]
    )


def review_images(application: OnboardingApplication, *, frames: int = 3) -> ReviewImages:
    """Portrait (DG2, re-encoded: browsers do not show JPEG 2000) and the first frames.

    Evidence already deleted by the retention task gives no images.
    """
    # Deferred: enrolment.biometrics loads face_recognition and dlib's models at import
    # (about 1 s and 130 MB); only the supervisor's review page needs its image codecs.
    from enrolment.biometrics import BiometricError
    from enrolment.biometrics.images import decode_image, encode_jpeg

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
    shown = [jpeg(bytes(f.data)) for f in stored_frames(application)[:frames]]
    return ReviewImages(portrait, [f for f in shown if f is not None])


@transaction.atomic
def onboarding_review_decide(
    *, application_id: AppId, approve: bool, reviewer: str, note: str, source_ip: str | None
) -> OnboardingApplication:
    """A supervisor's decision on an application in the manual review queue."""
    application = lock(application_id)
    require(application, State.REVIEW)
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
    person = applicant(application)
    if application.source == Source.EMRTD:
        try:
            secondary_send(application, person)
        except StepFailed as failure:
            reject(application, "decision", failure.code, failure.message)
            return application
        except StepRetry:
            raise OnboardingError(
                "The one-time code could not be sent; nothing was decided. Try again.",
                code="delivery_failed",
            ) from None
    else:
        approve_application(application, person)
    application.save()
    return application
