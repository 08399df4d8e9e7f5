"""The secondary authentication of an eMRTD application: a one-time code sent to a contact
the service already knew, entered in the app (docs/secondary-auth.md). The code's delivery
is ``enrolment.secondary``.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Person
from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import (
    AppId,
    OnboardingError,
    State,
    StepRetry,
    audit,
    lock,
    require,
)
from enrolment.onboarding.outcome import applicant, approve, known_contact
from enrolment.secondary import SecondaryAuthError, code_hash, code_matches, new_code, send_code

#: The code is valid this long, for this many tries.
SECONDARY_TTL = timedelta(minutes=30)
SECONDARY_MAX_TRIES = 5


def secondary_send(application: OnboardingApplication, person: Person) -> None:
    """Send the code now, inside the transaction: if delivery fails the state change rolls
    back and the step is retried (a code sent for a rolled-back attempt never matches).
    """
    channel, address = known_contact(application, person)
    code = new_code()
    try:
        send_code(channel=channel, address=address, code=code, link=None, language="en")
    except SecondaryAuthError as exc:
        raise StepRetry(f"the one-time code could not be sent: {exc}") from None
    application.secondary_channel = channel
    application.secondary_address = address
    application.secondary_code_hash = code_hash(code)
    application.secondary_sent_at = timezone.now()
    application.secondary_tries = 0
    application.state = State.SECONDARY


def mask_address(address: str) -> str:
    """``a***@example.com`` / ``+372*****66``: enough to recognise, not to harvest."""
    if "@" in address:
        name, domain = address.split("@", 1)
        return f"{name[:1]}***@{domain}"
    return address[:4] + "*" * max(0, len(address) - 6) + address[-2:]


def onboarding_secondary_confirm(*, application_id: AppId, code: str) -> OnboardingApplication:
    """The applicant enters the code sent to the known contact; the ticket is issued.

    A wrong code is counted (committed) before the error is raised.
    """
    application, tries_left = _secondary_check(application_id=application_id, code=code)
    if tries_left is not None:
        raise _WrongCode(tries_left)
    return application


@transaction.atomic
def _secondary_check(
    *, application_id: AppId, code: str
) -> tuple[OnboardingApplication, int | None]:
    application = lock(application_id)
    require(application, State.SECONDARY)
    assert application.secondary_sent_at is not None
    if timezone.now() > application.secondary_sent_at + SECONDARY_TTL:
        raise OnboardingError("The code has expired.", code="secondary_expired")
    if application.secondary_tries >= SECONDARY_MAX_TRIES:
        raise OnboardingError("Too many wrong codes.", code="secondary_locked")
    if not isinstance(code, str) or not code_matches(
        code.strip(), bytes(application.secondary_code_hash or b"")
    ):
        application.secondary_tries += 1
        application.save(update_fields=["secondary_tries", "updated_at"])
        audit(application, "secondary_failed", tries=application.secondary_tries)
        return application, SECONDARY_MAX_TRIES - application.secondary_tries
    application.secondary_confirmed_at = timezone.now()
    audit(application, "secondary_confirmed", channel=application.secondary_channel)
    approve(application, applicant(application))
    application.save()
    return application, None


class _WrongCode(OnboardingError):
    code = "secondary_wrong_code"

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"Wrong code; {tries_left} tries left.")
