"""The ``registry`` step of every source: the population registry confirms the identity
(name, date of birth) and supplies the contacts the service already knew.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.identifiers import derive_date_of_birth
from enrolment.minors import remote_minor_refusal
from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import Source, StepFailed
from enrolment.registry import registry_compare, registry_get


def step_registry(application: OnboardingApplication) -> dict[str, Any]:
    identity = application.identity
    semantics_identifier = identity["semantics_identifier"]
    dob_text = identity.get("date_of_birth") or ""
    born = (
        datetime.fromisoformat(dob_text).date()
        if dob_text
        else derive_date_of_birth(semantics_identifier)
    )
    if born is None:
        raise StepFailed("no_date_of_birth", "The date of birth is not known.")
    # A new device for someone who already has an account (registered with the consent
    # their age required) is not a new registration of a minor; the other sources are.
    if application.source != Source.EXISTING_ACCOUNT:
        refusal = remote_minor_refusal(born, timezone.localdate())
        if refusal is not None:
            raise StepFailed("minor_needs_representative", refusal)
    record = registry_get().lookup(semantics_identifier)
    given_name, surname = identity["given_name"], identity["surname"]
    if record is not None and application.source == Source.EMRTD:
        # The MRZ spells names in A-Z only (Männik → MAENNIK or MANNIK): compare in that
        # form, and keep the registry's spelling for the person.
        if mrz_name_matches(given_name, record.given_name):
            given_name = record.given_name
        if mrz_name_matches(surname, record.surname):
            surname = record.surname
    check = registry_compare(
        record=record, given_name=given_name, surname=surname, date_of_birth=born
    )
    if check.reasons:
        raise StepFailed(
            "registry_" + check.reasons[0],
            "The population registry does not confirm this identity: " + ", ".join(check.reasons),
        )
    application.identity |= {
        "date_of_birth": born.isoformat(),
        "given_name": given_name,
        "surname": surname,
    }
    if record is not None and record.email:
        application.identity |= {"registry_email": record.email}
    if record is not None and record.phone:
        application.identity |= {"registry_phone": record.phone}
    return {"warnings": list(check.warnings)}


# ICAO Doc 9303 part 3 §6: the recommended transliterations of letters with diacritics.
_ICAO_LETTERS = str.maketrans(
    {"Ä": "AE", "Å": "AA", "Æ": "AE", "Ö": "OE", "Ø": "OE", "Ü": "UE", "ß": "SS", "Þ": "TH"}
)


def _mrz_form(name: str, *, icao: bool) -> str:
    text = name.upper()
    if icao:
        text = text.translate(_ICAO_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join("".join(c if "A" <= c <= "Z" else " " for c in text).split())


def mrz_name_matches(mrz_name: str, name: str) -> bool:
    """Whether an MRZ name (A-Z, spaces) is ``name`` written the ICAO way or plainly."""
    given = " ".join(mrz_name.upper().replace("<", " ").split())
    return given in (_mrz_form(name, icao=True), _mrz_form(name, icao=False))
