"""Running the pipeline: one step at a time, each committed in its own transaction with the
row locked, together with the name of the next step (docs/onboarding.md). Slow work — the
biometric checks, a remote service's long poll — runs before that transaction, holding no
lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from enrolment.models import OnboardingApplication
from enrolment.onboarding.budget import checks_release
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
from enrolment.onboarding.passport import (
    face_check,
    face_record,
    liveness_check,
    liveness_record,
    step_active,
    step_passive,
)
from enrolment.onboarding.registry_check import step_registry

#: Steps whose slow part runs first, outside any transaction and without the row lock,
#: and whose result is then recorded with it: step → (work, record). The biometric checks
#: decode images and run dlib for about a second; under a transaction they would hold the
#: row (PostgreSQL) or the whole database (SQLite) for that long.
UNLOCKED_WORK: dict[
    str,
    tuple[
        Callable[[OnboardingApplication], object],
        Callable[[OnboardingApplication, object], dict[str, Any]],
    ],
] = {
    "face": (face_check, face_record),
    "liveness": (liveness_check, liveness_record),
    "mobile_id_finish": (mobile_id_wait, step_mobile_id_finish),
}

STEPS: dict[str, Callable[[OnboardingApplication], dict[str, Any]]] = {
    "passive": step_passive,
    "active": step_active,
    "mobile_id_start": step_mobile_id_start,
    "existing_account": step_existing_account,
    "registry": step_registry,
    "decision": step_decision,
}

#: The steps an application's biometric-check slots (``budget``) are held for.
BIOMETRIC_STEPS = ("passive", "active", "face", "liveness")


def _next_step(application: OnboardingApplication, step: str) -> str:
    steps = STEPS_BY_SOURCE[Source(application.source)]
    index = steps.index(step)
    return steps[index + 1] if index + 1 < len(steps) else ""


def onboarding_step_run(*, application_id: AppId) -> bool:
    """Run the step that is due; True if another step is due after it.

    The step commits in one transaction with the row locked, together with the name of
    the next step, or not at all. A step of :data:`UNLOCKED_WORK` does its work first, on
    a snapshot of the row and outside any transaction; the transaction then re-reads the
    row and records the result only if that step is still the one due, so two workers
    running the same step at once (a redelivered message, a restart by the housekeeping)
    cannot both record it. Raises :class:`StepRetry` when the step must be tried again
    later (the task retries).
    """
    peek = OnboardingApplication.objects.filter(pk=application_id).first()
    if peek is None or peek.state != State.CHECKING or not peek.step:
        return False
    done: object = None
    if peek.step in UNLOCKED_WORK:
        try:
            done = UNLOCKED_WORK[peek.step][0](peek)
        except StepFailed as failure:
            done = failure
    more = _record(application_id, peek.step, done)
    if peek.source == Source.EMRTD and peek.step in BIOMETRIC_STEPS:
        _release_after(application_id)
    return more


def _record(application_id: AppId, due: str, done: object) -> bool:
    with transaction.atomic():
        application = lock(application_id)
        if application.state != State.CHECKING or application.step != due:
            return application.state == State.CHECKING and bool(application.step)
        try:
            if isinstance(done, StepFailed):
                raise done
            outcome = (
                UNLOCKED_WORK[due][1](application, done)
                if due in UNLOCKED_WORK
                else STEPS[due](application)
            )
        except StepFailed as failure:
            reject(application, due, failure.code, failure.message)
            return False
        application.checks = application.checks | {due: outcome | {"ok": True}}
        application.step = (
            _next_step(application, due) if application.state == State.CHECKING else ""
        )
        application.save()
        audit(application, f"step.{due}", **outcome)
        return bool(application.step)


def _release_after(application_id: AppId) -> None:
    """Give the biometric-check slots back once no biometric step is due any more."""
    now = OnboardingApplication.objects.filter(pk=application_id).values("state", "step").first()
    if now is None or now["state"] != State.CHECKING or now["step"] not in BIOMETRIC_STEPS:
        checks_release(application_id=application_id)


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
    transaction.on_commit(lambda: checks_release(application_id=application_id))
