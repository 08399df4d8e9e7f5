"""The population registry: an adapter interface and its default backend, a local table.

The RA office checks every applicant against the registry before a ticket can exist: the
names and the date of birth on the presented document must match the registry, and an
unknown or deceased person blocks the application. The interface is one method, so an
adapter of a national registry (X-Road, a REST service) is a small class named by the
``RA_POPULATION_REGISTRY`` setting; tests mock only that outside world.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from enrolment.models import RegistryPerson


@dataclass(frozen=True)
class RegistryRecord:
    """What the registry knows of one person."""

    semantics_identifier: str
    given_name: str
    surname: str
    date_of_birth: date
    deceased: bool = False
    warnings: tuple[str, ...] = ()
    email: str = ""
    phone: str = ""


class PopulationRegistry(Protocol):
    """A population registry adapter: look a person up by semantics identifier."""

    def lookup(self, semantics_identifier: str) -> RegistryRecord | None:
        """The person's record, or None when the registry does not know them."""
        ...


class LocalRegistry:
    """The default backend: the ``RegistryPerson`` table in our own database."""

    def lookup(self, semantics_identifier: str) -> RegistryRecord | None:
        row = RegistryPerson.objects.filter(semantics_identifier=semantics_identifier).first()
        if row is None:
            return None
        return RegistryRecord(
            semantics_identifier=row.semantics_identifier,
            given_name=row.given_name,
            surname=row.surname,
            date_of_birth=row.date_of_birth,
            deceased=row.status == RegistryPerson.Status.DECEASED,
            warnings=(row.warning,) if row.warning else (),
            email=row.email,
            phone=row.phone,
        )


def registry_get() -> PopulationRegistry:
    """The configured adapter (``settings.RA_POPULATION_REGISTRY``, a dotted class path)."""
    backend: type[PopulationRegistry] = import_string(settings.RA_POPULATION_REGISTRY)
    return backend()


# --- the comparison -------------------------------------------------------------------


class Outcome:
    OK = "OK"
    BLOCKED = "BLOCKED"


@dataclass(frozen=True)
class RegistryCheck:
    """The result of comparing an applicant with the registry.

    ``reasons`` block the application; ``warnings`` only send it to a supervisor.
    Both hold stable codes (the RA office translates them), warnings the registry's text.
    """

    outcome: str
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    record: RegistryRecord | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
        }


def normalise_name(value: str) -> str:
    """Names compare without case, accents' encoding differences or extra spaces.

    NFC keeps õ/ä/ö/ü distinct from o/a/o/u (a different letter in Estonian, so a
    mismatch), while a decomposed "õ" from a scanner still equals the composed one.
    """
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def registry_compare(
    *,
    record: RegistryRecord | None,
    given_name: str,
    surname: str,
    date_of_birth: date,
) -> RegistryCheck:
    """Compare what the document says with the registry; pure, so easy to test."""
    if record is None:
        return RegistryCheck(Outcome.BLOCKED, reasons=("unknown_person",))
    reasons = []
    if record.deceased:
        reasons.append("deceased")
    if normalise_name(record.given_name) != normalise_name(given_name):
        reasons.append("given_name_mismatch")
    if normalise_name(record.surname) != normalise_name(surname):
        reasons.append("surname_mismatch")
    if record.date_of_birth != date_of_birth:
        reasons.append("date_of_birth_mismatch")
    outcome = Outcome.BLOCKED if reasons else Outcome.OK
    return RegistryCheck(outcome, tuple(reasons), record.warnings, record)
