"""Remote onboarding from the app: eMRTD + face + liveness, Mobile-ID, an existing account.

The app starts an application (:func:`onboarding_start`) and gets a bearer secret; it
uploads its evidence and submits. The pipeline then runs one step at a time
(:func:`onboarding_step_run`, called by the Celery task ``onboarding_process``): each step
commits in its own database transaction with the application row locked, records its
outcome in ``checks`` and one audit record, and names the next step. The biometric checks
(and the Mobile-ID long poll) run before that transaction, holding no lock; submissions
are admitted within a per-address and a global budget of checks running at once. A worker
killed mid-step commits nothing, so the redelivered task runs that step again; a step that
has committed is never run twice (the row says which step is due).

Steps per identity source (docs/onboarding.md):

* EMRTD: passive → active → face → liveness → registry → decision
* MOBILE_ID: mobile_id_start → mobile_id_finish → registry → decision
* EXISTING_ACCOUNT: existing_account → registry → decision

The decision approves (a registration ticket, sealed to the app's key), sends the case
to the RA office's review queue (borderline face distance, registry warnings), or
rejects. eMRTD applications are approved only after the secondary authentication: a
one-time code sent to a contact the service already knew (the population registry's or
the person's confirmed one). Mobile-ID and an existing account are themselves
authentications with an existing eID means on the person's own phone, so they need no
further code.

The modules, each importing only those above it in this list:

* ``common`` — steps per source, errors, the row lock, the audit trail, stored evidence
* ``budget`` — how many biometric checks may run at once (per address, in total)
* ``sealing`` — the ticket code sealed to the app's key
* ``outcome`` — the applicant as a person, approval (ticket) and rejection
* ``secondary_auth`` — the one-time code to a known contact, and its confirmation
* ``passport``, ``mobile_id``, ``existing_account``, ``registry_check``, ``decision``
  — the pipeline's steps, by identity source
* ``runner`` — runs the due step: its slow work unlocked, then its transaction
* ``worker`` — the Celery task around the runner, and the enqueue after commit
* ``start``, ``collect`` — the services the app API calls to open and fill an application
* ``review`` — the RA office's review queue; ``housekeeping`` — expiry, restarts, deletion

This package re-exports the public API: the app API, the RA office, ``enrolment.tasks``
and the tests import ``enrolment.onboarding``, not its modules (only a test that stands in
for an inner piece patches it in the module that uses it). The modules import each other,
never this package.
"""

from __future__ import annotations

from enrolment.onboarding.collect import (
    MAX_DG_BYTES,
    MAX_FRAMES,
    MAX_SOD_BYTES,
    MIN_FRAMES,
    LivenessChallenge,
    onboarding_frame_add,
    onboarding_liveness_start,
    onboarding_passport_submit,
    onboarding_submit,
)
from enrolment.onboarding.common import (
    EMRTD_STEPS,
    EXISTING_STEPS,
    MOBILE_ID_STEPS,
    STEPS_BY_SOURCE,
    AppId,
    ChecksBusy,
    FrameTooLarge,
    OnboardingError,
    OnboardingNotFound,
    OnboardingWrongState,
    StepFailed,
    StepRetry,
    utc_ms,
)
from enrolment.onboarding.existing_account import existing_account_statement
from enrolment.onboarding.housekeeping import (
    BIOMETRIC_KINDS,
    CHECKING_MAX_AGE,
    COLLECT_TTL,
    STALL_AFTER,
    onboarding_housekeeping,
)
from enrolment.onboarding.registry_check import mrz_name_matches
from enrolment.onboarding.review import (
    ReviewImages,
    onboarding_review_decide,
    review_images,
    review_queue,
)
from enrolment.onboarding.runner import (
    onboarding_fail_internal,
    onboarding_run,
    onboarding_step_run,
)
from enrolment.onboarding.sealing import ticket_envelope
from enrolment.onboarding.secondary_auth import (
    SECONDARY_MAX_TRIES,
    SECONDARY_TTL,
    mask_address,
    onboarding_secondary_confirm,
)
from enrolment.onboarding.start import (
    AA_CHALLENGE_BYTES,
    CONSENT_TEXT,
    PROMPT_WINDOW,
    PROMPTS_PER_ADDRESS,
    PROMPTS_PER_TARGET,
    STARTS_PER_ADDRESS_HOUR,
    Started,
    onboarding_for_app,
    onboarding_start,
)
from enrolment.onboarding.worker import onboarding_advance_if_waiting, onboarding_process

__all__ = [
    "AA_CHALLENGE_BYTES",
    "BIOMETRIC_KINDS",
    "CHECKING_MAX_AGE",
    "COLLECT_TTL",
    "CONSENT_TEXT",
    "EMRTD_STEPS",
    "EXISTING_STEPS",
    "MAX_DG_BYTES",
    "MAX_FRAMES",
    "MAX_SOD_BYTES",
    "MIN_FRAMES",
    "MOBILE_ID_STEPS",
    "PROMPTS_PER_ADDRESS",
    "PROMPTS_PER_TARGET",
    "PROMPT_WINDOW",
    "SECONDARY_MAX_TRIES",
    "SECONDARY_TTL",
    "STALL_AFTER",
    "STARTS_PER_ADDRESS_HOUR",
    "STEPS_BY_SOURCE",
    "AppId",
    "ChecksBusy",
    "FrameTooLarge",
    "LivenessChallenge",
    "OnboardingError",
    "OnboardingNotFound",
    "OnboardingWrongState",
    "ReviewImages",
    "Started",
    "StepFailed",
    "StepRetry",
    "existing_account_statement",
    "mask_address",
    "mrz_name_matches",
    "onboarding_advance_if_waiting",
    "onboarding_fail_internal",
    "onboarding_for_app",
    "onboarding_frame_add",
    "onboarding_housekeeping",
    "onboarding_liveness_start",
    "onboarding_passport_submit",
    "onboarding_process",
    "onboarding_review_decide",
    "onboarding_run",
    "onboarding_secondary_confirm",
    "onboarding_start",
    "onboarding_step_run",
    "onboarding_submit",
    "review_images",
    "review_queue",
    "ticket_envelope",
    "utc_ms",
]
