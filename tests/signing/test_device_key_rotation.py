"""Rotating the device key through the app API (docs/app-api.md §9.1), against the live
server with the reference app: the old key is refused afterwards; a missing, wrong or
foreign proof, a foreign device and a malformed key are refused and change nothing; a
lost answer is finished by the app."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accounts.models import Account, Device
from audit.models import AuditRecord
from device.app import DeviceApp
from device.errors import ApiError
from signing.engine import appauth, public_key_der
from signing.engine.rotation import prove_device_key
from tests.helpers.platform import Platform, auth_transaction, credentials
from tests.personas import ALICE, BOB, PIN1

PATH = "/app/v1/device/key"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _post(
    app: DeviceApp,
    body: dict[str, Any] | bytes,
    *,
    signer: ec.EllipticCurvePrivateKey | None = None,
    device_id: str | None = None,
    nonce: str | None = None,
) -> httpx.Response:
    """A request to the rotation endpoint, signed with the app's key unless told."""
    key, own_id = credentials(app)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = appauth.sign_request(
        signer or key,
        "POST",
        PATH,
        raw,
        device_id=device_id or own_id,
        timestamp=int(time.time()),
        nonce_b64=nonce,
    )
    return httpx.post(
        f"{app._client.base_url}{PATH}",
        content=raw,
        headers={**headers, "Content-Type": "application/json"},
    )


def _rotation(
    app: DeviceApp,
    new: ec.EllipticCurvePrivateKey,
    *,
    proof_key: ec.EllipticCurvePrivateKey | None = None,
    proof_device: str | None = None,
    proof_nonce: str | None = None,
    signer: ec.EllipticCurvePrivateKey | None = None,
    device_id: str | None = None,
) -> httpx.Response:
    _, own_id = credentials(app)
    nonce = appauth.new_nonce()
    proof = prove_device_key(
        proof_key or new, proof_device or device_id or own_id, proof_nonce or nonce
    )
    body = {"publicKey": _b64(public_key_der(new.public_key())), "proof": _b64(proof)}
    return _post(app, body, signer=signer, device_id=device_id, nonce=nonce)


def _registered_key(app: DeviceApp) -> bytes:
    _, device_id = credentials(app)
    return bytes(Device.objects.get(pk=device_id).public_key)


def _rotations() -> int:
    return AuditRecord.objects.filter(action="device.key_rotated").count()


def test_rotate_the_device_key_end_to_end(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    old_key, device_id = credentials(app)

    assert app.rotate_device_key() == ["ROTATED"]

    new_key, _ = credentials(app)
    assert public_key_der(new_key.public_key()) != public_key_der(old_key.public_key())
    assert _registered_key(app) == public_key_der(new_key.public_key())
    assert app.session.state.pending_device_key is None
    record = AuditRecord.objects.get(action="device.key_rotated")
    assert record.object_id == device_id and record.actor == f"device:{device_id}"
    # The app signs with the new key from now on: it lists and approves.
    assert [a.document_number for a in app.accounts()] == [account.document_number]
    tx = auth_transaction(account)
    assert app.approve(str(tx.pk), PIN1).ok
    # A request signed with the old key is refused.
    headers = appauth.sign_request(
        old_key, "GET", "/app/v1/accounts", b"", device_id=device_id, timestamp=int(time.time())
    )
    refused = httpx.get(f"{platform.url}/app/v1/accounts", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"] == "bad_signature"


def test_a_lost_answer_is_finished_with_the_pending_key(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    new = ec.generate_private_key(ec.SECP256R1())
    # The app saved the new key as pending and sent it; the service took it; the answer
    # never arrived.
    app.session.state.pending_device_key = new
    app.session.save()
    assert _rotation(app, new).json() == {
        "status": "ROTATED",
        "keyId": appauth_key_id(new),
    }
    # The next call is refused with the old key and sent again with the pending one.
    assert [a.document_number for a in app.accounts()] == [account.document_number]
    # Running the rotation again finishes it: the service has the key already.
    assert app.rotate_device_key() == ["UNCHANGED"]
    assert credentials(app)[0].private_numbers() == new.private_numbers()
    assert app.session.state.pending_device_key is None
    assert _rotations() == 1
    assert app.approve(str(auth_transaction(account).pk), PIN1).ok


def appauth_key_id(key: ec.EllipticCurvePrivateKey) -> str:
    from signing.engine.rotation import key_id

    return key_id(public_key_der(key.public_key()))


def test_every_device_id_of_the_state_is_rotated(platform: Platform) -> None:
    app, first = platform.registered(ALICE)
    second = app.register(platform.ticket(BOB), PIN1, "12345")
    ids = {first.device.pk, Device.objects.get(account__document_number=second.document_number).pk}
    assert len(ids) == 2
    assert app.rotate_device_key() == ["ROTATED", "ROTATED"]
    new = public_key_der(credentials(app)[0].public_key())
    assert {bytes(d.public_key) for d in Device.objects.filter(pk__in=ids)} == {new}
    latest = Account.objects.get(document_number=second.document_number)
    assert app.approve(str(auth_transaction(latest).pk), PIN1).ok


@pytest.mark.parametrize(
    "case", ["no_proof", "other_key", "other_nonce", "other_device", "tampered", "empty"]
)
def test_a_wrong_proof_changes_nothing(platform: Platform, case: str) -> None:
    app, _ = platform.registered(ALICE)
    before = _registered_key(app)
    new = ec.generate_private_key(ec.SECP256R1())
    if case == "no_proof":
        response = _post(app, {"publicKey": _b64(public_key_der(new.public_key()))})
        error = "invalid_request"
    elif case == "empty":
        response = _post(app, {"publicKey": _b64(public_key_der(new.public_key())), "proof": ""})
        error = "invalid_request"
    else:
        error = "bad_proof"
        if case == "other_key":
            response = _rotation(app, new, proof_key=ec.generate_private_key(ec.SECP256R1()))
        elif case == "other_nonce":
            response = _rotation(app, new, proof_nonce=appauth.new_nonce())
        elif case == "other_device":
            response = _rotation(app, new, proof_device="00000000-0000-4000-8000-000000000000")
        else:
            _, own_id = credentials(app)
            nonce = appauth.new_nonce()
            proof = bytearray(prove_device_key(new, own_id, nonce))
            proof[-1] ^= 1
            body = {
                "publicKey": _b64(public_key_der(new.public_key())),
                "proof": _b64(bytes(proof)),
            }
            response = _post(app, body, nonce=nonce)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error and response.json()["code"] == 400
    assert _registered_key(app) == before and _rotations() == 0


def _spki(key: Any) -> bytes:
    return bytes(key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


@pytest.mark.parametrize(
    ("public_key", "error"),
    [
        # An RSA key small enough to fit the size limit: the algorithm is what is refused.
        (_spki(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "invalid_key"),  # noqa: S505
        (_spki(ec.generate_private_key(ec.SECP384R1())), "invalid_key"),
        (b"garbage", "invalid_key"),
        (b"\x30" * 300, "invalid_request"),  # longer than any P-256 SubjectPublicKeyInfo
        (_spki(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "invalid_request"),
    ],
)
def test_a_malformed_key_is_400_json(platform: Platform, public_key: bytes, error: str) -> None:
    app, _ = platform.registered(ALICE)
    before = _registered_key(app)
    body = {"publicKey": _b64(public_key), "proof": _b64(b"\x30\x06\x02\x01\x01\x02\x01\x01")}
    response = _post(app, body)
    assert response.status_code == 400 and response.json()["error"] == error, response.text
    assert _registered_key(app) == before


@pytest.mark.parametrize("body", [b"", b"[]", b"not json", b'{"publicKey": 5, "proof": []}'])
def test_a_malformed_body_is_400_json(platform: Platform, body: bytes) -> None:
    app, _ = platform.registered(ALICE)
    before = _registered_key(app)
    response = _post(app, body)
    assert response.status_code == 400 and response.json()["code"] == 400
    assert _registered_key(app) == before


def test_a_foreign_device_cannot_rotate_anothers_key(platform: Platform) -> None:
    alice, _ = platform.registered(ALICE)
    bob, _ = platform.registered(BOB)
    alice_before, bob_before = _registered_key(alice), _registered_key(bob)
    bob_key, _ = credentials(bob)
    new = ec.generate_private_key(ec.SECP256R1())
    # Bob's key cannot sign for Alice's device id.
    forged = _rotation(alice, new, signer=bob_key)
    assert forged.status_code == 401 and forged.json()["error"] == "bad_signature"
    # A proof made for Alice's device does not rotate Bob's (nor Alice's) key.
    mixed = _rotation(bob, new, proof_device=alice.device_id)
    assert mixed.status_code == 400 and mixed.json()["error"] == "bad_proof"
    assert (_registered_key(alice), _registered_key(bob)) == (alice_before, bob_before)


def test_a_key_in_use_cannot_be_taken(platform: Platform) -> None:
    alice, _ = platform.registered(ALICE)
    bob, _ = platform.registered(BOB)
    alice_key, _ = credentials(alice)
    bob_before = _registered_key(bob)
    # Even holding Alice's key (proof and all), Bob cannot make it his device's key too.
    taken = _rotation(bob, alice_key)
    assert taken.status_code == 400 and taken.json()["error"] == "key_reused"
    assert _registered_key(bob) == bob_before
    # The app drops a new key the service refused, and its own keeps working.
    with pytest.raises(ApiError) as refused:
        bob.session.state.pending_device_key = alice_key
        bob.rotate_device_key()
    assert refused.value.error == "key_reused"
    assert bob.session.state.pending_device_key is None
    assert bob.accounts()
