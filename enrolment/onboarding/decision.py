"""The ``decision`` step, the last of every source: approve, ask for the secondary code
(eMRTD), or send the case to the RA office's review queue (``review``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import Source, State
from enrolment.onboarding.outcome import applicant, approve
from enrolment.onboarding.secondary_auth import secondary_send


def step_decision(application: OnboardingApplication) -> dict[str, Any]:
    reasons = []
    if application.checks.get("registry", {}).get("warnings"):
        reasons.append("registry warnings")
    if application.face_distance is not None and (
        application.face_distance >= settings.FACE_MATCH_THRESHOLD - settings.FACE_REVIEW_MARGIN
    ):
        reasons.append("face distance close to the threshold")
    person = applicant(application)
    if reasons:
        application.state = State.REVIEW
        return {"outcome": "review", "reasons": reasons}
    if application.source == Source.EMRTD:
        secondary_send(application, person)
        return {"outcome": "secondary"}
    approve(application, person)
    return {"outcome": "approved"}
