"""Setting the pipeline going: the Celery task that runs it, the enqueue after commit, and
the existing-account step run when the app asks for the status.

The task lives here, beside the runner it calls, rather than in ``enrolment.tasks``: the
services that start a pipeline (submit, start, housekeeping) enqueue it, and the task runs
the runner, so the two ends must sit below those services for the imports to run one way.
``enrolment.tasks`` (what Celery discovers) imports it; its name stays
``enrolment.tasks.onboarding_process`` so messages already queued still find it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.app.task import Task
from django.db import transaction

from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import AppId, StepRetry
from enrolment.onboarding.runner import (
    onboarding_fail_internal,
    onboarding_run,
    onboarding_step_run,
)

logger = logging.getLogger(__name__)

MAX_RETRIES = 20


@shared_task(
    name="enrolment.tasks.onboarding_process",
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


def enqueue(application_id: AppId) -> None:
    """Run the pipeline in a worker once the current transaction commits."""
    transaction.on_commit(lambda: onboarding_process.delay(str(application_id)))


def onboarding_advance_if_waiting(*, application_id: AppId) -> None:
    """Existing account: run its first step once the PIN2 transaction has finished
    (called when the app asks for the status; the transaction wakes nobody else).
    """
    application = OnboardingApplication.objects.filter(pk=application_id).first()
    if application is None or application.step != "existing_account":
        return
    try:
        if onboarding_step_run(application_id=application_id):
            enqueue(application_id)
    except StepRetry:
        return
