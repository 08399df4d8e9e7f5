"""Minors and remote registration: under 18 a registration needs a legal representative's
identity and consent in person (the RA office, enrolment.applications), which no remote
channel can give."""

from __future__ import annotations

from datetime import date

from django.conf import settings

from enrolment.applications import age_on

#: Why a minor is turned away from a remote registration (portal, remote onboarding).
MINOR_REFUSAL = (
    "Applicants under {age} cannot register remotely: come to a registration office "
    "(a bank branch) with your legal representative, who must consent."
)


def remote_minor_refusal(born: date | None, today: date) -> str | None:
    """The refusal for a remote self-registration by someone too young, or None.

    Under 18 the RA office requires a legal representative's identity and consent, in
    person (``enrolment.applications``); nobody can give that consent remotely, so remote
    channels refuse minors unless the operator lowers ``REMOTE_REGISTRATION_MIN_AGE``
    (a policy choice: some states let 15-year-olds hold an eID of their own). An unknown
    birth date is refused as well: the age cannot be checked.
    """
    minimum = settings.REMOTE_REGISTRATION_MIN_AGE
    if born is None:
        return "The date of birth is not known, so the applicant's age cannot be checked."
    if age_on(born, today) < minimum:
        return MINOR_REFUSAL.format(age=minimum)
    return None
