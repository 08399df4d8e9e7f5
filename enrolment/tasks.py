"""Celery tasks of the onboarding pipeline (thin: they call ``enrolment.onboarding``)."""

from __future__ import annotations

from celery import shared_task
from celery.app.task import Task


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=40,
    default_retry_delay=3,
)
def onboarding_step(self: Task, application_id: str) -> bool:  # type: ignore[type-arg]
    """Run the application's due step; the service enqueues the next one on commit.

    Idempotent: the row names the due step and a step commits together with the name of
    the next one, so a redelivered message (a killed worker) runs only what is still due.
    A busy remote service (Mobile-ID) makes the step retry a little later.
    """
    from enrolment.onboarding import StepRetry, onboarding_step_run

    try:
        return onboarding_step_run(application_id=application_id)
    except StepRetry as exc:
        raise self.retry(exc=exc) from None


@shared_task(acks_late=True)
def onboarding_housekeeping() -> dict[str, int]:
    """Expire stale applications; delete biometric evidence past its retention period."""
    from enrolment.onboarding import onboarding_housekeeping as run

    return run()
