"""Running the pipeline: one step at a time, each in its own transaction with the row
locked, committed together with the name of the next step (docs/onboarding.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import (
    STEPS_BY_SOURCE,
    AppId,
    Source,
    State,
    StepFailed,
    audit,
    lock,
)
from enrolment.onboarding.decision import step_decision
from enrolment.onboarding.existing_account import step_existing_account
from enrolment.onboarding.mobile_id import (
    mobile_id_wait,
    step_mobile_id_finish,
    step_mobile_id_start,
)
from enrolment.onboarding.outcome import reject
from enrolment.onboarding.passport import step_active, step_face, step_liveness, step_passive
from enrolment.onboarding.registry_check import step_registry

#: Steps that wait for a remote service first, without the row lock, then record what
#: they got with it: step → (wait, record).
UNLOCKED_WAITS: dict[
    str,
    tuple[
        Callable[[OnboardingApplication], object],
        Callable[[OnboardingApplication, object], dict[str, Any]],
    ],
] = {
    "mobile_id_finish": (mobile_id_wait, step_mobile_id_finish),
}

STEPS: dict[str, Callable[[OnboardingApplication], dict[str, Any]]] = {
    "passive": step_passive,
    "active": step_active,
    "face": step_face,
    "liveness": step_liveness,
    "mobile_id_start": step_mobile_id_start,
    "existing_account": step_existing_account,
    "registry": step_registry,
    "decision": step_decision,
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
        application = lock(application_id)
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
            reject(application, step, failure.code, failure.message)
            return False
        application.checks = application.checks | {step: outcome | {"ok": True}}
        application.step = (
            _next_step(application, step) if application.state == State.CHECKING else ""
        )
        application.save()
        audit(application, f"step.{step}", **outcome)
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
    application = lock(application_id)
    if application.state == State.CHECKING:
        reject(application, application.step or "pipeline", "internal_error", reason[:300])
