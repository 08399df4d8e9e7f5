"""Rotating the transport key (docs/app-api.md §9.2, docs/operations.md): an app with the
old pin follows the endorsement to the new key and signs; envelopes to the old key work
during the grace period and are refused after it with a code that makes the app fetch the
new key; an announcement the pinned key did not endorse is refused by the app; the
operator command and the per-process key ring."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from io import StringIO

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditRecord
from device.errors import ProtocolError
from signing import keys
from signing.engine import (
    TransportError,
    load_p256_public_key,
    public_key_der,
    transaction_aad,
    transport_encrypt_share,
)
from signing.engine.rotation import endorse_transport_key, key_id
from signing.models import ServiceKey
from tests.helpers.platform import Platform, auth_transaction, send_signed
from tests.personas import ALICE, BOB, PIN1

ACTOR = "test"


def _pinned(app: object) -> bytes:
    pin = app.session.state.transport_key  # type: ignore[attr-defined]
    assert pin is not None
    return bytes(pin)


def _confirm_errors(app: object) -> list[str]:
    """The ``error`` codes of the app's refused confirmations (from its recorder)."""
    return [
        r.json()["error"]
        for r in app.recorder.responses  # type: ignore[attr-defined]
        if r.request.url.path.endswith("/confirm") and r.status_code >= 400
    ]


def test_an_app_with_the_old_pin_follows_the_endorsed_key(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    old = _pinned(app)
    new = keys.transport_key_rotate(grace=timedelta(hours=1), actor=ACTOR)
    assert new.public_der != old and new.key_id == key_id(new.public_der)

    app.accounts()  # the answer names the new key id: the app fetches and checks it

    assert _pinned(app) == new.public_der
    assert app.approve(str(auth_transaction(account).pk), PIN1).ok
    record = AuditRecord.objects.get(action="transport_key.rotated")
    assert record.data["key_id"] == new.key_id and record.data["previous_key_id"] == key_id(old)
    # Two rotations later an app pinned to the first key still follows the chain.
    newest = keys.transport_key_rotate(grace=timedelta(hours=1), actor=ACTOR)
    bob, bob_account = platform.registered(BOB)
    bob.session.state.transport_key = old
    assert bob.update_transport_key() is True
    assert _pinned(bob) == newest.public_der
    assert bob.approve(str(auth_transaction(bob_account).pk), PIN1).ok


def test_envelopes_to_the_old_key_work_during_the_grace_period(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    old = _pinned(app)
    keys.transport_key_rotate(grace=timedelta(hours=1), actor=ACTOR)
    # The app has not learned the new key yet: it seals to the old one (with its kid).
    assert app.approve(str(auth_transaction(account).pk), PIN1).ok
    assert _pinned(app) == old and _confirm_errors(app) == []
    # An envelope without kid (an app of the first version) is tried against both.
    tx = auth_transaction(account)
    length = 2 * 1024 // 8
    envelope = transport_encrypt_share(12345, length, _public(old), transaction_aad(str(tx.pk)))
    assert "kid" not in envelope
    assert keys.transport_decrypt_share(envelope, transaction_aad(str(tx.pk)), length) == 12345


def _public(der: bytes) -> ec.EllipticCurvePublicKey:
    return load_p256_public_key(der)


def test_after_retirement_the_app_fetches_the_new_key(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    old = _pinned(app)
    new = keys.transport_key_rotate(grace=timedelta(hours=1), actor=ACTOR)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert keys.transport_keys_retire(actor=ACTOR) == [key_id(old)]
        retired = ServiceKey.objects.get(name="transport")
        assert bytes(retired.wrapped_private_key) == b"" and retired.retired_at is not None
        # Sealed to the old key: refused with transport_key_retired, nothing evaluated; the
        # app fetches the endorsed key and confirms again.
        assert app.approve(str(auth_transaction(account).pk), PIN1).ok
    assert _confirm_errors(app) == ["transport_key_retired"]
    assert _pinned(app) == new.public_der
    # An envelope without kid to the retired key is just a bad envelope.
    tx = auth_transaction(account)
    envelope = transport_encrypt_share(1, 256, _public(old), transaction_aad(str(tx.pk)))
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        with pytest.raises(TransportError, match="does not decrypt"):
            keys.transport_decrypt_share(envelope, transaction_aad(str(tx.pk)), 256)


def test_the_grace_period_ends_on_time_in_every_process(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    keys.transport_key_rotate(grace=timedelta(minutes=10), actor=ACTOR)
    keys.transport_key_ring()  # this process's copy, made before the grace ends
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        # Nobody ran the retirement yet: the old key is refused all the same.
        assert ServiceKey.objects.get(name="transport").retired_at is None
        assert app.approve(str(auth_transaction(account).pk), PIN1).ok
    assert _confirm_errors(app) == ["transport_key_retired"]


def test_another_processes_rotation_is_learned_from_the_kid(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    stale = keys.transport_key_ring()
    keys.transport_key_rotate(grace=timedelta(hours=1), actor=ACTOR)
    # Another node rotated: this process still holds its old copy of the ring.
    keys._ring = stale
    app.accounts()  # this process announces the key it knows ...
    assert _pinned(app) == stale.current.public_der
    assert app.update_transport_key() is False
    keys.forget_process_keys()  # ... until its copy is refreshed (KEYRING_TTL)
    assert app.update_transport_key() is True
    keys._ring = stale
    # An envelope naming the new key makes the stale process read the ring again.
    assert app.approve(str(auth_transaction(account).pk), PIN1).ok
    assert _confirm_errors(app) == []


def test_a_forged_announcement_is_refused_and_the_pin_kept(platform: Platform) -> None:
    app, account = platform.registered(ALICE)
    old = _pinned(app)
    # Someone who can write the database but does not hold the pinned private key.
    intruder = ec.generate_private_key(ec.SECP256R1())
    forged = ec.generate_private_key(ec.SECP256R1())
    forged_der = public_key_der(forged.public_key())
    ServiceKey.objects.create(
        name=f"transport.{key_id(forged_der)}",
        public_key=forged_der,
        wrapped_private_key=b"x",
        endorsement=endorse_transport_key(intruder, forged_der),
    )
    keys.forget_process_keys()
    with pytest.raises(ProtocolError, match="not endorsed"):
        app.update_transport_key()
    with pytest.raises(ProtocolError, match="not endorsed"):
        app.accounts()
    assert _pinned(app) == old


def test_the_announcement_endpoint(platform: Platform) -> None:
    app, _ = platform.registered(ALICE)
    first = _pinned(app)
    new = keys.transport_key_rotate(grace=timedelta(hours=1), actor=ACTOR)
    body = send_signed(app, "GET", "/app/v1/transport-key").json()
    assert body["keyId"] == new.key_id
    assert base64.b64decode(body["publicKey"]) == new.public_der
    assert [base64.b64decode(k["publicKey"]) for k in body["chain"]] == [first, new.public_der]
    assert body["chain"][0]["endorsement"] is None
    # Unsigned: 401 JSON.
    unsigned = httpx.get(f"{platform.url}/app/v1/transport-key")
    assert unsigned.status_code == 401 and unsigned.json()["code"] == 401


@pytest.mark.parametrize(
    ("kid", "error"), [("0" * 16, "transport_key_retired"), ("zz", "bad_envelope")]
)
def test_a_confirmation_to_an_unknown_key_changes_nothing(
    platform: Platform, kid: str, error: str
) -> None:
    app, account = platform.registered(ALICE)
    tx = auth_transaction(account)
    key = account.keys.get(purpose="AUTH", state="ACTIVE")
    before = bytes(key.token_hash)
    envelope = transport_encrypt_share(
        1, 256, _public(_pinned(app)), transaction_aad(str(tx.pk))
    ) | {"kid": kid}
    body = {
        "interaction": "displayTextAndPIN",
        "s1p": envelope,
        "token": base64.b64encode(b"t" * 16).decode(),
        "rnonce": base64.b64encode(b"r" * 16).decode(),
    }
    answer = send_signed(
        app, "POST", f"/app/v1/transactions/{tx.pk}/confirm", json.dumps(body).encode()
    )
    assert answer.status_code == 400 and answer.json()["error"] == error, answer.text
    tx.refresh_from_db()
    key.refresh_from_db()
    assert tx.state == "PENDING" and bytes(key.token_hash) == before


def test_the_operator_command(platform: Platform) -> None:
    first = keys.transport_key_ring().current
    out = StringIO()
    call_command("rotate_transport_key", "--grace-hours", "0.5", stdout=out)
    current = keys.transport_key_ring(reload=True).current
    assert current.key_id != first.key_id
    assert f"new transport key {current.key_id}, endorsed by {first.key_id}" in out.getvalue()
    out = StringIO()
    call_command("rotate_transport_key", "--retire", stdout=out)
    assert "no transport key is due" in out.getvalue()
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        out = StringIO()
        call_command("rotate_transport_key", "--retire", stdout=out)
    assert out.getvalue().strip() == f"retired transport key {first.key_id}"
    assert AuditRecord.objects.filter(action="transport_key.retired").count() == 1
