"""Housekeeping (the periodic task ``enrolment.tasks.onboarding_housekeeping``): stale
applications expire, stalled pipelines start again, biometric evidence is deleted once
its retention period has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import Kind, State, audit
from enrolment.onboarding.secondary_auth import SECONDARY_TTL
from enrolment.onboarding.worker import enqueue

#: An application must be submitted within this time of its start.
COLLECT_TTL = timedelta(hours=1)
#: A pipeline untouched this long is started again by the housekeeping task; one still
#: checking after CHECKING_MAX_AGE (a remote service down for good) expires.
STALL_AFTER = timedelta(minutes=5)
CHECKING_MAX_AGE = timedelta(hours=2)

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
        audit(application, "expired")
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
        audit(application, "biometrics_deleted", rows=count)
        purged += 1
    # A pipeline whose message was lost (the process died between a commit and the
    # publish) is started again; the rows say which step is due, so nothing runs twice.
    stalled = OnboardingApplication.objects.filter(
        state=State.CHECKING, updated_at__lt=now - STALL_AFTER
    ).values_list("pk", flat=True)
    restarted = 0
    for application_id in stalled:
        enqueue(application_id)
        restarted += 1
    return {"expired": expired, "purged": purged, "restarted": restarted}
