"""The auto-responders give each documented outcome (Transaction.result), through the
real app API of the running server."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from django.utils import timezone

from accounts.models import Account
from demo.autoresponder import ATTEMPTS, IGNORED, AutoResponder
from demo.world import DEMO_IDENTITIES, DemoIdentity
from device.answers import Interaction
from device.answers import Transaction as DeviceTransaction
from device.app import DeviceApp
from device.errors import ApiError, InputError, ProtocolError
from signing.models import SplitKey, Transaction
from signing.services.transactions import transaction_create, transaction_expire
from tests.helpers.demo_world import ONE_PER_OUTCOME, DemoAccounts, DemoWorld

PIN_SCREEN = [{"type": "displayTextAndPIN", "displayText60": "Log in to Demo bank?"}]
CONFIRMATION = [{"type": "confirmationMessage", "displayText200": "Pay 10 EUR to Demo bank?"}]
CODE_CHOICE = [{"type": "verificationCodeChoice", "displayText60": "Log in to Demo bank?"}]
CONFIRMATION_AND_CODE = [
    {"type": "confirmationMessageAndVerificationCodeChoice", "displayText200": "Pay 10 EUR?"}
]
KIND = {
    "AUTH": Transaction.Kind.AUTHENTICATION,
    "SIGN": Transaction.Kind.SIGNATURE,
    "CHOICE": Transaction.Kind.CERTIFICATE_CHOICE,
}


def _first(outcome: str) -> DemoIdentity:
    return next(i for i in ONE_PER_OUTCOME if i.outcome == outcome)


def _create(
    account: Account,
    kind: str,
    interactions: list[dict[str, str]],
    data: bytes = b"demo",
    ttl: timedelta = timedelta(minutes=3),
) -> Transaction:
    signing = kind != "CHOICE"
    return transaction_create(
        account=account,
        kind=KIND[kind],
        rp_name="Demo bank",
        interactions=interactions if signing else [],
        digest=hashlib.sha512(data).digest() if signing else None,
        hash_type="SHA512" if signing else "",
        ttl=ttl,
    )


def _verify(tx: Transaction, data: bytes = b"demo") -> None:
    """The signature is a plain RSA PKCS#1 v1.5 signature under the certificate's key."""
    purpose = "AUTH" if tx.kind == Transaction.Kind.AUTHENTICATION else "SIGN"
    key = SplitKey.objects.select_related("certificate").get(account=tx.account, purpose=purpose)
    assert key.certificate is not None
    public = x509.load_der_x509_certificate(bytes(key.certificate.der)).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        bytes(tx.signature or b""),
        hashlib.sha512(data).digest(),
        padding.PKCS1v15(),
        Prehashed(hashes.SHA512()),
    )


def _expected(outcome: str, interaction: str) -> str:
    """The result of an authentication offering only ``interaction``: a general refusal
    stays USER_REFUSED whatever the screen; the others are what the table says."""
    return outcome


def test_every_demo_account_answers_as_documented(demo_world: DemoWorld) -> None:
    """One authentication per account, each offering a code choice, one after the other."""
    timing_out = []
    for identity in DEMO_IDENTITIES:
        account = demo_world.account(identity)
        if identity.outcome == "TIMEOUT":
            timing_out.append(account)
            continue
        tx = _create(account, "AUTH", CODE_CHOICE)
        demo_world.answered(tx.pk)
        tx.refresh_from_db()
        assert tx.result == _expected(identity.outcome, "verificationCodeChoice"), identity
        if tx.result == Transaction.Result.OK:
            assert tx.interaction_used == "verificationCodeChoice"
            _verify(tx)
    # The TIMEOUT devices see theirs and leave them alone until they expire.
    ignored = [_create(a, "AUTH", CODE_CHOICE, ttl=timedelta(seconds=2)) for a in timing_out]
    for tx in ignored:
        assert demo_world.answered(tx.pk).endswith(f"-> TIMEOUT: {IGNORED}")
    deadline = time.monotonic() + 10
    while timezone.now() < max(tx.expires_at for tx in ignored):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for tx in ignored:
        transaction_expire(transaction_id=tx.pk)
        tx.refresh_from_db()
        assert (tx.result, tx.interaction_used) == ("TIMEOUT", "")
    answers = [line for line in demo_world.log if " -> " in line]
    assert len(answers) == len(DEMO_IDENTITIES)
    assert not [line for line in answers if "failed" in line]


CASES = [
    # outcome, kind, interactions offered, expected result
    ("OK", "AUTH", PIN_SCREEN, "OK"),
    ("OK", "SIGN", CONFIRMATION, "OK"),  # PIN2
    ("OK", "SIGN", CONFIRMATION_AND_CODE, "OK"),
    ("OK", "CHOICE", [], "OK"),
    ("USER_REFUSED", "AUTH", PIN_SCREEN, "USER_REFUSED"),  # a general refusal
    ("USER_REFUSED", "SIGN", CONFIRMATION, "USER_REFUSED"),
    ("USER_REFUSED", "CHOICE", [], "USER_REFUSED"),
    ("USER_REFUSED_DISPLAYTEXTANDPIN", "SIGN", CONFIRMATION, "USER_REFUSED_DISPLAYTEXTANDPIN"),
    ("USER_REFUSED_VC_CHOICE", "AUTH", PIN_SCREEN, "USER_REFUSED_VC_CHOICE"),
    ("USER_REFUSED_CONFIRMATIONMESSAGE", "SIGN", PIN_SCREEN, "USER_REFUSED_CONFIRMATIONMESSAGE"),
    (
        "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE",
        "AUTH",
        CONFIRMATION_AND_CODE,
        "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE",
    ),
    ("USER_REFUSED_CERT_CHOICE", "AUTH", PIN_SCREEN, "USER_REFUSED_CERT_CHOICE"),
    ("USER_REFUSED_CERT_CHOICE", "CHOICE", [], "USER_REFUSED_CERT_CHOICE"),
    ("WRONG_VC", "SIGN", CONFIRMATION_AND_CODE, "WRONG_VC"),
    ("WRONG_VC", "AUTH", PIN_SCREEN, "USER_REFUSED_DISPLAYTEXTANDPIN"),  # no code to pick
    ("WRONG_VC", "CHOICE", [], "OK"),  # no code at all
    ("TIMEOUT", "AUTH", PIN_SCREEN, ""),
    ("TIMEOUT", "CHOICE", [], ""),
]


def test_handle_each_outcome_kind_and_screen(demo_outcome_accounts: DemoAccounts) -> None:
    """handle() on one device per outcome, for the kinds and screens that matter."""
    demo_accounts = demo_outcome_accounts
    responders = {}
    for outcome, kind, interactions, expected in CASES:
        identity = _first(outcome)
        if outcome not in responders:
            responders[outcome] = AutoResponder(demo_accounts.app(identity), outcome)
        responder = responders[outcome]
        tx = _create(demo_accounts.account(identity), kind, interactions)
        status = responder.handle(responder.app.transaction(str(tx.pk)))
        tx.refresh_from_db()
        case = (outcome, kind, interactions)
        assert tx.result == expected, case
        if expected == "":
            assert status == IGNORED and tx.state == Transaction.State.PENDING
        elif expected == "OK":
            assert status == "OK", case
            if kind != "CHOICE":
                _verify(tx)
        elif expected == "WRONG_VC":
            assert status == "WRONG_VC"
        else:
            assert status == "REFUSED", case


def test_a_registration_prompt_is_refused_whatever_the_outcome(
    demo_outcome_accounts: DemoAccounts,
) -> None:
    """The code to pick is on the new device, which a virtual user cannot see."""
    for outcome in ("OK", "WRONG_VC"):
        identity = _first(outcome)
        responder = AutoResponder(demo_outcome_accounts.app(identity), outcome)
        tx = transaction_create(
            account=demo_outcome_accounts.account(identity),
            kind=Transaction.Kind.SIGNATURE,
            rp_name="Open eID registration",
            interactions=CONFIRMATION_AND_CODE,
            digest=hashlib.sha256(b"application").digest(),
            hash_type="SHA256",
            padding="PSS",
            vc="4821",
            vc_shown_on=Transaction.VcShownOn.NEW_DEVICE,
        )
        assert responder.handle(responder.app.transaction(str(tx.pk))) == "REFUSED"
        tx.refresh_from_db()
        assert tx.result == Transaction.Result.USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE


# --- run(): the loop, with a stand-in app ----------------------------------------------


def _tx(tx_id: str) -> DeviceTransaction:
    return DeviceTransaction(
        id=tx_id,
        state="PENDING",
        kind="AUTHENTICATION",
        document_number="PNOEE-40504040001-MOCK-Q",
        purpose="AUTH",
        rp_name="Demo bank",
        hash=b"\x00" * 32,
        hash_type="SHA256",
        padding="PKCS1v15",
        salt=None,
        n=None,
        interactions=(Interaction("displayTextAndPIN", "Log in?"),),
        vc_choices=None,
        expires_at=None,
    )


class StandIn:
    """Answers pending() from a script; approve() fails as told."""

    def __init__(
        self, polls: list[list[DeviceTransaction]], failures: dict[str, list[Exception]]
    ) -> None:
        self.polls = polls
        self.failures = failures
        self.approved: list[str] = []
        self.stop = threading.Event()
        self.poll_count = 0

    def pending(self, timeout_ms: int) -> list[DeviceTransaction]:
        self.poll_count += 1
        if not self.polls:
            self.stop.set()
            return []
        return self.polls.pop(0)

    def approve(self, tx: DeviceTransaction, pin: str | None = None, **_: Any) -> Any:
        if self.failures.get(tx.id):
            raise self.failures[tx.id].pop(0)
        self.approved.append(tx.id)
        return type("Result", (), {"status": "OK"})()

    def local_accounts(self) -> list[Any]:
        return []


def test_run_tries_again_after_a_passing_failure_only() -> None:
    a, b = _tx("a"), _tx("b")
    stand_in = StandIn(
        polls=[[a, b], [a, b], [a, b], [a, b]],
        failures={"a": [ApiError(500, "http_500", "database is locked"), ApiError(409, "x", "d")]},
    )
    lines: list[str] = []
    responder = AutoResponder(cast(DeviceApp, stand_in), "OK", log=lines.append)
    responder.run(stand_in.stop, poll_ms=10)
    # a: 500 then 409 (not passing) -> given up; b: answered at the first attempt.
    assert stand_in.approved == ["b"]
    assert [line.split(": ", 2)[-1] for line in lines] == [
        "OK",
        "failed: server refused (409 x): d",
    ]
    assert ATTEMPTS >= 2


def test_run_gives_up_after_attempts() -> None:
    a = _tx("a")
    stand_in = StandIn(
        polls=[[a]] * (ATTEMPTS + 2), failures={"a": [ApiError(503, "busy", "busy")] * ATTEMPTS}
    )
    lines: list[str] = []
    AutoResponder(cast(DeviceApp, stand_in), "OK", log=lines.append).run(stand_in.stop, 10)
    assert stand_in.approved == []
    assert len(lines) == 1 and lines[0].endswith("failed: server refused (503 busy): busy")


def test_unknown_outcome() -> None:
    with (
        httpx.Client() as client,
        pytest.raises(InputError, match="unknown outcome 'MAYBE'"),
    ):
        AutoResponder(DeviceApp(client), "MAYBE")


def test_app_errors_reach_the_caller_of_handle() -> None:
    tx = _tx("a")
    no_screen = DeviceTransaction(**{**tx.__dict__, "interactions": ()})
    with httpx.Client() as client:
        responder = AutoResponder(DeviceApp(client), "WRONG_VC")
        with pytest.raises(ProtocolError, match="no interaction this app supports"):
            responder.handle(no_screen)
