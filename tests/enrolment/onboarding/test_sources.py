"""Onboarding with Mobile-ID (the local simulator) and with an existing account's PIN2."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core import mail

from accounts.models import Account
from device.app import DeviceApp
from device.onboarding import Onboarding
from enrolment.models import OnboardingApplication, RegistrationTicket, RegistryPerson
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.personas import ALICE, PIN1, PIN2

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mid_url(platform: Platform, settings: Any) -> str:
    url = platform.url + "/mid-api"
    settings.MOBILE_ID_URL = url
    return url


def test_mobile_id_registers_an_account(platform: Platform, mid_url: str) -> None:
    RegistryPerson.objects.create(
        semantics_identifier="PNOEE-60001017869",
        given_name="Jaan",
        surname="Testnumber",
        date_of_birth=date(2000, 1, 1),
    )
    app = platform.device()
    codes: list[str] = []
    flow = Onboarding(app, progress=lambda s: codes.append(str(s.get("verificationCode", ""))))
    flow.mobile_id("+37268000769", "60001017869")
    outcome = flow.follow()
    assert outcome.state == "APPROVED", outcome.failure
    assert any(len(code) == 4 for code in codes)  # the code the phone shows
    assert outcome.ticket is not None
    result = app.register(outcome.ticket, PIN1, PIN2)
    account = Account.objects.get(document_number=result.document_number)
    assert account.state == Account.State.ACTIVE
    assert account.person.semantics_identifier == "PNOEE-60001017869"
    assert account.ticket.identity_source == RegistrationTicket.Source.MOBILE_ID


def test_mobile_id_person_unknown_to_the_registry_is_rejected(
    platform: Platform, mid_url: str
) -> None:
    flow = Onboarding(platform.device())
    flow.mobile_id("+37268000769", "60001017869")
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None
    assert outcome.failure["error"] == "registry_unknown_person"
    assert not RegistrationTicket.objects.exists()


def test_mobile_id_user_who_cancels_gets_no_account(platform: Platform, mid_url: str) -> None:
    from demo.mobileid.simulator import SUBSCRIBERS, Behaviour

    cancelling = next(s for s in SUBSCRIBERS if s.behaviour == Behaviour.USER_CANCELLED)
    flow = Onboarding(platform.device())
    flow.mobile_id(cancelling.phone_number, cancelling.national_identity_number)
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None
    assert outcome.failure["error"] == "mobile_id_user_cancelled"


def alice_registered(platform: Platform) -> tuple[DeviceApp, Account]:
    """Alice (in the registry) with an ACTIVE qualified account on a device."""
    return platform.registered(ALICE)


def test_existing_account_signs_the_application_with_pin2(
    platform: Platform, registry: None
) -> None:
    old_app, old_account = alice_registered(platform)
    new_app = platform.device()
    flow = Onboarding(new_app)
    flow.existing_account(old_account.document_number)
    status = flow.status()
    assert status["state"] == "CHECKING" and len(status["verificationCode"]) == 4

    pending = old_app.pending(timeout_ms=5000)
    assert len(pending) == 1 and pending[0].verification_code == status["verificationCode"]
    assert old_app.approve(pending[0], PIN2).ok

    outcome = flow.follow()
    assert outcome.state == "APPROVED", outcome.failure
    assert outcome.ticket is not None
    result = new_app.register(outcome.ticket, PIN1, PIN2)
    new_account = Account.objects.get(document_number=result.document_number)
    assert new_account.state == Account.State.ACTIVE
    assert new_account.person == old_account.person
    assert new_account.device != old_account.device
    # The person hears of it at the contact the registry knew.
    (notice,) = [m for m in mail.outbox if "new Open eID account" in str(m.subject)]
    assert notice.to == [ALICE.email]


def test_existing_account_refused_on_the_old_device_gives_nothing(
    platform: Platform, registry: None
) -> None:
    old_app, old_account = alice_registered(platform)
    flow = Onboarding(platform.device())
    flow.existing_account(old_account.document_number)
    (tx,) = old_app.pending(timeout_ms=5000)
    old_app.refuse(tx)
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None
    assert outcome.failure["error"] == "existing_account_refused"
    assert Transaction.objects.get(pk=tx.id).result.startswith("USER_REFUSED")
    assert not RegistrationTicket.objects.filter(identity_source="EXISTING_ACCOUNT").exists()


def test_existing_account_must_be_active_and_qualified(platform: Platform) -> None:
    from device.errors import ApiError

    _, account = platform.registered()
    Account.objects.filter(pk=account.pk).update(state=Account.State.SUSPENDED)
    flow = Onboarding(platform.device())
    with pytest.raises(ApiError) as refused:
        flow.existing_account(account.document_number)
    assert refused.value.error == "existing_account_unusable"
    with pytest.raises(ApiError):
        flow.existing_account("PNOEE-00000000000-ZZZZ-Q")
    assert not OnboardingApplication.objects.exists()


def test_prompts_to_one_account_are_limited(platform: Platform) -> None:
    from device.errors import ApiError
    from enrolment.onboarding import PROMPTS_PER_TARGET

    _, account = platform.registered()
    for _ in range(PROMPTS_PER_TARGET):
        Onboarding(platform.device()).existing_account(account.document_number)
    with pytest.raises(ApiError) as refused:
        Onboarding(platform.device()).existing_account(account.document_number)
    assert refused.value.status == 429 and refused.value.error == "too_many_requests"
    assert OnboardingApplication.objects.count() == PROMPTS_PER_TARGET


def test_a_pin2_signature_that_does_not_verify_is_refused(
    platform: Platform, registry: None
) -> None:
    old_app, old_account = alice_registered(platform)
    flow = Onboarding(platform.device())
    flow.existing_account(old_account.document_number)
    (tx,) = old_app.pending(timeout_ms=5000)
    assert old_app.approve(tx, PIN2).ok
    # The stored signature is damaged before the application is checked.
    row = Transaction.objects.get(pk=tx.id)
    signature = bytearray(bytes(row.signature or b""))
    signature[-1] ^= 1
    Transaction.objects.filter(pk=tx.id).update(signature=bytes(signature))
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None
    assert outcome.failure["error"] == "existing_signature_invalid"
