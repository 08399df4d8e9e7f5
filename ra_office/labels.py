"""Translated names of the domain's codes: states, flags, registry reasons, errors.

The services speak in stable codes (``enrolment.applications``); what an officer reads,
in English or Estonian, is decided here, in the interface.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from core.errors import DomainError
from enrolment.models import Application

State = Application.State

STATES: dict[str, Promise] = {
    State.DRAFT: _("Draft"),
    State.REGISTRY_CHECKED: _("Registry checked"),
    State.BLOCKED: _("Blocked"),
    State.AWAITING_APPROVAL: _("Awaiting approval"),
    State.APPROVED: _("Approved"),
    State.PAPER_PRINTED: _("Paper printed"),
    State.SIGNED: _("Signed paper received"),
    State.TICKET_RELEASED: _("Ticket released"),
    State.CANCELLED: _("Cancelled"),
}

DOCUMENT_TYPES: dict[str, Promise] = {
    Application.DocumentType.ID_CARD: _("Identity card"),
    Application.DocumentType.PASSPORT: _("Passport"),
    Application.DocumentType.RESIDENCE_PERMIT: _("Residence permit card"),
}

LEVELS: dict[str, Promise] = {
    Account.Level.QUALIFIED: _("Qualified"),
    Account.Level.ADVANCED: _("Advanced (non-qualified)"),
}

FLAGS: dict[str, Promise] = {
    "under_18": _("The applicant is under 18"),
    "document_expires_soon": _("The document expires within 30 days"),
    "registry_warning": _("The population registry has a warning"),
    "same_surname": _("The officer has the same surname as the applicant"),
}

REASONS: dict[str, Promise] = {
    "unknown_person": _("The population registry does not know this person"),
    "deceased": _("The population registry records this person as deceased"),
    "given_name_mismatch": _("The given name differs from the registry"),
    "surname_mismatch": _("The surname differs from the registry"),
    "date_of_birth_mismatch": _("The date of birth differs from the registry"),
    "document_expired": _("The document has expired"),
}

ERRORS: dict[str, Promise] = {
    "delivery_failed": _("The one-time code could not be sent; nothing was decided. Try again."),
    "wrong_state": _("That step is not possible in the application's current state."),
    "four_eyes": _("An application cannot be approved by the officer who created it."),
    "not_supervisor": _("Only a supervisor can approve an application."),
    "ticket_unavailable": _("The ticket is no longer available; cancel and start again."),
    "not_found": _("No such application in your branch."),
    "invalid_personal_code": _("This is not a valid personal code."),
    "invalid_identifier": _("Not a semantics identifier like PNOEE-38001085718."),
    "pno_only": _("The RA office enrols personal numbers (PNO…) only."),
    "invalid_name": _("Use letters, spaces, hyphens and apostrophes only."),
    "invalid_date": _("The date is not plausible."),
    "birth_date_mismatch": _("The date of birth differs from the one in the personal code."),
    "invalid_document_number": _("A document number has 5 to 20 letters and digits."),
    "invalid_country": _("Use the two-letter country code (EE, LV, FI …)."),
    "document_expired": _("The document has expired."),
    "document_not_checked": _(
        "Confirm that you checked the document and the person's face against it."
    ),
    "invalid_email": _("Not an e-mail address."),
    "invalid_phone": _("A phone number has 6 to 15 digits, with an optional leading +."),
    "representative_is_applicant": _("The representative is another person than the applicant."),
    "representative_minor": _("The legal representative must be an adult."),
    "consent_missing": _(
        "The legal representative's consent is required for an applicant under 18."
    ),
    "invalid_reason": _("Give a reason of 3 to 500 characters, without < or >."),
    "scan_too_large": _("The scan is too large."),
    "scan_type": _("The scan must be a PDF, PNG or JPEG file."),
}


def error_message(exc: DomainError) -> str:
    """The officer's language for a domain error; the service's English otherwise."""
    label = ERRORS.get(exc.code)
    return str(label) if label is not None else exc.message
