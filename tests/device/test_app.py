"""DeviceApp against the fake App API server: registration, transactions, keys."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import gmpy2
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from device import (
    ApiError,
    DeviceApp,
    InputError,
    MemoryStore,
    NetworkError,
    ProtocolError,
    RegistrationResult,
    StateError,
)
from signing.engine import verification_code
from tests.device.fakeserver import FakeServer, build_tbs
from tests.helpers.device import BASE_URL, make_app
from tests.personas import ALICE, PIN1, PIN2

Registered = tuple[DeviceApp, RegistrationResult]


def _stored_token(app: DeviceApp, number: str, purpose: str) -> bytes:
    token = app.local_accounts()[0].keys[purpose].token
    assert token is not None and app.local_accounts()[0].document_number == number
    return token


# --- registration ------------------------------------------------------------------------


def test_registration_end_to_end(app: DeviceApp, server: FakeServer) -> None:
    messages: list[str] = []
    result = app.register(server.add_ticket(), PIN1, PIN2, progress=messages.append)
    assert result.state == "ACTIVE" and result.level == "QUALIFIED"
    assert result.person["surname"] == ALICE.surname
    account = server.accounts[result.document_number]
    assert account.state == "ACTIVE" and app.device_id == account.device_id
    for purpose in ("AUTH", "SIGN"):
        key = account.keys[purpose]
        # The certificate is for the composite key, and the app holds the current token.
        certificate = x509.load_der_x509_certificate(result.certificates[purpose])
        public = certificate.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.public_numbers().n == key.composite.n
        assert server.token_is_current(
            result.document_number, purpose, _stored_token(app, result.document_number, purpose)
        )
        local = app.local_accounts()[0].keys[purpose]
        assert local.state == "ACTIVE" and local.n == key.composite.n and local.pending is None
    assert any("generating the RSA key" in m for m in messages) and messages[-1] == "done"
    # Every call after the ticket was signed by the device key (the fake verifies them).
    signed = [r for r in server.requests if r.url.path != "/app/v1/registrations"]
    assert signed and all("X-Signature" in r.headers for r in signed)
    assert "X-Signature" not in server.requests[0].headers


def test_certificates_issued_later_are_awaited_on_the_long_poll(
    app: DeviceApp, server: FakeServer
) -> None:
    """A worker issues the certificates: §2.4 answers without them, §2.5 says "not yet"
    twice, then brings both; the app checks and keeps them.
    """
    server.queued_issuance, server.not_ready_polls = True, 2
    messages: list[str] = []
    result = app.register(server.add_ticket(), PIN1, PIN2, progress=messages.append)
    assert result.state == "ACTIVE"
    polls = [r for r in server.requests if r.url.path.endswith("/certificates")]
    assert len(polls) == 3 and all("X-Signature" in r.headers for r in polls)
    assert all(0 < int(r.url.params["timeoutMs"]) <= 30_000 for r in polls)
    account = server.accounts[result.document_number]
    local = app.local_accounts()[0]
    assert local.state == "ACTIVE"
    for purpose in ("AUTH", "SIGN"):
        assert result.certificates[purpose] == account.keys[purpose].certificate
        assert local.keys[purpose].state == "ACTIVE"
        assert local.keys[purpose].certificate == result.certificates[purpose]
    assert "waiting for the AUTH/SIGN certificate" in messages


def test_a_certificate_for_another_key_from_the_long_poll_is_refused(
    app: DeviceApp, server: FakeServer
) -> None:
    server.queued_issuance = True

    def swap(answer: dict[str, Any]) -> dict[str, Any]:
        certificates = answer.get("certificates", {})
        if "AUTH" in certificates:
            certificates["AUTH"], certificates["SIGN"] = certificates["SIGN"], certificates["AUTH"]
        return answer

    server.tamper["/certificates"] = swap
    with pytest.raises(ProtocolError):
        app.register(server.add_ticket(), PIN1, PIN2)
    assert all(k.certificate is None for k in app.local_accounts()[0].keys.values())


def test_a_refused_issuance_fails_the_registration(app: DeviceApp, server: FakeServer) -> None:
    server.queued_issuance, server.refuse_issuance = True, True
    with pytest.raises(ProtocolError, match="could not issue the certificates"):
        app.register(server.add_ticket(), PIN1, PIN2)
    assert app.local_accounts()[0].state == "REVOKED"


def test_the_app_stops_waiting_for_certificates_after_its_deadline(
    client: httpx.Client, server: FakeServer
) -> None:
    server.queued_issuance, server.not_ready_polls = True, 1000
    app = make_app(client, certificate_wait=0.5)
    with pytest.raises(ProtocolError, match="has not issued the AUTH/SIGN certificate"):
        app.register(server.add_ticket(), PIN1, PIN2)
    polls = [r for r in server.requests if r.url.path.endswith("/certificates")]
    assert polls and all(int(r.url.params["timeoutMs"]) <= 500 for r in polls)
    assert app.local_accounts()[0].state == "PENDING"


def test_the_state_never_holds_secret_key_material(
    client: httpx.Client, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant 6: the app keeps none of p1, q1, d1, λ(n1), d1″."""
    generated: list[rsa.RSAPrivateNumbers] = []
    original = rsa.generate_private_key

    def recording(public_exponent: int, key_size: int) -> rsa.RSAPrivateKey:
        key = original(public_exponent, key_size)
        generated.append(key.private_numbers())
        return key

    monkeypatch.setattr(rsa, "generate_private_key", recording)
    store = MemoryStore()
    result = make_app(client, store).register(server.add_ticket(), PIN1, PIN2)
    raw = store.raw
    assert raw is not None
    text = raw.decode()
    assert len(generated) == 2
    secrets_seen = []
    for numbers, purpose in zip(generated, ("AUTH", "SIGN"), strict=True):
        lam = int(gmpy2.lcm(numbers.p - 1, numbers.q - 1))
        d1 = int(gmpy2.invert(65537, lam))
        d1pp = server.accounts[result.document_number].keys[purpose].d1pp
        assert d1pp is not None
        secrets_seen += [numbers.p, numbers.q, lam, d1, numbers.d, d1pp]
    for value in secrets_seen:
        size = (value.bit_length() + 7) // 8
        for form in (
            format(value, "x"),
            format(value, "X"),
            str(value),
            base64.b64encode(value.to_bytes(size, "big")).decode(),
            base64.b64encode(value.to_bytes(128, "big")).decode(),
        ):
            assert form not in text
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            names.update(node)
            for child in node.values():
                walk(child)

    walk(json.loads(text))
    # ("p" is scrypt's parallelism in the KDF parameters, not a prime.)
    assert not names & {"d1pp", "d1", "q", "p1", "q1", "lambda", "d", "s1pp", "pin"}
    keys = json.loads(text)["accounts"][result.document_number]["keys"]["AUTH"]
    assert set(keys) == {"purpose", "blob", "n", "token", "certificate", "state", "pending"}


@pytest.mark.parametrize(
    ("pin1", "pin2"),
    [("123", PIN2), ("1234567890123", PIN2), ("12a4", PIN2), (PIN1, "1234"), (PIN1, "")],
)
def test_bad_pins_are_refused_before_anything_is_sent(
    app: DeviceApp, server: FakeServer, pin1: str, pin2: str
) -> None:
    with pytest.raises(InputError, match="PIN"):
        app.register(server.add_ticket(), pin1, pin2)
    assert server.requests == []


def test_ticket_errors(app: DeviceApp, server: FakeServer) -> None:
    ticket = server.add_ticket()
    app.register(ticket, PIN1, PIN2)
    with pytest.raises(ApiError) as info:
        make_app(app._client).register(ticket, PIN1, PIN2)
    assert info.value.status == 400 and info.value.error == "ticket_used"
    with pytest.raises(ApiError, match="ticket_invalid"):
        make_app(app._client).register("NOPE", PIN1, PIN2)
    with pytest.raises(InputError):
        make_app(app._client).register("", PIN1, PIN2)


def test_the_key_size_floor(client: httpx.Client, server: FakeServer) -> None:
    with pytest.raises(ProtocolError, match="1024-bit"):
        DeviceApp(client).register(server.add_ticket(), PIN1, PIN2)  # default floor 3072
    with pytest.raises(InputError):
        DeviceApp(client, min_key_bits=512)


def _tamper_csr(server: FakeServer, mutate: Any) -> None:
    def hook(answer: dict[str, Any]) -> dict[str, Any]:
        if "keys" in answer:
            mutate(answer["keys"]["AUTH"]["csr"])
        return answer

    server.tamper["/shares"] = hook


def test_a_csr_for_another_key_is_not_signed(app: DeviceApp, server: FakeServer) -> None:
    other = rsa.generate_private_key(65537, 2048).public_key().public_numbers().n

    def swap(csr: dict[str, Any]) -> None:
        import hashlib

        tbs = build_tbs(other, "someone else")
        csr["tbs"] = base64.b64encode(tbs).decode()
        csr["hash"] = base64.b64encode(hashlib.sha256(tbs).digest()).decode()

    _tamper_csr(server, swap)
    with pytest.raises(ProtocolError, match="not for this device's key"):
        app.register(server.add_ticket(), PIN1, PIN2)
    assert not any(r.url.path.endswith("csr-signature") for r in server.requests)


def test_a_csr_hash_that_is_not_sha256_of_tbs_is_not_signed(
    app: DeviceApp, server: FakeServer
) -> None:
    def wrong_hash(csr: dict[str, Any]) -> None:
        csr["hash"] = base64.b64encode(b"\x00" * 32).decode()

    _tamper_csr(server, wrong_hash)
    with pytest.raises(ProtocolError, match="SHA-256"):
        app.register(server.add_ticket(), PIN1, PIN2)


def test_a_composite_without_our_n1_is_refused(app: DeviceApp, server: FakeServer) -> None:
    def other_n(answer: dict[str, Any]) -> dict[str, Any]:
        if "keys" in answer:
            n = rsa.generate_private_key(65537, 2048).public_key().public_numbers().n
            answer["keys"]["SIGN"]["n"] = base64.b64encode(n.to_bytes(256, "big")).decode()
        return answer

    server.tamper["/keys"] = other_n
    with pytest.raises(ProtocolError, match="composite"):
        app.register(server.add_ticket(), PIN1, PIN2)


def test_a_non_canonical_token_is_refused(app: DeviceApp, server: FakeServer) -> None:
    # 16 zero bytes spelled with non-zero padding bits: lenient decoders take it.
    def respell(answer: dict[str, Any]) -> dict[str, Any]:
        if "keys" in answer:
            answer["keys"]["AUTH"]["token"] = "A" * 21 + "B=="
        return answer

    server.tamper["/keys"] = respell
    with pytest.raises(ProtocolError, match="canonical"):
        app.register(server.add_ticket(), PIN1, PIN2)


def test_the_transport_key_is_pinned(registered: Registered, server: FakeServer) -> None:
    app, _ = registered
    from cryptography.hazmat.primitives.asymmetric import ec

    server.transport_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ProtocolError, match="transport key changed"):
        app.register(server.add_ticket(), PIN1, PIN2)


def test_a_state_belongs_to_one_server(registered: Registered, server: FakeServer) -> None:
    app, _ = registered
    with httpx.Client(transport=server.transport(), base_url="http://127.0.0.2:8000") as other:
        moved = DeviceApp(other, app._store, min_key_bits=1024)
        with pytest.raises(StateError, match="belongs to"):
            moved.register(server.add_ticket(), PIN1, PIN2)


# --- transactions ------------------------------------------------------------------------


def test_authentication(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    tx = server.create_transaction(result.document_number, "AUTH")
    (pending,) = app.pending(0)
    assert pending.id == tx.id and pending.rp_name == "DEMO" and pending.kind == "AUTHENTICATION"
    assert pending.verification_code == verification_code(tx.digest)
    assert pending.interaction is not None and pending.interaction.text == "Log in"
    outcome = app.approve(pending, PIN1)
    assert outcome.ok and tx.state == "COMPLETE" and tx.signature is not None
    assert server.token_is_current(
        result.document_number, "AUTH", _stored_token(app, result.document_number, "AUTH")
    )
    assert app.pending(0) == []


@pytest.mark.parametrize("hash_type", ["SHA256", "SHA384", "SHA512"])
@pytest.mark.parametrize("padding", ["PKCS1v15", "PSS"])
def test_signature_hashes_and_paddings(
    registered: Registered, server: FakeServer, hash_type: str, padding: str
) -> None:
    """The fake verifies each signature with cryptography (PSS with the server's salt)."""
    app, result = registered
    tx = server.create_transaction(
        result.document_number, "SIGN", kind="SIGNATURE", hash_type=hash_type, padding=padding
    )
    assert app.approve(tx.id, PIN2).ok and tx.signature is not None


def test_verification_code_choice(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    choice = [{"type": "verificationCodeChoice", "displayText60": "Pick"}]
    tx = server.create_transaction(result.document_number, "AUTH", interactions=choice)
    assert app.transaction(tx.id).needs_vc_choice
    assert app.approve(tx.id, PIN1).ok  # the library picks the code it computed

    tx = server.create_transaction(result.document_number, "AUTH", interactions=choice)
    correct = verification_code(tx.digest)
    assert tx.vc_choices is not None
    wrong = next(c for c in tx.vc_choices if c != correct)
    assert app.approve(tx.id, PIN1, vc=wrong).status == "WRONG_VC"
    body = json.loads(server.requests[-1].content)
    assert body["vc"] == wrong and body["interaction"] == "verificationCodeChoice"

    tx = server.create_transaction(result.document_number, "AUTH", interactions=choice)
    tx.vc_choices = [
        c for c in ("0000", "0001", "0002", "0003") if c != verification_code(tx.digest)
    ][:3]
    with pytest.raises(ProtocolError, match="offered codes"):
        app.approve(tx.id, PIN1)
    tx = server.create_transaction(result.document_number, "AUTH", interactions=choice)
    with pytest.raises(InputError):
        app.approve(tx.id, PIN1, vc="12")


def test_the_first_supported_interaction_is_used(
    registered: Registered, server: FakeServer
) -> None:
    app, result = registered
    interactions = [
        {"type": "futureInteraction", "displayText60": "?"},
        {"type": "confirmationMessage", "displayText200": "Pay 10 EUR?"},
        {"type": "displayTextAndPIN", "displayText60": "Pay"},
    ]
    tx = server.create_transaction(result.document_number, "SIGN", interactions=interactions)
    parsed = app.transaction(tx.id)
    assert parsed.interaction is not None and parsed.interaction.text == "Pay 10 EUR?"
    assert app.approve(parsed, PIN2).ok
    assert json.loads(server.requests[-1].content)["interaction"] == "confirmationMessage"
    tx = server.create_transaction(
        result.document_number, "AUTH", interactions=[{"type": "futureInteraction"}]
    )
    with pytest.raises(ProtocolError, match="no interaction"):
        app.approve(tx.id, PIN1)


def test_wrong_pin_then_right_pin(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    tx = server.create_transaction(result.document_number, "AUTH")
    outcome = app.approve(tx.id, "9999")
    assert outcome.status == "WRONG_PIN" and outcome.tries_left == 8 and tx.state == "COMPLETE"
    # The valid token was rotated on the wrong PIN and the app kept the new one.
    assert server.token_is_current(
        result.document_number, "AUTH", _stored_token(app, result.document_number, "AUTH")
    )
    tx = server.create_transaction(result.document_number, "AUTH")
    assert app.approve(tx.id, PIN1).ok
    with pytest.raises(InputError, match="PIN1"):
        app.approve(server.create_transaction(result.document_number, "AUTH").id, "1")
    with pytest.raises(InputError, match="PIN2"):
        app.approve(server.create_transaction(result.document_number, "SIGN").id, "1234")


def test_three_wrong_pins_lock(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    for _ in range(3):
        app.approve(server.create_transaction(result.document_number, "AUTH").id, "9999")
    outcome = app.approve(server.create_transaction(result.document_number, "AUTH").id, PIN1)
    assert outcome.status == "LOCKED" and outcome.locked_until is not None
    (status,) = app.accounts()
    assert status.keys["AUTH"].state == "LOCKED" and status.keys["AUTH"].tries_left == 6
    assert status.keys["SIGN"].state == "ACTIVE"


def test_a_lost_answer_is_retried_once_with_the_same_body(
    registered: Registered, server: FakeServer
) -> None:
    app, result = registered
    tx = server.create_transaction(result.document_number, "AUTH")
    server.lose_answers["/confirm"] = 1
    assert app.approve(tx.id, PIN1).ok
    confirms = [r for r in server.requests if r.url.path.endswith("/confirm")]
    assert len(confirms) == 2 and confirms[0].content == confirms[1].content
    assert confirms[0].headers["X-Nonce"] != confirms[1].headers["X-Nonce"]
    assert server.token_is_current(
        result.document_number, "AUTH", _stored_token(app, result.document_number, "AUTH")
    )
    assert app.approve(server.create_transaction(result.document_number, "AUTH").id, PIN1).ok


def test_an_answer_lost_twice_is_fetched_before_the_next_use(
    registered: Registered, server: FakeServer
) -> None:
    """Without the recorded request the next signature would carry a stale token: CLONE."""
    app, result = registered
    number = result.document_number
    tx = server.create_transaction(number, "AUTH")
    server.lose_answers["/confirm"] = 2
    with pytest.raises(NetworkError):
        app.approve(tx.id, PIN1)
    assert tx.state == "COMPLETE"  # the service did sign
    assert app.local_accounts()[0].keys["AUTH"].pending is not None
    assert not server.token_is_current(number, "AUTH", _stored_token(app, number, "AUTH"))
    # A fresh app over the same state (e.g. the next CLI run) recovers first.
    again = make_app(app._client, app._store)
    assert again.approve(server.create_transaction(number, "AUTH").id, PIN1).ok
    assert again.local_accounts()[0].keys["AUTH"].pending is None
    assert server.accounts[number].state == "ACTIVE"


def test_two_copies_of_the_app_are_a_clone(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    copy = MemoryStore()
    copy.save(app._store.load())
    twin = make_app(app._client, copy)
    assert app.approve(server.create_transaction(result.document_number, "AUTH").id, PIN1).ok
    tx = server.create_transaction(result.document_number, "AUTH")
    assert twin.approve(tx.id, PIN1).status == "CLONE_DETECTED"
    assert twin.local_accounts()[0].keys["AUTH"].state == "REVOKED"
    assert twin.local_accounts()[0].state == "CLOSED"


def test_concurrent_approvals_on_one_device_never_reuse_a_token(
    registered: Registered, server: FakeServer
) -> None:
    app, result = registered
    txs = [server.create_transaction(result.document_number, "AUTH") for _ in range(6)]
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda t=t: outcomes.append(app.approve(t.id, PIN1).status))
        for t in txs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == ["OK"] * 6


def test_many_virtual_devices_in_one_process(client: httpx.Client, server: FakeServer) -> None:
    apps = [make_app(client) for _ in range(3)]
    results = [a.register(server.add_ticket(), PIN1, PIN2) for a in apps]
    assert len({a.device_id for a in apps}) == 3
    for a, r in zip(apps, results, strict=True):
        assert a.approve(server.create_transaction(r.document_number, "SIGN").id, PIN2).ok
    # A device sees only its own transactions: another device's id is 404.
    foreign = server.create_transaction(results[0].document_number, "AUTH")
    with pytest.raises(ApiError) as info:
        apps[1].transaction(foreign.id)
    assert info.value.status == 404
    assert [t.id for t in apps[0].pending(0)] == [foreign.id]


def test_refuse(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    tx = server.create_transaction(result.document_number, "AUTH")
    assert app.refuse(tx.id) == "REFUSED" and tx.state == "REFUSED"
    assert json.loads(server.requests[-1].content) == {"interaction": "displayTextAndPIN"}
    with pytest.raises(ApiError, match="transaction_finished"):
        app.refuse(tx.id)


def test_certificate_choice_needs_no_pin(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    tx = server.create_transaction(result.document_number, "AUTH", kind="CERTIFICATE_CHOICE")
    parsed = app.transaction(tx.id)
    assert parsed.hash is None and parsed.verification_code is None
    assert app.approve(parsed).ok and tx.state == "COMPLETE"
    assert json.loads(server.requests[-1].content) == {"interaction": "certificateChoice"}


def test_finished_transactions(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    tx = server.create_transaction(result.document_number, "AUTH")
    parsed = app.transaction(tx.id)
    app.approve(parsed, PIN1)
    with pytest.raises(InputError, match="COMPLETE"):
        app.approve(tx.id, PIN1)
    with pytest.raises(ApiError) as info:
        app.approve(parsed, PIN1)  # a stale copy: the service says it is over
    assert info.value.status == 409 and info.value.error == "transaction_finished"
    assert app.local_accounts()[0].keys["AUTH"].pending is None


@pytest.mark.parametrize("bad", ["../accounts", "ABC", "6F1C1D2E-3A4B-4C5D-8E9F-0A1B2C3D4E5F", ""])
def test_transaction_ids_are_uuids(registered: Registered, bad: str) -> None:
    app, _ = registered
    with pytest.raises(InputError):
        app.transaction(bad)


def test_a_transaction_for_another_key_is_refused(
    registered: Registered, server: FakeServer
) -> None:
    app, result = registered
    tx = server.create_transaction(result.document_number, "AUTH")

    def other_n(answer: dict[str, Any]) -> dict[str, Any]:
        answer["n"] = base64.b64encode(b"\x01" * 256).decode()
        return answer

    server.tamper[tx.id] = other_n
    with pytest.raises(ProtocolError, match="another key"):
        app.approve(tx.id, PIN1)


def test_malformed_answers(registered: Registered, server: FakeServer) -> None:
    app, _ = registered
    for broken in ({"transactions": "x"}, {"transactions": [{"id": "x"}]}, {}):
        server.tamper["/pending"] = lambda _answer, b=broken: b
        with pytest.raises(ProtocolError):
            app.pending(0)
    with pytest.raises(InputError):
        app.pending(120_001)


def test_requests_are_signed_with_the_device_clock(
    registered: Registered, server: FakeServer
) -> None:
    app, _ = registered
    late = make_app(app._client, app._store, clock=lambda: time.time() - 3600)
    with pytest.raises(ApiError) as info:
        late.pending(0)
    assert info.value.status == 401 and info.value.error == "stale_request"


def test_refresh(registered: Registered, server: FakeServer) -> None:
    app, result = registered
    number = result.document_number
    before = _stored_token(app, number, "SIGN")
    assert app.refresh(number, "SIGN") == "OK"
    after = _stored_token(app, number, "SIGN")
    assert after != before and server.token_is_current(number, "SIGN", after)
    with pytest.raises(InputError):
        app.refresh(number, "OTHER")
    with pytest.raises(InputError):
        app.refresh("PNOEE-0-NOPE-Q", "AUTH")


def test_network_errors_are_device_errors(registered: Registered) -> None:
    app, _ = registered

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(down), base_url=BASE_URL) as dead:
        offline = make_app(dead, app._store)
        with pytest.raises(NetworkError, match="cannot reach"):
            offline.accounts()


def test_unregistered_device(app: DeviceApp) -> None:
    with pytest.raises(StateError):
        app.pending(0)
    with pytest.raises(InputError):
        app.refresh("PNOEE-1-A-Q", "AUTH")
