"""Remote onboarding registers no minor (REMOTE_REGISTRATION_MIN_AGE, default 18): the
registry step fails the application with a reason the applicant is shown, as the RA office
would need a legal representative in person. A new device for an existing account is not a
new registration and goes on."""

from __future__ import annotations

from typing import Any

import pytest

from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import Source, StepFailed
from enrolment.onboarding.registry_check import step_registry
from tests import factories
from tests.personas import ALICE
from tests.portal.test_minors import MARI


def _application(source: str, who: Any) -> OnboardingApplication:
    return OnboardingApplication.objects.create(
        token_hash=b"\0" * 32,
        source=source,
        level="QUALIFIED",
        identity={
            "semantics_identifier": who.semantics_identifier,
            "given_name": who.given_name,
            "surname": who.surname,
            "date_of_birth": who.date_of_birth.isoformat(),
        },
    )


@pytest.fixture
def registry(db: None) -> None:
    factories.registry_person(ALICE)
    factories.registry_person(MARI)


@pytest.mark.parametrize("source", [Source.EMRTD, Source.MOBILE_ID])
def test_a_minor_is_refused_with_the_reason(registry: None, source: str) -> None:
    with pytest.raises(StepFailed) as failed:
        step_registry(_application(source, MARI))
    assert failed.value.code == "minor_needs_representative"
    assert "legal representative" in failed.value.message
    assert "under 18" in failed.value.message


def test_adults_pass(registry: None) -> None:
    application = _application(Source.EMRTD, ALICE)
    step_registry(application)
    assert application.identity["date_of_birth"] == "1990-02-12"  # ALICE's


def test_the_policy_age_is_the_operators(registry: None, settings: Any) -> None:
    settings.REMOTE_REGISTRATION_MIN_AGE = 15
    step_registry(_application(Source.EMRTD, MARI))  # 15: allowed by this policy
    settings.REMOTE_REGISTRATION_MIN_AGE = 16
    with pytest.raises(StepFailed, match="under 16"):
        step_registry(_application(Source.EMRTD, MARI))


def test_a_new_device_for_an_existing_account_is_no_new_registration(registry: None) -> None:
    application = _application(Source.EXISTING_ACCOUNT, MARI)
    answer = step_registry(application)  # no StepFailed for the 15-year-old
    assert answer == {"warnings": []}
    assert application.identity["date_of_birth"] == "2011-01-15"  # confirmed by the registry
