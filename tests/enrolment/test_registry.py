"""The population registry adapter and its comparison rules; personal code validation."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from accounts.identifiers import InvalidIdentifier, personal_code_birth_date
from audit.models import AuditRecord
from demo.registry import DEMO_REGISTRY, demo_registry_load
from enrolment.applications import ApplicationInvalid, applicant_identifier
from enrolment.models import RegistryPerson
from enrolment.registry import (
    LocalRegistry,
    Outcome,
    RegistryRecord,
    registry_compare,
    registry_get,
)

RECORD = RegistryRecord("PNOEE-49403136515", "Õie", "Ääremaa", date(1994, 3, 13))


def test_matching_names_and_birth_date_pass() -> None:
    # Case, surrounding spaces and a decomposed õ (o + combining tilde) still match.
    check = registry_compare(
        record=RECORD, given_name=" o\u0303ie ", surname="ÄÄREMAA", date_of_birth=date(1994, 3, 13)
    )
    assert check.outcome == Outcome.OK and check.reasons == ()


@pytest.mark.parametrize(
    ("given", "surname", "born", "reasons"),
    [
        ("Oie", "Ääremaa", date(1994, 3, 13), ("given_name_mismatch",)),  # õ is not o
        ("Õie", "Aaremaa", date(1994, 3, 13), ("surname_mismatch",)),
        ("Õie", "Ääremaa", date(1994, 3, 14), ("date_of_birth_mismatch",)),
    ],
)
def test_a_mismatch_blocks(given: str, surname: str, born: date, reasons: tuple[str, ...]) -> None:
    check = registry_compare(record=RECORD, given_name=given, surname=surname, date_of_birth=born)
    assert check.outcome == Outcome.BLOCKED and check.reasons == reasons


def test_unknown_and_deceased_persons_block() -> None:
    unknown = registry_compare(
        record=None, given_name="A", surname="B", date_of_birth=timezone.localdate()
    )
    assert unknown.outcome == Outcome.BLOCKED and unknown.reasons == ("unknown_person",)
    dead = RegistryRecord("PNOEE-36001010005", "Toomas", "Vana", date(1960, 1, 1), deceased=True)
    check = registry_compare(
        record=dead, given_name="Toomas", surname="Vana", date_of_birth=date(1960, 1, 1)
    )
    assert check.outcome == Outcome.BLOCKED and check.reasons == ("deceased",)


def test_warnings_do_not_block() -> None:
    warned = RegistryRecord("PNOEE-1", "A", "B", date(1990, 1, 1), warnings=("lost document",))
    check = registry_compare(
        record=warned, given_name="A", surname="B", date_of_birth=date(1990, 1, 1)
    )
    assert check.outcome == Outcome.OK and check.warnings == ("lost document",)


@pytest.mark.django_db
def test_local_registry_reads_the_table_and_demo_load_is_idempotent() -> None:
    assert demo_registry_load(actor="test") == len(DEMO_REGISTRY)
    assert demo_registry_load(actor="test") == 0
    assert RegistryPerson.objects.count() == len(DEMO_REGISTRY)
    assert AuditRecord.objects.filter(action="registry.person_added").count() == len(DEMO_REGISTRY)
    registry = registry_get()
    assert isinstance(registry, LocalRegistry)
    record = registry.lookup("PNOEE-48803280224")
    assert record is not None and record.surname == "Karu" and record.warnings
    dead = registry.lookup("PNOEE-36001010005")
    assert dead is not None and dead.deceased
    assert registry.lookup("PNOEE-38001085729") is None


class FakeNationalRegistry:
    """A stand-in for an outside registry adapter, named by the setting."""

    def lookup(self, semantics_identifier: str) -> RegistryRecord | None:
        return RegistryRecord(semantics_identifier, "X", "Y", date(2000, 1, 1))


def test_the_backend_is_chosen_by_the_setting(settings: Any) -> None:
    settings.RA_POPULATION_REGISTRY = f"{__name__}.FakeNationalRegistry"
    record = registry_get().lookup("PNOEE-38001085718")
    assert record is not None and record.given_name == "X"


def test_every_demo_personal_code_is_valid() -> None:
    for identifier, _, _, born, _, _ in DEMO_REGISTRY:
        assert applicant_identifier(identifier) == (identifier, born)


@pytest.mark.parametrize(
    "code",
    [
        "38001085719",  # wrong check digit
        "38013085718",  # month 13
        "78001085718",  # century digit 7
        "3800108571",  # ten digits
        "3800108571x",
        "３８００１０８５７１８",  # full-width digits
    ],
)
def test_invalid_personal_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidIdentifier):
        personal_code_birth_date(code)
    with pytest.raises(ApplicationInvalid) as caught:
        applicant_identifier(f"PNOEE-{code}")
    assert caught.value.field == "semantics_identifier"


def test_second_weight_set_of_the_check_digit() -> None:
    # 3760503006 gives 10 with the first weights; the second weights decide (4).
    assert personal_code_birth_date("37605030064") == date(1976, 5, 3)
    with pytest.raises(InvalidIdentifier):
        personal_code_birth_date("37605030060")


@pytest.mark.parametrize("value", ["IDCEE-38001085718", "EE-38001085718", "PNOEE-<b>1</b>", ""])
def test_only_personal_numbers_are_enrolled(value: str) -> None:
    with pytest.raises(ApplicationInvalid):
        applicant_identifier(value)


def test_identifiers_are_normalised() -> None:
    assert applicant_identifier(" pnoee-38001085718 ") == ("PNOEE-38001085718", date(1980, 1, 8))
    # Latvian codes are taken as written (no EE/LT check digit rule).
    assert applicant_identifier("PNOLV-030303-10012") == ("PNOLV-030303-10012", None)
