"""Celery tasks of remote onboarding (thin: the work is in ``enrolment.onboarding``).

Celery discovers this module. ``onboarding_process`` is defined beside the pipeline runner
(``enrolment.onboarding.worker``, which explains why) and registered by this import.
"""

from __future__ import annotations

from celery import shared_task

from enrolment import onboarding
from enrolment.onboarding import onboarding_process

__all__ = ["onboarding_housekeeping", "onboarding_process"]


@shared_task(acks_late=True)
def onboarding_housekeeping() -> dict[str, int]:
    """Restart stalled pipelines, expire stale applications, delete biometric evidence
    past its retention period.
    """
    return onboarding.onboarding_housekeeping()
