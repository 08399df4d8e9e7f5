"""Factories: database rows and inputs built from the personas of ``tests/personas.py``.

Each takes the persona first and keyword changes for a variant (``person(citizen(...))``,
``application_input(ALICE, level="ADVANCED")``). Fixtures in ``tests/conftest.py`` call
them; a test that needs a variant calls them itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Account, Device, Person
from accounts.services import account_create, person_get_or_create
from api.rp.models import RelyingParty
from demo.registry import demo_registry_load
from enrolment.applications import ApplicationInput, officer_create
from enrolment.models import Branch, Officer, RegistrationAuthority, RegistryPerson
from tests.personas import (
    ALICE,
    OFFICERS,
    PASSWORD,
    RP_A,
    Citizen,
    RelyingPartyPersona,
)

# --- citizens -----------------------------------------------------------------------


def person(who: Citizen = ALICE) -> Person:
    """The citizen as a platform person: names only, as a registration ticket knows them
    (no date of birth, no contact data: tests that need them add them)."""
    return person_get_or_create(
        semantics_identifier=who.semantics_identifier,
        given_name=who.given_name,
        surname=who.surname,
        actor="test",
    )


def account(holder: Person, device_name: str = "Pixel") -> Account:
    """A PENDING qualified account of this person on a device without real keys."""
    device = Device.objects.create(
        person=holder, platform="android", name=device_name, public_key=b"k", interactions=[]
    )
    return account_create(person=holder, device=device, level="QUALIFIED", actor="test")


def registry_person(who: Citizen = ALICE, /, **changes: Any) -> RegistryPerson:
    """The citizen's row in the local population registry: alive, with the e-mail address
    remote onboarding sends its one-time code to (a variant adds ``phone="+3725551234"``:
    then the code goes by SMS)."""
    assert who.date_of_birth is not None, "the registry knows everyone's date of birth"
    fields: dict[str, Any] = {
        "given_name": who.given_name,
        "surname": who.surname,
        "date_of_birth": who.date_of_birth,
        "email": who.email,
    } | changes
    row, _ = RegistryPerson.objects.update_or_create(
        semantics_identifier=who.semantics_identifier, defaults=fields
    )
    return row


def passport_fields(who: Citizen = ALICE, /, **changes: Any) -> dict[str, Any]:
    """The data page of the citizen's passport (``demo.passports.make_passport`` keywords)."""
    assert who.date_of_birth is not None
    return {
        "surname": who.surname,
        "given_names": who.given_name,
        "document_number": "KF1234567",
        "personal_code": who.personal_code,
        "nationality": "EST",
        "date_of_birth": who.date_of_birth,
        "sex": who.sex,
        "expiry_date": timezone.now().date() + timedelta(days=5 * 365),
    } | changes


# --- relying parties ----------------------------------------------------------------


def relying_party(rp: RelyingPartyPersona = RP_A, /, **changes: Any) -> RelyingParty:
    """The relying party, allowed from the loopback addresses the tests call from."""
    fields: dict[str, Any] = {
        "uuid": rp.uuid,
        "name": rp.name,
        "display_name": rp.display_name,
        "allowed_networks": ["127.0.0.1/32", "::1/128"],
        "allow_advanced": True,
        "can_see_device_ip": True,
    } | changes
    return RelyingParty.objects.create(**fields)


# --- the RA office ------------------------------------------------------------------


@dataclass
class Office:
    """Branches A and B of one authority: Olga and Sven in A, Bob (the outsider) in B."""

    olga: Officer
    sven: Officer
    bob: Officer
    branch_a: Branch
    branch_b: Branch


def office(settings: Any) -> Office:
    """The RA office with its officers; the registry knows Alice (and the demo persons,
    whose statuses the variants use: deceased, lost document, minor)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # tests enter wrong codes on purpose
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo_registry_load(actor="test")
    registry_person(ALICE)
    authority = RegistrationAuthority.objects.create(code="bank", name="Bank")
    # Names beyond ASCII: the printed application must render them.
    names = {"a": "Branch A, Mustamäe", "b": "Branch B, Õismäe"}
    branches = {
        code: Branch.objects.create(authority=authority, code=code, name=name)
        for code, name in names.items()
    }
    officers = {}
    for persona in OFFICERS:
        officers[persona.username], _ = officer_create(
            username=persona.username,
            password=PASSWORD,
            branch=branches[persona.branch],
            role=persona.role,
            actor="test",
            given_name=persona.given_name,
            surname=persona.surname,
        )
    return Office(branch_a=branches["a"], branch_b=branches["b"], **officers)


def application_input(who: Citizen = ALICE, /, **changes: Any) -> ApplicationInput:
    """What an officer enters for the citizen applying with an ID-card."""
    assert who.date_of_birth is not None
    data: dict[str, Any] = {
        "semantics_identifier": who.semantics_identifier,
        "given_name": who.given_name,
        "surname": who.surname,
        "date_of_birth": who.date_of_birth,
        "document_type": "ID_CARD",
        "document_number": "AB1234567",
        "document_country": "EE",
        "document_expiry": timezone.localdate() + timedelta(days=3 * 365),
        "document_checked": True,
        "level": "QUALIFIED",
        "email": who.email,
        "phone": who.phone,
    } | changes
    return ApplicationInput(**data)


def application_form(who: Citizen = ALICE, /, **changes: Any) -> dict[str, Any]:
    """The same application as POST data of the office's form."""
    data = application_input(who).__dict__ | changes
    out = {}
    for key, value in data.items():
        if isinstance(value, bool):
            if value:
                out[key] = "on"
        else:
            out[key] = value.isoformat() if isinstance(value, date) else value
    return out
