"""Onboarding with Mobile-ID (the local simulator) and with an existing account's PIN2
(bound to the new device by the code it shows, picked on the old one), and the limits on
the prompts both make a phone show."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.utils import timezone

from accounts.models import Account
from device.answers import VC_CHOICE_INTERACTIONS
from device.app import DeviceApp
from device.errors import InputError
from device.onboarding import Onboarding
from enrolment.models import OnboardingApplication, RegistrationTicket, RegistryPerson
from enrolment.onboarding import PROMPT_WINDOW, PROMPTS_PER_ADDRESS, PROMPTS_PER_TARGET
from signing.models import SplitKey, Transaction
from tests.helpers.platform import Platform, send_signed
from tests.helpers.v3links import get_transaction
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


def test_existing_account_signs_the_application_with_pin2_and_the_new_devices_code(
    platform: Platform, registry: None
) -> None:
    old_app, old_account = alice_registered(platform)
    new_app = platform.device()
    flow = Onboarding(new_app)
    flow.existing_account(old_account.document_number)
    status = flow.status()
    code = status["verificationCode"]
    assert status["state"] == "CHECKING" and len(code) == 4

    (prompt,) = old_app.pending(timeout_ms=5000)
    # The old device is told where the code is, never the code: it offers choices only.
    raw = get_transaction(old_app, prompt.id)
    assert raw["vcShownOn"] == "NEW_DEVICE" and "vc" not in raw
    assert {i["type"] for i in raw["interactions"]} <= VC_CHOICE_INTERACTIONS
    assert prompt.verification_code is None
    assert prompt.vc_choices is not None and len(set(prompt.vc_choices)) == 3
    assert code in prompt.vc_choices
    # The reference app does not guess: an approval without a pick sends nothing.
    with pytest.raises(InputError):
        old_app.approve(prompt, PIN2)
    assert old_app.approve(prompt, PIN2, vc=code).ok

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


def test_a_wrong_pick_on_the_old_device_rejects_the_application(
    platform: Platform, registry: None
) -> None:
    old_app, old_account = alice_registered(platform)
    flow = Onboarding(platform.device())
    flow.existing_account(old_account.document_number)
    code = flow.status()["verificationCode"]
    (prompt,) = old_app.pending(timeout_ms=5000)
    wrong = next(c for c in prompt.vc_choices or () if c != code)
    key = SplitKey.objects.get(account=old_account, purpose=SplitKey.Purpose.SIGN)
    assert old_app.approve(prompt, PIN2, vc=wrong).status == "WRONG_VC"
    # As a wrong pick for a relying party: nothing evaluated, no PIN try, no new token.
    after = SplitKey.objects.get(pk=key.pk)
    assert (after.fails, bytes(after.token_hash)) == (key.fails, bytes(key.token_hash))
    assert Transaction.objects.get(pk=prompt.id).result == Transaction.Result.WRONG_VC
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None
    assert outcome.failure["error"] == "existing_account_wrong_code"
    assert not RegistrationTicket.objects.filter(identity_source="EXISTING_ACCOUNT").exists()
    # The old device's key still works: the right PIN on a fresh prompt is accepted.
    flow = Onboarding(platform.device())
    flow.existing_account(old_account.document_number)
    code = flow.status()["verificationCode"]
    (prompt,) = old_app.pending(timeout_ms=5000)
    assert old_app.approve(prompt, PIN2, vc=code).ok


def test_a_blind_approval_is_refused_and_changes_nothing(
    platform: Platform, registry: None
) -> None:
    old_app, old_account = alice_registered(platform)
    flow = Onboarding(platform.device())
    flow.existing_account(old_account.document_number)
    (prompt,) = old_app.pending(timeout_ms=5000)
    path = f"/app/v1/transactions/{prompt.id}/confirm"
    for body in (
        # a code choice without the choice
        {"interaction": "confirmationMessageAndVerificationCodeChoice"},
        # a screen the prompt does not offer: PIN only, no code
        {"interaction": "displayTextAndPIN"},
    ):
        answer = send_signed(old_app, "POST", path, json.dumps(body).encode())
        assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    missing = send_signed(
        old_app,
        "POST",
        path,
        json.dumps({"interaction": "confirmationMessageAndVerificationCodeChoice"}).encode(),
    )
    assert missing.json()["error"] == "vc_required"
    assert Transaction.objects.get(pk=prompt.id).state == Transaction.State.PENDING
    assert flow.status()["state"] == "CHECKING"
    # The prompt can still be answered properly.
    assert old_app.approve(prompt, PIN2, vc=flow.status()["verificationCode"]).ok


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


def _start_existing(platform: Platform, document_number: str, address: str) -> httpx.Response:
    """``POST /app/v1/onboarding`` for an existing account, from ``address`` (through the
    trusted proxy the test settings name: 127.0.0.1)."""
    return httpx.post(
        f"{platform.url}/app/v1/onboarding",
        json={
            "source": "EXISTING_ACCOUNT",
            "appKey": base64.b64encode(new_device_key()).decode(),
            "documentNumber": document_number,
        },
        headers={"X-Forwarded-For": address},
        timeout=30,
    )


def new_device_key() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _created() -> tuple[int, int]:
    return OnboardingApplication.objects.count(), Transaction.objects.count()


def test_prompts_to_one_account_are_limited(platform: Platform, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    _, account = platform.registered()
    before = _created()
    for n in range(PROMPTS_PER_TARGET):  # each from its own address
        assert _start_existing(platform, account.document_number, f"192.0.2.{n}").status_code == 201
    refused = _start_existing(platform, account.document_number, "198.51.100.1")
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= PROMPT_WINDOW
    # Nothing created for the refused request: no application, no prompt on the phone.
    assert _created() == (before[0] + PROMPTS_PER_TARGET, before[1] + PROMPTS_PER_TARGET)


def test_prompts_from_one_address_are_limited(platform: Platform, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    _, account = platform.registered()
    before = _created()
    ok = _start_existing(platform, account.document_number, "203.0.113.5")
    assert ok.status_code == 201
    # Unknown documents still count: probing for people is prompting them.
    for n in range(PROMPTS_PER_ADDRESS - 1):
        unknown = _start_existing(platform, f"PNOEE-3000000000{n}-ZZZZ-Q", "203.0.113.5")
        assert unknown.status_code == 400
    refused = _start_existing(platform, account.document_number, "203.0.113.5")
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= PROMPT_WINDOW
    assert _created() == (before[0] + 1, before[1] + 1)
    # Another address may still prompt the same account (its own limit is not used up:
    # the refused request was stopped at the address, before the account's count).
    assert _start_existing(platform, account.document_number, "203.0.113.6").status_code == 201
    assert _start_existing(platform, account.document_number, "203.0.113.7").status_code == 201
    assert _created() == (before[0] + 3, before[1] + 3)


def test_the_prompt_windows_end_and_retry_after_says_when(
    platform: Platform, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    _, account = platform.registered()
    # The start of the next fixed window (counters are per window, from the epoch).
    now = int(timezone.now().timestamp())
    start = datetime.fromtimestamp((now // PROMPT_WINDOW + 1) * PROMPT_WINDOW, tz=UTC)
    with time_machine.travel(start + timedelta(seconds=100), tick=False):
        for n in range(PROMPTS_PER_TARGET):
            assert (
                _start_existing(platform, account.document_number, f"192.0.2.{n}").status_code
                == 201
            )
        refused = _start_existing(platform, account.document_number, "192.0.2.9")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) == PROMPT_WINDOW - 100
    with time_machine.travel(start + timedelta(seconds=PROMPT_WINDOW), tick=False):
        assert _start_existing(platform, account.document_number, "192.0.2.9").status_code == 201


def test_a_pin2_signature_that_does_not_verify_is_refused(
    platform: Platform, registry: None
) -> None:
    old_app, old_account = alice_registered(platform)
    flow = Onboarding(platform.device())
    flow.existing_account(old_account.document_number)
    (tx,) = old_app.pending(timeout_ms=5000)
    assert old_app.approve(tx, PIN2, vc=flow.status()["verificationCode"]).ok
    # The stored signature is damaged before the application is checked.
    row = Transaction.objects.get(pk=tx.id)
    signature = bytearray(bytes(row.signature or b""))
    signature[-1] ^= 1
    Transaction.objects.filter(pk=tx.id).update(signature=bytes(signature))
    outcome = flow.follow()
    assert outcome.state == "REJECTED"
    assert outcome.failure is not None
    assert outcome.failure["error"] == "existing_signature_invalid"
