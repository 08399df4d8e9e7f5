"""The app API refuses wrong, foreign, replayed and malformed requests, and changes nothing."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import connection
from django.utils import timezone

from accounts.models import Account, Device
from audit.models import AuditRecord
from device.app import DeviceApp
from device.state import dumps
from enrolment.models import RegistrationTicket
from signing.engine import appauth
from signing.models import SplitKey, Transaction
from tests.helpers.platform import (
    Platform,
    auth_transaction,
    credentials,
    send_signed,
    signed_headers,
)
from tests.personas import ALICE, BOB, PIN1, PIN2, WRONG1


def _device_key_b64() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return base64.b64encode(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode()


def _redeem(platform: Platform, ticket: str, **device: object) -> httpx.Response:
    body = {
        "ticket": ticket,
        "device": {
            "platform": "test",
            "name": "t",
            "publicKey": _device_key_b64(),
            "interactions": ["displayTextAndPIN"],
            **device,
        },
    }
    return httpx.post(f"{platform.url}/app/v1/registrations", json=body)


def _signed(app: DeviceApp, method: str, path: str, body: bytes = b"") -> httpx.Response:
    return send_signed(app, method, path, body)


def test_ticket_errors(platform: Platform) -> None:
    assert _redeem(platform, "NOPE-NOPE-NOPE").json()["error"] == "ticket_invalid"
    code = platform.ticket()
    first = _redeem(platform, code)
    assert first.status_code == 201
    again = _redeem(platform, code)
    assert again.status_code == 400 and again.json()["error"] == "ticket_used"
    assert Account.objects.count() == 1

    expired = platform.ticket(BOB)
    RegistrationTicket.objects.filter(used_at=None).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = _redeem(platform, expired)
    assert response.status_code == 400 and response.json()["error"] == "ticket_expired"
    assert Account.objects.count() == 1 and Device.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"ticket": "x" * 100, "device": {}}).encode(),
        json.dumps(
            {
                "ticket": "ABCD-EFGH",
                "device": {"platform": "p", "name": "n", "publicKey": "!!", "interactions": []},
            }
        ).encode(),
        json.dumps(
            {
                "ticket": "ABCD-EFGH",
                "device": {
                    "platform": "p",
                    "name": "n",
                    "publicKey": base64.b64encode(b"junk").decode(),
                    "interactions": [],
                },
            }
        ).encode(),
        json.dumps(
            {
                "ticket": "ABCD-EFGH",
                "device": {
                    "platform": "p",
                    "name": "n",
                    "publicKey": _device_key_b64(),
                    "interactions": ["dance"],
                },
            }
        ).encode(),
    ],
)
def test_malformed_registration_is_400_json(platform: Platform, body: bytes) -> None:
    response = httpx.post(
        f"{platform.url}/app/v1/registrations",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert Device.objects.count() == 0


def test_bad_moduli_are_refused(platform: Platform) -> None:
    code = platform.ticket()
    app = platform.device()
    registration = _redeem(platform, code).json()
    # Hand-drive the protocol with the raw API: a device key we control.
    key = ec.generate_private_key(ec.SECP256R1())
    del app, registration
    body = {
        "ticket": platform.ticket(BOB),
        "device": {
            "platform": "t",
            "name": "t",
            "interactions": ["displayTextAndPIN"],
            "publicKey": base64.b64encode(
                key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            ).decode(),
        },
    }
    created = httpx.post(f"{platform.url}/app/v1/registrations", json=body).json()
    path = f"/app/v1/registrations/{created['registrationId']}/keys"

    def send(keys: object) -> httpx.Response:
        raw = json.dumps({"keys": keys}).encode()
        headers = appauth.sign_request(
            key, "POST", path, raw, device_id=created["deviceId"], timestamp=int(time.time())
        )
        return httpx.post(
            f"{platform.url}{path}",
            content=raw,
            headers={**headers, "Content-Type": "application/json"},
        )

    even = (2**1023 + 2).to_bytes(128, "big")
    small_factor = (2**1023 + 3 * 5 * 7 * 11 * 13).to_bytes(128, "big")
    for keys, error in (
        (
            {
                "AUTH": {"n1": base64.b64encode(even).decode()},
                "SIGN": {"n1": base64.b64encode(even).decode()},
            },
            "modulus_rejected",
        ),
        (
            {
                "AUTH": {"n1": base64.b64encode(small_factor).decode()},
                "SIGN": {"n1": base64.b64encode(small_factor).decode()},
            },
            "modulus_rejected",
        ),
        (
            {
                "AUTH": {"n1": base64.b64encode(b"\x01" * 10).decode()},
                "SIGN": {"n1": base64.b64encode(b"\x01" * 10).decode()},
            },
            "bad_request",
        ),
        ({"AUTH": {"n1": "%%%"}}, "invalid_request"),
        ("nonsense", "invalid_request"),
    ):
        response = send(keys)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == error
    assert SplitKey.objects.count() == 0


def test_replayed_stale_and_resigned_requests(platform: Platform) -> None:
    app, account = platform.registered()
    path = "/app/v1/accounts"
    _, device_id = credentials(app)
    headers = signed_headers(app, "GET", path)
    assert httpx.get(f"{platform.url}{path}", headers=headers).status_code == 200
    replay = httpx.get(f"{platform.url}{path}", headers=headers)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed_request"

    stale = signed_headers(app, "GET", path, age=120)
    response = httpx.get(f"{platform.url}{path}", headers=stale)
    assert response.status_code == 401 and response.json()["error"] == "stale_request"

    intruder = ec.generate_private_key(ec.SECP256R1())
    forged = appauth.sign_request(
        intruder, "GET", path, b"", device_id=device_id, timestamp=int(time.time())
    )
    response = httpx.get(f"{platform.url}{path}", headers=forged)
    assert response.status_code == 401 and response.json()["error"] == "bad_signature"

    # A signature for one path does not authorise another.
    moved = signed_headers(app, "GET", "/app/v1/transactions/pending?timeoutMs=0")
    assert httpx.get(f"{platform.url}{path}", headers=moved).status_code == 401
    assert httpx.get(f"{platform.url}{path}").status_code == 401
    assert httpx.get(f"{platform.url}/app/v1/transactions/pending?timeoutMs=0").status_code == 401


def test_a_device_sees_only_its_own(platform: Platform) -> None:
    alice, alice_account = platform.registered(ALICE)
    bob, _ = platform.registered(BOB)
    tx = auth_transaction(alice_account)
    assert [t.id for t in bob.pending(timeout_ms=0)] == []
    assert _signed(bob, "GET", f"/app/v1/transactions/{tx.pk}").status_code == 404
    refuse = json.dumps({"interaction": "displayTextAndPIN"}).encode()
    assert _signed(bob, "POST", f"/app/v1/transactions/{tx.pk}/refuse", refuse).status_code == 404
    foreign_registration = f"/app/v1/registrations/{alice_account.uuid}/keys"
    assert _signed(bob, "POST", foreign_registration, b'{"keys": {}}').status_code == 404
    tx.refresh_from_db()
    assert tx.state == "PENDING"
    unknown = _signed(alice, "GET", "/app/v1/transactions/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404 and unknown.json()["code"] == 404


def test_finished_transactions_and_wrong_tokens(platform: Platform) -> None:
    app, account = platform.registered()
    tx = auth_transaction(account)
    pending = {t.id: t for t in app.pending(timeout_ms=5000)}
    assert app.refuse(pending[str(tx.pk)]) == "REFUSED"
    tx.refresh_from_db()
    assert tx.result == "USER_REFUSED_DISPLAYTEXTANDPIN"
    again = _signed(
        app,
        "POST",
        f"/app/v1/transactions/{tx.pk}/refuse",
        json.dumps({"interaction": "displayTextAndPIN"}).encode(),
    )
    assert again.status_code == 409 and again.json()["error"] == "transaction_finished"

    # A stale one-time token with a WRONG PIN is a wrong PIN, not a clone; nothing leaks.
    tx2 = auth_transaction(account)
    key = SplitKey.objects.get(account=account, purpose="AUTH")
    record = app._state.accounts[account.document_number].keys["AUTH"]
    record.token = b"\x00" * 16
    result = app.approve({t.id: t for t in app.pending(timeout_ms=5000)}[str(tx2.pk)], WRONG1)
    assert result.status == "WRONG_PIN"
    key.refresh_from_db()
    assert key.fails == 1
    account.refresh_from_db()
    assert account.state == "ACTIVE"

    expired = auth_transaction(account, ttl=timedelta(seconds=-1))
    body = json.dumps(
        {
            "interaction": "displayTextAndPIN",
            "s1p": {},
            "token": "AAAA",
            "rnonce": "AAAAAAAAAAAAAAAAAAAAAA==",
        }
    ).encode()
    response = _signed(app, "POST", f"/app/v1/transactions/{expired.pk}/confirm", body)
    assert response.status_code == 409
    expired.refresh_from_db()
    assert expired.result == "TIMEOUT"


def test_state_and_database_hold_only_their_halves(platform: Platform) -> None:
    """Invariant 6 on stored data: the app holds no d1″; the service holds no d1′."""
    from signing.engine.client import decrypt_share

    app, account = platform.registered()
    state_json = dumps(app._state)
    from signing import keys as server_keys

    for key in SplitKey.objects.filter(account=account):
        d1pp = server_keys.key_material(key).d1_double_prime
        length = (key.bits + 7) // 8
        assert d1pp.to_bytes(length, "big").hex().encode() not in state_json.lower()
        assert format(d1pp, "x").encode() not in state_json
        blob = app._state.accounts[account.document_number].keys[key.purpose].blob
        pin = PIN1 if key.purpose == "AUTH" else PIN2
        d1p = int.from_bytes(decrypt_share(blob, pin, min_pin_length=len(pin)), "big")
        needle = format(d1p, "x").encode()
        for row in SplitKey.objects.all():
            for field in row._meta.concrete_fields:
                value = getattr(row, field.attname)
                raw = bytes(value) if isinstance(value, memoryview | bytes) else str(value).encode()
                assert needle not in raw and d1p.to_bytes(length, "big") not in raw
    text = state_json.decode()
    for forbidden in ('"p1"', '"q1"', '"d1"', "d1pp", "lambda"):
        assert forbidden not in text


def _parallel_wrong_answers(platform: Platform, count: int) -> tuple[DeviceApp, Account, list[str]]:
    """``count`` copies of Alice's app answer ``count`` transactions with a wrong PIN1 at
    once; returns the original app (which did not answer), her account and the answers."""
    app, account = platform.registered()
    copies = [platform.clone(app) for _ in range(count)]
    transactions = [auth_transaction(account, f"tx {i}".encode()) for i in range(count)]
    listed = {t.id: t for t in app.pending(timeout_ms=5000)}
    barrier = threading.Barrier(count)
    results: list[str] = []
    errors: list[BaseException] = []

    def answer(copy: object, tx: Transaction) -> None:
        try:
            barrier.wait()
            results.append(copy.approve(listed[str(tx.pk)], WRONG1).status)  # type: ignore[attr-defined]
        except BaseException as exc:  # noqa: BLE001 -- asserted below
            errors.append(exc)

    threads = [
        threading.Thread(target=answer, args=pair)
        for pair in zip(copies, transactions, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return app, account, results


@pytest.mark.django_db(transaction=True)
def test_two_parallel_wrong_pins_count_two(platform: Platform) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    _, _, results = _parallel_wrong_answers(platform, 2)
    assert sorted(results) == ["WRONG_PIN", "WRONG_PIN"]
    assert SplitKey.objects.get(purpose="AUTH").fails == 2


@pytest.mark.django_db(transaction=True)
def test_burst_of_ten_wrong_pins_locks_exactly_at_three(platform: Platform) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    app, account, results = _parallel_wrong_answers(platform, 10)
    assert sorted(results) == ["LOCKED"] * 7 + ["WRONG_PIN"] * 3
    key = SplitKey.objects.get(purpose="AUTH")
    assert key.fails == 3 and key.locked_until is not None
    assert AuditRecord.objects.filter(action="key.wrong_pin").count() == 3
    # The right PIN during the lock is refused too, and changes nothing: no signature,
    # the count, the lock's end and the clone-detection token stay as they were.
    locked_until, token_hash = key.locked_until, bytes(key.token_hash)
    tx = auth_transaction(account, b"the right PIN during the lock")
    (listed,) = [t for t in app.pending(timeout_ms=5000) if t.id == str(tx.pk)]
    assert app.approve(listed, PIN1).status == "LOCKED"
    tx.refresh_from_db()
    assert tx.result == Transaction.Result.LOCKED and tx.signature is None
    key.refresh_from_db()
    assert key.fails == 3 and key.locked_until == locked_until and not key.revoked
    assert bytes(key.token_hash) == token_hash
    assert AuditRecord.objects.filter(action="key.wrong_pin").count() == 3
