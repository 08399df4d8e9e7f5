"""How an application ends: approved (a registration ticket, sealed to the app) or rejected;
and who the applicant is once the checks have confirmed it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Person
from enrolment.models import OnboardingApplication, RegistrationTicket
from enrolment.onboarding.common import Source, State, StepFailed, actor, audit
from enrolment.onboarding.sealing import seal_ticket_code
from enrolment.secondary import SecondaryAuthError, channel_available, send_notice
from enrolment.services import ticket_create

logger = logging.getLogger(__name__)

TICKET_SOURCE = {
    Source.EMRTD: RegistrationTicket.Source.EMRTD,
    Source.MOBILE_ID: RegistrationTicket.Source.MOBILE_ID,
    Source.EXISTING_ACCOUNT: RegistrationTicket.Source.EXISTING_ACCOUNT,
}


def applicant(application: OnboardingApplication) -> Person:
    """The person the checks confirmed (created from ``identity`` if new)."""
    identity = application.identity
    if application.person is not None:
        return application.person
    dob = identity.get("date_of_birth") or None
    person = account_services.person_get_or_create(
        semantics_identifier=identity["semantics_identifier"],
        given_name=identity["given_name"],
        surname=identity["surname"],
        date_of_birth=datetime.fromisoformat(dob).date() if dob else None,
        actor=actor(application),
        source_ip=application.source_ip,
    )
    application.person = person
    return person


def known_contact(
    application: OnboardingApplication, person: Person
) -> tuple[Literal["email", "sms"], str]:
    """A contact the service knew before this application: never one the applicant typed."""
    identity = application.identity
    candidates: list[tuple[Literal["email", "sms"], str]] = [
        ("email", identity.get("registry_email", "")),
        ("sms", identity.get("registry_phone", "")),
        ("email", person.email),
        ("sms", person.phone),
    ]
    for channel, address in candidates:
        if address and channel_available(channel):
            return channel, address
    raise StepFailed(
        "no_verified_contact",
        "No verified e-mail address or phone number is known for this person; "
        "register at a bank branch instead.",
    )


def approve(application: OnboardingApplication, person: Person) -> None:
    """Issue the ticket and seal its code to the app (the caller saves the row)."""
    ticket, code = ticket_create(
        person=person,
        identity_source=TICKET_SOURCE[Source(application.source)],
        level=application.level,
        created_by=actor(application),
        source_ip=application.source_ip,
    )
    application.ticket = ticket
    application.ticket_code_box = seal_ticket_code(application, code)
    application.state = State.APPROVED
    application.step = ""
    application.decided_at = timezone.now()
    audit(application, "approved", ticket=ticket.pk)
    if application.source != Source.EMRTD:
        _notify_known_contact(application, person)


def _notify_known_contact(application: OnboardingApplication, person: Person) -> None:
    """Mobile-ID and existing-account registrations were confirmed on the person's own
    phone; still tell them at the contact we knew, in case someone talked them into it.
    Best effort, after the commit: a failed notice never undoes the registration.
    """
    try:
        channel, address = known_contact(application, person)
    except StepFailed:
        return  # no known contact: the portal still lists the person's applications

    def send() -> None:
        try:
            send_notice(channel=channel, address=address, language="en")
        except SecondaryAuthError as exc:
            logger.warning("onboarding %s: notice not delivered: %s", application.pk, exc)

    transaction.on_commit(send)


def reject(application: OnboardingApplication, step: str, code: str, message: str) -> None:
    """Reject with the failed step's code and message (saves the row)."""
    application.checks = application.checks | {step: {"ok": False, "code": code}}
    application.state = State.REJECTED
    application.step = ""
    application.failure_code = code[:60]
    application.failure_message = message[:300]
    application.decided_at = timezone.now()
    application.save()
    audit(application, "rejected", step=step, code=code)
