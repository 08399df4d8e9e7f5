"""Celery tasks of the onboarding pipeline (thin: they call ``enrolment.onboarding``)."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.app.task import Task

logger = logging.getLogger(__name__)

MAX_RETRIES = 20


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    default_retry_delay=3,
)
def onboarding_process(self: Task, application_id: str) -> None:  # type: ignore[type-arg]
    """Run the application's due steps until it leaves CHECKING (docs/onboarding.md).

    Idempotent: each step commits together with the name of the next one, so a
    redelivered message (a killed worker) runs only what is still due. A busy remote
    service makes the task retry a little later; an unexpected error is retried too, and
    after the last retry the application is rejected with ``internal_error`` instead of
    staying in CHECKING for ever.
    """
    from enrolment.onboarding import StepRetry, onboarding_fail_internal, onboarding_run

    try:
        onboarding_run(application_id=application_id)
    except StepRetry as exc:
        if self.request.retries >= MAX_RETRIES:
            onboarding_fail_internal(application_id=application_id, reason=str(exc))
            return
        raise self.retry(exc=exc) from None
    except Exception as exc:
        logger.exception("onboarding %s: a step failed", application_id)
        if self.request.retries >= MAX_RETRIES:
            onboarding_fail_internal(
                application_id=application_id, reason="The checks could not be completed."
            )
            return
        raise self.retry(exc=exc, countdown=10) from None


@shared_task(acks_late=True)
def onboarding_housekeeping() -> dict[str, int]:
    """Restart stalled pipelines, expire stale applications, delete biometric evidence
    past its retention period.
    """
    from enrolment.onboarding import onboarding_housekeeping as run

    return run()
