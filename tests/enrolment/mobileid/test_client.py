"""The Mobile-ID client against a scripted service (httpx.MockTransport): every answer a
stranger could send is either a verified identity or a MobileIdError with a clear code."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from enrolment.mobileid import MobileIdError, MobileIdSession, verification_code
from enrolment.mobileid.client import MAX_RESPONSE_BYTES, personal_code_valid
from tests.enrolment.mobileid.helpers import (
    ALICE_CODE,
    ALICE_PHONE,
    RP_NAME,
    RP_UUID,
    FakeMid,
    json_status,
    ok,
    subscriber,
)
from tests.personas import BOB

ROOT = Path(__file__).resolve().parents[3]


def _authenticate(fake: FakeMid, **client_options: object) -> object:
    client = fake.client(**client_options)
    session = client.authentication_start(
        phone_number=ALICE_PHONE, national_identity_number=ALICE_CODE
    )
    return client.authentication_finish(session)


def _code_of(fake: FakeMid, **client_options: object) -> str:
    with pytest.raises(MobileIdError) as caught:
        _authenticate(fake, **client_options)
    return caught.value.code


# --- verification code and input rules ---------------------------------------------------


def test_verification_code_matches_sks_worked_example() -> None:
    # MID REST §2.4.1: hash 2f665f…8cb6 → 6 bits 001011 and 7 bits 0110110 → 1462.
    digest = bytes.fromhex("2f665f6a6999e0ef0752e00ec9f453adf59d8cb6")
    assert verification_code(digest) == "1462"


def test_verification_code_covers_its_whole_range() -> None:
    assert verification_code(b"\x00" + b"\x00" * 30 + b"\x80") == "0000"
    assert verification_code(b"\xff" + b"\x00" * 30 + b"\x7f") == "8191"
    with pytest.raises(MobileIdError):
        verification_code(b"")


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("60001019906", True),  # SK's demo person
        ("38001085718", True),
        ("60001019907", False),  # wrong check digit
        ("6000101990", False),
        ("6000101990a", False),
        ("90001019906", False),  # no century digit 9
    ],
)
def test_personal_code_checksum(code: str, valid: bool) -> None:
    assert personal_code_valid(code) is valid


@pytest.mark.parametrize(
    "kwargs",
    [
        {"phone_number": "5550001"},
        {"phone_number": "+3725550001\n"},
        {"phone_number": "+0372555000"},
        {"national_identity_number": "49001010013"},
        {"language": "FIN"},
        {"display_text": "x" * 41},
        {"display_text": "Ühendus"[:1] + "Š" * 20},  # UCS-2: at most 20
        {"display_text": ""},
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(kwargs: dict[str, str]) -> None:
    fake = FakeMid(statuses=[json_status({"state": "RUNNING"})])
    client = fake.client()
    arguments: dict[str, Any] = {
        "phone_number": ALICE_PHONE,
        "national_identity_number": ALICE_CODE,
        **kwargs,
    }
    with pytest.raises(MobileIdError) as caught:
        client.authentication_start(**arguments)
    assert caught.value.code == "invalid_input"
    assert fake.requests == []


def test_start_request_speaks_the_mid_rest_wire_format() -> None:
    fake = FakeMid(statuses=[json_status({"state": "RUNNING"})])
    session = fake.client().authentication_start(
        phone_number=ALICE_PHONE,
        national_identity_number=ALICE_CODE,
        language="EST",
        display_text="Open eID registreerimine",
    )
    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == "https://mid.test/mid-api/authentication"
    body = json.loads(request.content)
    assert body == {
        "relyingPartyUUID": RP_UUID,
        "relyingPartyName": RP_NAME,
        "phoneNumber": ALICE_PHONE,
        "nationalIdentityNumber": ALICE_CODE,
        "hash": base64.b64encode(session.hash).decode(),
        "hashType": "SHA256",
        "language": "EST",
        "displayText": "Open eID registreerimine",
        "displayTextFormat": "GSM-7",
    }
    assert len(session.hash) == 32
    assert session.session_id == "sess-1"
    assert session.verification_code == verification_code(session.hash)


def test_non_gsm_display_text_is_sent_as_ucs2() -> None:
    fake = FakeMid(statuses=[json_status({"state": "RUNNING"})])
    fake.client().authentication_start(
        phone_number=ALICE_PHONE, national_identity_number=ALICE_CODE, display_text="Šõõ Вход"
    )
    assert json.loads(fake.requests[0].content)["displayTextFormat"] == "UCS-2"


# --- success -------------------------------------------------------------------------


def test_ec_p256_authentication_yields_the_certificates_identity() -> None:
    alice = subscriber()
    fake = FakeMid(statuses=[json_status({"state": "RUNNING"}), ok(alice)])
    identity = _authenticate(fake)
    assert identity.semantics_identifier == f"PNOEE-{ALICE_CODE}"  # type: ignore[attr-defined]
    assert identity.given_name == "ALICE"  # type: ignore[attr-defined]
    assert identity.surname == "TAMM"  # type: ignore[attr-defined]
    assert identity.country == "EE"  # type: ignore[attr-defined]
    assert identity.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")  # type: ignore[attr-defined]
    polls = [r for r in fake.requests if r.method == "GET"]
    assert len(polls) == 2
    assert polls[0].url.path == "/mid-api/authentication/session/sess-1"
    assert polls[0].url.params["timeoutMs"] == "1000"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), id="p384"),
        pytest.param(lambda: rsa.generate_private_key(65537, 2048), id="rsa2048"),
    ],
)
def test_p384_and_rsa_signatures_verify(key: object) -> None:
    sub = subscriber(key=key())  # type: ignore[operator]
    fake = FakeMid(statuses=[ok(sub)])
    assert _authenticate(fake).semantics_identifier == f"PNOEE-{ALICE_CODE}"  # type: ignore[attr-defined]


def test_older_certificates_with_a_bare_personal_code_are_qualified_by_country() -> None:
    fake = FakeMid(statuses=[ok(subscriber(identity=ALICE_CODE))])
    assert _authenticate(fake).semantics_identifier == f"PNOEE-{ALICE_CODE}"  # type: ignore[attr-defined]


# --- the service's own failure results -------------------------------------------------


@pytest.mark.parametrize(
    ("result", "code"),
    [
        ("NOT_MID_CLIENT", "not_mid_client"),
        ("USER_CANCELLED", "user_cancelled"),
        ("TIMEOUT", "timeout"),
        ("PHONE_ABSENT", "phone_absent"),
        ("DELIVERY_ERROR", "delivery_error"),
        ("SIM_ERROR", "sim_error"),
        ("SIGNATURE_HASH_MISMATCH", "hash_mismatch"),
        ("SOMETHING_NEW", "malformed_response"),
    ],
)
def test_each_result_maps_to_its_error(result: str, code: str) -> None:
    fake = FakeMid(statuses=[json_status({"state": "COMPLETE", "result": result})])
    assert _code_of(fake) == code


# --- answers that claim success but prove nothing -------------------------------------


def test_signature_over_another_hash_is_refused() -> None:
    alice = subscriber()
    fake = FakeMid(statuses=[lambda digest: ok(alice)(bytes(32))])
    assert _code_of(fake) == "signature_invalid"


def test_tampered_or_truncated_signature_is_refused() -> None:
    alice = subscriber()

    def flipped(digest: bytes) -> httpx.Response:
        response = ok(alice)(digest)
        document = json.loads(response.content)
        raw = bytearray(base64.b64decode(document["signature"]["value"]))
        raw[-1] ^= 1
        document["signature"]["value"] = base64.b64encode(bytes(raw)).decode()
        return httpx.Response(200, json=document)

    assert _code_of(FakeMid(statuses=[flipped])) == "signature_invalid"
    truncated = ok(alice, signature={"value": "AAAA", "algorithm": "SHA256WithECEncryption"})
    assert _code_of(FakeMid(statuses=[truncated])) == "signature_invalid"


def test_signature_algorithm_must_fit_the_key() -> None:
    alice = subscriber()

    def as_rsa(digest: bytes) -> httpx.Response:
        document = json.loads(ok(alice)(digest).content)
        document["signature"]["algorithm"] = "SHA256WithRSAEncryption"
        return httpx.Response(200, json=document)

    assert _code_of(FakeMid(statuses=[as_rsa])) == "signature_invalid"


def test_certificate_from_a_foreign_ca_with_the_same_name_is_refused() -> None:
    fake = FakeMid(statuses=[ok(subscriber(issuer="foreign"))])
    assert _code_of(fake) == "certificate_untrusted"


def test_expired_and_not_yet_valid_certificates_are_refused() -> None:
    now = datetime.now(UTC)
    expired = subscriber(not_before=now - timedelta(days=400), not_after=now - timedelta(days=1))
    assert _code_of(FakeMid(statuses=[ok(expired)])) == "certificate_expired"
    future = subscriber(not_before=now + timedelta(days=1), not_after=now + timedelta(days=400))
    assert _code_of(FakeMid(statuses=[ok(future)])) == "certificate_expired"


def test_a_valid_certificate_expires_with_the_clock() -> None:
    alice = subscriber()
    assert _authenticate(FakeMid(statuses=[ok(alice)]))
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=False):
        assert _code_of(FakeMid(statuses=[ok(alice)])) == "certificate_expired"


def test_certificates_not_meant_for_authentication_are_refused() -> None:
    no_signature = subscriber(digital_signature=False)
    assert _code_of(FakeMid(statuses=[ok(no_signature)])) == "certificate_untrusted"
    a_ca = subscriber(leaf_is_ca=True)
    assert _code_of(FakeMid(statuses=[ok(a_ca)])) == "certificate_untrusted"


def test_certificate_of_another_person_is_refused() -> None:
    bob = subscriber(identity=BOB.semantics_identifier)
    assert _code_of(FakeMid(statuses=[ok(bob)])) == "identity_mismatch"


def test_a_session_without_the_asked_identity_skips_only_that_check() -> None:
    alice = subscriber()
    fake = FakeMid(statuses=[ok(alice)])
    client = fake.client()
    started = client.authentication_start(
        phone_number=ALICE_PHONE, national_identity_number=ALICE_CODE
    )
    bare = MobileIdSession(started.session_id, started.verification_code, started.hash)
    assert client.authentication_finish(bare).given_name == "ALICE"


# --- malformed answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([], id="array"),
        pytest.param({"state": 1}, id="state-int"),
        pytest.param({"state": "DONE"}, id="state-unknown"),
        pytest.param({"state": "COMPLETE"}, id="no-result"),
        pytest.param({"state": "COMPLETE", "result": ["OK"]}, id="result-list"),
        pytest.param({"state": "COMPLETE", "result": "OK"}, id="ok-without-signature"),
        pytest.param(
            {"state": "COMPLETE", "result": "OK", "signature": "abc", "cert": "abc"},
            id="signature-string",
        ),
        pytest.param(
            {
                "state": "COMPLETE",
                "result": "OK",
                "signature": {"value": "!!", "algorithm": "SHA256WithECEncryption"},
                "cert": "AAAA",
            },
            id="signature-not-base64",
        ),
        pytest.param(
            {
                "state": "COMPLETE",
                "result": "OK",
                "signature": {"value": "AAAA", "algorithm": "SHA256WithECEncryption"},
                "cert": 12,
            },
            id="cert-int",
        ),
        pytest.param(
            {
                "state": "COMPLETE",
                "result": "OK",
                "signature": {"value": "AAAA", "algorithm": "SHA256WithECEncryption"},
                "cert": "AAAA",
            },
            id="cert-not-x509",
        ),
        pytest.param(
            {
                "state": "COMPLETE",
                "result": "OK",
                "signature": {"value": "AAAA", "algorithm": "MD5WithRSA"},
                "cert": "AAAA",
            },
            id="unknown-algorithm",
        ),
    ],
)
def test_wrong_types_and_shapes_are_malformed(document: object) -> None:
    assert _code_of(FakeMid(statuses=[json_status(document)])) == "malformed_response"


def test_bad_json_and_deep_nesting_are_malformed() -> None:
    not_json = FakeMid(statuses=[lambda _d: httpx.Response(200, content=b"<html>")])
    assert _code_of(not_json) == "malformed_response"
    deep = b"[" * 30_000 + b"]" * 30_000  # valid JSON under the size limit, but too deep
    assert len(deep) < MAX_RESPONSE_BYTES
    nested = FakeMid(statuses=[lambda _d: httpx.Response(200, content=deep)])
    assert _code_of(nested) == "malformed_response"


def test_oversized_answers_are_cut_off() -> None:
    big = b'{"state": "RUNNING", "pad": "' + b"x" * MAX_RESPONSE_BYTES + b'"}'
    declared = FakeMid(statuses=[lambda _d: httpx.Response(200, content=big)])
    assert _code_of(declared) == "malformed_response"

    def streamed(_digest: bytes) -> httpx.Response:  # no Content-Length: counted while read
        return httpx.Response(200, content=iter([big[:40_000], big[40_000:]]))

    assert _code_of(FakeMid(statuses=[streamed])) == "malformed_response"


@pytest.mark.parametrize("session_id", ["../../admin", "a" * 65, "", 7])
def test_unusable_session_ids_are_malformed(session_id: object) -> None:
    fake = FakeMid(
        statuses=[json_status({"state": "RUNNING"})],
        start=httpx.Response(200, json={"sessionID": session_id}),
    )
    assert _code_of(fake) == "malformed_response"
    assert all(r.method == "POST" for r in fake.requests)


# --- transport failures and the deadline -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "invalid_input"), (401, "service_unavailable"), (500, "service_unavailable")],
)
def test_http_errors_on_start(status: int, code: str) -> None:
    fake = FakeMid(
        statuses=[json_status({"state": "RUNNING"})],
        start=httpx.Response(status, json={"error": "nope"}),
    )
    assert _code_of(fake) == code


def test_unknown_or_expired_session_is_a_timeout() -> None:
    fake = FakeMid(statuses=[json_status({"error": "SessionID not found"}, status=404)])
    assert _code_of(fake) == "timeout"


def test_unreachable_or_slow_service_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler in (refuse, slow):
        fake = FakeMid()
        client = fake.client(http=httpx.Client(transport=httpx.MockTransport(handler)))
        with pytest.raises(MobileIdError) as caught:
            client.authentication_start(
                phone_number=ALICE_PHONE, national_identity_number=ALICE_CODE
            )
        assert caught.value.code == "service_unavailable"


def test_overall_deadline_ends_an_endless_running_session() -> None:
    fake = FakeMid(statuses=[json_status({"state": "RUNNING"})])
    assert _code_of(fake, overall_timeout_s=0.6) == "timeout"
    polls = [r for r in fake.requests if r.method == "GET"]
    assert 1 <= len(polls) <= 4  # paced, not a busy loop


def test_client_module_imports_no_django() -> None:
    script = (
        "import sys, enrolment.mobileid, enrolment.mobileid.client;"
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
