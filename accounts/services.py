"""Services of persons, devices and accounts."""

from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.identifiers import InvalidIdentifier, new_document_number, parse_semantics_identifier
from accounts.models import Account, Device, Person
from audit.services import audit_record
from core.errors import DomainError

NAME_MAX = 100


class InvalidTransition(DomainError):
    code = "invalid_transition"


class InvalidPerson(DomainError):
    code = "invalid_person"


def _clean_name(label: str, value: str) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value or len(value) > NAME_MAX or any(ord(c) < 32 for c in value):
        raise InvalidPerson(f"The {label} is empty, too long or has control characters.")
    return value


@transaction.atomic
def person_get_or_create(
    *,
    semantics_identifier: str,
    given_name: str,
    surname: str,
    date_of_birth: date | None = None,
    email: str = "",
    phone: str = "",
    actor: str,
    source_ip: str | None = None,
) -> Person:
    """The person with this identifier; created from verified data if new.

    An existing person keeps its stored names: identity data changes only through
    an explicit, audited correction, never as a side effect of an enrolment.
    """
    try:
        semantics = parse_semantics_identifier(semantics_identifier)
    except InvalidIdentifier as exc:
        raise InvalidPerson(exc.message) from None
    person, created = Person.objects.get_or_create(
        semantics_identifier=str(semantics),
        defaults={
            "given_name": _clean_name("given name", given_name),
            "surname": _clean_name("surname", surname),
            "country": semantics.country,
            "date_of_birth": date_of_birth,
            "email": email,
            "phone": phone,
        },
    )
    if created:
        audit_record(
            actor=actor,
            action="person.created",
            object_type="accounts.Person",
            object_id=person.pk,
            data={"semantics_identifier": person.semantics_identifier},
            source_ip=source_ip,
        )
    return person


def device_register(
    *, person: Person, platform: str, name: str, public_key: bytes, interactions: list[str]
) -> Device:
    return Device.objects.create(
        person=person,
        platform=platform,
        name=name,
        public_key=public_key,
        interactions=interactions,
        last_seen_at=timezone.now(),
    )


def account_create(
    *, person: Person, device: Device, level: str, actor: str, suffix: str | None = None
) -> Account:
    """A PENDING account with a fresh, unique document number (``suffix``: demo only)."""
    for _ in range(10):
        number = new_document_number(
            person.semantics_identifier, qualified=level == Account.Level.QUALIFIED, suffix=suffix
        )
        try:
            with transaction.atomic():
                account = Account.objects.create(
                    person=person, device=device, document_number=number, level=level
                )
        except IntegrityError:
            continue  # a document number collision (1 in 10^6): draw again
        audit_record(
            actor=actor,
            action="account.created",
            object_type="accounts.Account",
            object_id=account.pk,
            data={"document_number": number, "level": level},
        )
        return account
    raise DomainError("Could not allocate a document number.")  # pragma: no cover


def account_set_state(*, account: Account, state: str, actor: str, reason: str = "") -> Account:
    """Move an account along an allowed transition (row-locked, audited).

    Side effects on keys and certificates belong to the callers in ``signing.services``.
    """
    with transaction.atomic():
        row = Account.objects.select_for_update().get(pk=account.pk)
        if not row.can_become(state):
            raise InvalidTransition(f"An account cannot go from {row.state} to {state}.")
        previous = row.state
        row.state = state
        row.state_changed_at = timezone.now()
        if state == Account.State.ACTIVE and row.activated_at is None:
            row.activated_at = row.state_changed_at
        row.save(update_fields=["state", "state_changed_at", "activated_at"])
        audit_record(
            actor=actor,
            action="account.state_changed",
            object_type="accounts.Account",
            object_id=row.pk,
            data={"from": previous, "to": state, "reason": reason},
        )
    return row


EMAIL_MAX = 254
PHONE_RE = r"\+?[0-9][0-9 ]{4,30}"


@transaction.atomic
def person_set_contact(
    *, person: Person, actor: str, email: str | None = None, phone: str | None = None
) -> Person:
    """Change a person's contact data (``None`` keeps a field; ``""`` clears it).

    The caller has verified an e-mail address (the portal sends a one-time link first):
    this function only checks the form and records the change.
    """
    row = Person.objects.select_for_update().get(pk=person.pk)
    changed: list[str] = []
    if email is not None:
        email = email.strip()
        if email:
            try:
                if len(email) > EMAIL_MAX:
                    raise ValidationError("too long")
                validate_email(email)
            except ValidationError:
                raise InvalidPerson("The e-mail address is not valid.") from None
        if email != row.email:
            row.email = email
            changed.append("email")
    if phone is not None:
        phone = phone.strip()
        if phone and not re.fullmatch(PHONE_RE, phone):
            raise InvalidPerson("The phone number is not valid.")
        if phone != row.phone:
            row.phone = phone
            changed.append("phone")
    if changed:
        row.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="person.contact_changed",
            object_type="accounts.Person",
            object_id=row.pk,
            data={"fields": changed},
        )
    return row
