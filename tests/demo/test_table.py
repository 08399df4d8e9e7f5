"""The demo table (demo.world) against SK's published table (docs/spec/rp-api.md §6)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from accounts.identifiers import (
    derive_date_of_birth,
    parse_document_number,
    parse_semantics_identifier,
)
from demo.autoresponder import OUTCOMES, REFUSED_INTERACTIONS
from demo.world import (
    DEMO_IDENTITIES,
    DEMO_RELYING_PARTIES,
    identity_for_document,
)
from signing.services.answers import REFUSAL_RESULTS


def _by_id(semantics_identifier: str) -> list[str]:
    return sorted(
        f"{i.outcome} {i.document_number}"
        for i in DEMO_IDENTITIES
        if i.semantics_identifier == semantics_identifier
    )


def test_every_outcome_has_ee_lt_and_lv_accounts() -> None:
    countries: dict[str, set[str]] = {}
    for identity in DEMO_IDENTITIES:
        country = parse_semantics_identifier(identity.semantics_identifier).country
        countries.setdefault(identity.outcome, set()).add(country)
    assert set(countries) == set(OUTCOMES)
    for outcome, seen in countries.items():
        assert {"LT", "LV"} <= seen, outcome
    assert "BE" in countries["OK"] and "BE" in countries["USER_REFUSED"]


@pytest.mark.parametrize(
    ("semantics_identifier", "expected"),
    [
        ("PNOEE-40504040001", ["OK PNOEE-40504040001-MOCK-Q"]),
        ("PNOLT-40504040001", ["OK PNOLT-40504040001-MOCK-Q"]),
        ("PNOBE-05040400032", ["OK PNOBE-05040400032-MOCK-Q"]),
        ("PNOLT-40504049999", ["OK PNOLT-40504049999-MOCK-NQ"]),
        ("PNOLV-050404-19993", ["OK PNOLV-050404-19993-MOCK-NQ"]),
        ("PNOEE-30403039917", ["USER_REFUSED PNOEE-30403039917-MOCK-Q"]),
        ("PNOBE-00010238349", ["USER_REFUSED PNOBE-00010238349-MOCK-Q"]),
        ("PNOLV-030403-10024", ["USER_REFUSED_DISPLAYTEXTANDPIN PNOLV-030403-10024-MOCK-Q"]),
        ("PNOLT-30403039939", ["USER_REFUSED_VC_CHOICE PNOLT-30403039939-MOCK-Q"]),
        ("PNOEE-30403039946", ["USER_REFUSED_CONFIRMATIONMESSAGE PNOEE-30403039946-MOCK-Q"]),
        (
            "PNOEE-30403039950",
            ["USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE PNOEE-30403039950-MOCK-Q"],
        ),
        ("PNOLV-030403-10067", ["USER_REFUSED_CERT_CHOICE PNOLV-030403-10067-MOCK-Q"]),
        ("PNOEE-30403039972", ["WRONG_VC PNOEE-30403039972-MOCK-Q"]),
        ("PNOLV-030403-10083", ["TIMEOUT PNOLV-030403-10083-MOCK-Q"]),
        # The older numbers clients hard-code.
        ("PNOEE-30303039914", ["OK PNOEE-30303039914-MOCK-Q"]),
        ("PNOLT-30303039914", ["OK PNOLT-30303039914-MOCK-Q"]),
        ("PNOLV-030303-10012", ["OK PNOLV-030303-10012-MOCK-Q"]),
        ("PNOEE-40404049996", ["OK PNOEE-40404049996-MOCK-Q"]),
        ("PNOLT-30303039816", ["OK PNOLT-30303039816-DEMO-Q", "OK PNOLT-30303039816-MOCK-Q"]),
        # SK's device-link test accounts (its mock service's example).
        ("PNOEE-40404040009", ["OK PNOEE-40404040009-MOCK-Q"]),
        ("PNOBE-04040400287", ["OK PNOBE-04040400287-MOCK-Q"]),
        # Not in the table: the pre-2021 numbers give 471/404 on SK's demo too.
        ("PNOEE-10101010005", []),
    ],
)
def test_published_identities(semantics_identifier: str, expected: list[str]) -> None:
    assert _by_id(semantics_identifier) == expected


def test_names_levels_and_numbers() -> None:
    assert len(DEMO_IDENTITIES) == 54
    numbers = [i.document_number for i in DEMO_IDENTITIES]
    assert len(set(numbers)) == len(numbers)
    assert len({i.state_name for i in DEMO_IDENTITIES}) == len(numbers)
    for identity in DEMO_IDENTITIES:
        semantics, qualified = parse_document_number(identity.document_number)
        assert semantics == identity.semantics_identifier
        assert qualified == (identity.level == "QUALIFIED")
        assert (identity.surname, identity.given_name) == ("TESTNUMBER", identity.outcome)
        assert identity_for_document(identity.document_number) is identity
    advanced = sorted(i.semantics_identifier for i in DEMO_IDENTITIES if i.level == "ADVANCED")
    assert advanced == ["PNOLT-40504049999", "PNOLV-050404-19993"]
    assert Counter(i.state_name for i in DEMO_IDENTITIES if "30303039816" in i.state_name) == {
        "PNOLT-30303039816.json": 1,
        "PNOLT-30303039816-2.json": 1,
    }
    assert identity_for_document("PNOEE-40504040001-ABCD-Q") is None


@pytest.mark.parametrize(
    ("semantics_identifier", "expected"),
    [
        ("PNOEE-40504040001", date(1905, 4, 4)),
        ("PNOEE-40404049996", date(1904, 4, 4)),
        ("PNOEE-50001029996", date(2000, 1, 2)),
        ("PNOLT-61101012257", date(2011, 1, 1)),
        ("PNOEE-10101010005", date(1801, 1, 1)),
        ("PNOLV-311299-19993", date(1999, 12, 31)),
        ("PNOLV-010111-23474", date(2011, 1, 1)),
        ("PNOLV-030303-10012", date(1903, 3, 3)),
        ("PNOLV-329999-99709", None),
        ("PNOLV-320000-10003", None),
        ("PNOBE-05040400032", None),
        ("PNOEE-90504040001", None),  # no such century digit
        ("PNOEE-40513400001", None),  # no 13th month
    ],
)
def test_date_of_birth_from_the_code(semantics_identifier: str, expected: date | None) -> None:
    assert derive_date_of_birth(semantics_identifier) == expected


def test_dates_of_birth_in_the_table() -> None:
    dates = {i.semantics_identifier: i.date_of_birth for i in DEMO_IDENTITIES}
    assert dates["PNOLV-329999-99901"] == date(1903, 3, 3)  # in the certificate only
    assert dates["PNOLV-329999-99709"] is None
    assert dates["PNOEE-40404049996"] == date(1904, 4, 4)


def test_relying_parties() -> None:
    assert [(rp.uuid, rp.name) for rp in DEMO_RELYING_PARTIES] == [
        ("00000000-0000-0000-0000-000000000000", "DEMO"),
        ("00000000-0000-4000-8000-000000000000", "DEMO"),
        ("55555555-0000-0000-0000-000000000000", "DEMO PHP client"),
        ("de300000-0000-4000-8000-000000000000", "DEMO RP"),
    ]


def test_refusals_name_the_service_interactions() -> None:
    assert {REFUSAL_RESULTS[i]: i for i in REFUSED_INTERACTIONS.values()} == {
        outcome: interaction for outcome, interaction in REFUSED_INTERACTIONS.items()
    }


def test_docs_list_every_account() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "demo.md").read_text()
    for identity in DEMO_IDENTITIES:
        assert f"`{identity.document_number}`" in text, identity.document_number
