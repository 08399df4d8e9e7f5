"""Malformed RP API v3 requests: a 400 problem naming the field, nothing created (§5)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Account
from api.rp.models import RelyingParty, RpSession
from signing.models import Transaction
from tests.helpers.platform import Platform
from tests.helpers.rp_v3 import (
    CONFIRM,
    CONFIRM_VC,
    PIN_TEXT,
    assert_problem,
    auth_body,
    choice_body,
    interactions,
    post,
    sign_body,
)
from tests.personas import ALICE

ALICE_ID = ALICE.semantics_identifier
AUTH_LINK = f"authentication/device-link/etsi/{ALICE_ID}"
AUTH_NOTIFY = f"authentication/notification/etsi/{ALICE_ID}"
SIGN_LINK = f"signature/device-link/etsi/{ALICE_ID}"
SIGN_NOTIFY = f"signature/notification/etsi/{ALICE_ID}"
CHOICE_LINK = "signature/certificate-choice/device-link/anonymous"
CHOICE_NOTIFY = f"signature/certificate-choice/notification/etsi/{ALICE_ID}"
MISSING = object()
B64 = base64.b64encode


def change(path: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Set (or with MISSING remove) the field at a /-separated path of the body."""

    def apply(body: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(body)
        *parents, last = path.split("/")
        target = body
        for name in parents:
            target = target[name]
        if value is MISSING:
            target.pop(last, None)
        else:
            target[last] = value
        return body

    return apply


PARAMS = "signatureProtocolParameters"
ALG_PARAMS = f"{PARAMS}/signatureAlgorithmParameters"
COMMON = [
    ("relyingPartyUUID", MISSING),
    ("relyingPartyUUID", 5),
    ("relyingPartyUUID", "x" * 65),
    ("relyingPartyName", MISSING),
    ("relyingPartyName", ["DEMO"]),
    ("relyingPartyName", "Ä" * 17),  # 34 bytes of UTF-8
    ("certificateLevel", "SUPER"),
    ("certificateLevel", 1),
    ("requestProperties", []),
    ("requestProperties", {"shareMdClientIpAddress": "yes"}),
    ("capabilities", "ADVANCED"),
    ("capabilities", [1]),
    ("capabilities", ["x" * 65]),
]
AUTH_CASES = [
    *COMMON,
    ("certificateLevel", "QSCD"),  # not for authentication
    ("nonce", "abc"),  # forbidden in authentication (§5)
    ("signatureProtocol", MISSING),
    ("signatureProtocol", "RAW_DIGEST_SIGNATURE"),
    ("signatureProtocol", 2),
    (PARAMS, MISSING),
    (PARAMS, "x"),
    (f"{PARAMS}/rpChallenge", MISSING),
    (f"{PARAMS}/rpChallenge", 44),
    (f"{PARAMS}/rpChallenge", "A" * 43),
    (f"{PARAMS}/rpChallenge", "A" * 89),
    (f"{PARAMS}/rpChallenge", B64(bytes(31)).decode()),  # 44 characters... of 31 bytes
    (f"{PARAMS}/rpChallenge", B64(bytes(66)).decode()),  # 88 characters, too many bytes
    (f"{PARAMS}/rpChallenge", "!" * 44),
    (f"{PARAMS}/rpChallenge", "A" * 1000),
    (f"{PARAMS}/signatureAlgorithm", MISSING),
    (ALG_PARAMS, MISSING),
    (ALG_PARAMS, "SHA-256"),
    (f"{ALG_PARAMS}/hashAlgorithm", MISSING),
    (f"{ALG_PARAMS}/hashAlgorithm", "MD5"),
    (f"{ALG_PARAMS}/hashAlgorithm", "SHA256"),  # the v2 spelling
    ("interactions", MISSING),
    ("interactions", 5),
    ("interactions", [PIN_TEXT]),  # JSON, not the Base64 of it
    ("interactions", "not base64!"),
    ("interactions", B64(b"{}").decode()),  # an object, not an array
    ("interactions", B64(b"[]").decode()),
    ("interactions", B64(b"[1]").decode()),
    ("interactions", B64(b"not json").decode()),
    ("interactions", "A" * 5000),
    ("interactions", interactions({"type": "verificationCodeChoice"})),  # gone in v3
    ("interactions", interactions({"type": "displayTextAndPIN", "displayText60": "x" * 61})),
    ("interactions", interactions({"type": "displayTextAndPIN", "displayText60": 5})),
    ("interactions", interactions({"type": "displayTextAndPIN", "displayText200": "x"})),
    ("interactions", interactions({"type": "confirmationMessage"})),
    ("interactions", interactions({"type": "confirmationMessage", "displayText200": "x" * 201})),
    ("interactions", interactions(PIN_TEXT, PIN_TEXT)),
]
LINK_CASES = [
    ("initialCallbackUrl", "http://rp.example.com/cb"),
    ("initialCallbackUrl", "https://rp.example.com/cb|x"),
    ("initialCallbackUrl", "https://rp.example.com/cb#x"),
    ("initialCallbackUrl", "https://" + "x" * 1800),
    ("initialCallbackUrl", 5),
    ("initialCallbackUrl", "https://rp.example.com/a b"),
    ("initialCallbackUrl", "https://rp.example.com/\x00"),
    ("initialCallbackUrl", "https://"),
    ("initialCallbackUrl", "https://rp.example.com/cb\n"),  # "$" alone would let it in
    ("initialCallbackUrl", "https://rp.example.com/\u00fb"),  # percent-encode it
    ("interactions", interactions(CONFIRM_VC)),  # notification only
]
SIGN_CASES = [
    *[(name, value) for name, value in COMMON],
    ("nonce", ""),
    ("nonce", "x" * 31),
    ("nonce", 5),
    ("nonce", "a\x00b"),
    ("signatureProtocol", "ACSP_V2"),
    (f"{PARAMS}/digest", MISSING),
    (f"{PARAMS}/digest", B64(bytes(32)).decode()),  # a SHA-256 length for SHA-512
    (f"{PARAMS}/digest", "!" * 88),
    (f"{PARAMS}/digest", B64(bytes(64)).decode() + "=="),  # excess padding
    (f"{PARAMS}/digest", 64),
    (f"{ALG_PARAMS}/hashAlgorithm", "SHA-1"),
    ("interactions", B64(b"[]").decode()),
]


def assert_refused(
    platform: Platform, path: str, body: dict[str, Any], field: str
) -> dict[str, Any]:
    sessions, transactions = RpSession.objects.count(), Transaction.objects.count()
    response = post(platform.url, path, body)
    assert response.status_code == 400, (path, field, body, response.text)
    problem = assert_problem(response, 400)
    assert (RpSession.objects.count(), Transaction.objects.count()) == (sessions, transactions)
    named = " ".join(
        f"{e.get('paramName', '')} {e.get('pointer', '')} {e.get('detail', '')}"
        for e in problem.get("errors", [])
    )
    assert field.split("/")[-1] in named or field.split("/")[0] in named, problem
    return problem


@pytest.fixture
def alice(platform: Platform, rp_a: RelyingParty) -> Account:
    return platform.registered(ALICE)[1]


def test_every_malformed_field_is_refused(platform: Platform, alice: Account) -> None:
    # One platform for all the cases (a server per case would take minutes).
    cases: list[tuple[str, dict[str, Any], str, Any]] = []
    for field, value in AUTH_CASES:
        cases.append((AUTH_LINK, auth_body(), field, value))
        cases.append((AUTH_NOTIFY, auth_body(notification=True), field, value))
    for field, value in LINK_CASES:
        cases.append((AUTH_LINK, auth_body(), field, value))
        cases.append((SIGN_LINK, sign_body(), field, value))
    for field, value in SIGN_CASES:
        cases.append((SIGN_NOTIFY, sign_body(), field, value))
        cases.append((SIGN_LINK, sign_body(), field, value))
    for field, value in [*COMMON, ("nonce", "x" * 31)]:
        cases.append((CHOICE_LINK, choice_body(), field, value))
        cases.append((CHOICE_NOTIFY, choice_body(), field, value))
    cases += [
        (AUTH_NOTIFY, auth_body(notification=True), "vcType", MISSING),
        (AUTH_NOTIFY, auth_body(notification=True), "vcType", "alphaNumeric6"),
        (AUTH_NOTIFY, auth_body(notification=True), "initialCallbackUrl", "https://rp.ee/"),
        (SIGN_NOTIFY, sign_body(), "initialCallbackUrl", "https://rp.ee/"),
        (
            f"signature/notification/linked/{alice.document_number}",
            sign_body(),
            "linkedSessionID",
            MISSING,
        ),
        (
            f"signature/notification/linked/{alice.document_number}",
            sign_body(),
            "linkedSessionID",
            "10000000-0000-000-000-000000000000",
        ),
        (
            f"signature/notification/linked/{alice.document_number}",
            sign_body(),
            "linkedSessionID",
            "6ef2d0c3-6cf6-4d1a-9b7d-2d6f3bff9c11",
        ),
    ]
    legacy = sign_body()
    legacy[PARAMS] = {
        "digest": B64(bytes(64)).decode(),
        "signatureAlgorithm": "sha512WithRSAEncryption",
        "signatureAlgorithmParameters": {},
    }
    for hash_name in (None, "SHA-256", 512):  # if named, it must be the algorithm's
        cases.append((SIGN_NOTIFY, legacy, f"{ALG_PARAMS}/hashAlgorithm", hash_name))
    parameters: Any
    for parameters in (None, [], "SHA-512"):
        cases.append((SIGN_NOTIFY, legacy, ALG_PARAMS, parameters))
    for path, body, field, value in cases:
        assert_refused(platform, path, change(field, value)(body), field)
    assert not RpSession.objects.exists()


@pytest.mark.parametrize("algorithm", ["rsa-pss", "sha1WithRSAEncryption", "", 5, None])
def test_unsupported_algorithm_is_the_demos_answer(
    platform: Platform, alice: Account, algorithm: Any
) -> None:
    for path, body in ((SIGN_NOTIFY, sign_body()), (AUTH_LINK, auth_body())):
        body[PARAMS]["signatureAlgorithm"] = algorithm
        response = post(platform.url, path, body)
        problem = assert_problem(response, 400)
        if algorithm is None:  # missing: an ordinary field error
            assert (
                problem["errors"][0]["pointer"] == "/signatureProtocolParameters/signatureAlgorithm"
            )
            continue
        assert problem["detail"] == "Invalid signature algorithm parameter"
        assert problem["pointer"] == "/signatureProtocolParameters/signatureAlgorithm"
    legacy = auth_body()
    legacy[PARAMS]["signatureAlgorithm"] = "sha512WithRSAEncryption"  # RAW_DIGEST only
    assert assert_problem(post(platform.url, AUTH_LINK, legacy), 400)["detail"] == (
        "Invalid signature algorithm parameter"
    )
    assert not RpSession.objects.exists()


def test_bodies_that_are_not_json_objects(platform: Platform, alice: Account) -> None:
    for body in (b"", b"not json", b"[]", b'"text"', b"{" * 100_000, b"null"):
        assert_problem(post(platform.url, SIGN_NOTIFY, body), 400)
    assert not RpSession.objects.exists()


def test_every_accepted_variant(platform: Platform, alice: Account) -> None:
    """The edges that are valid: 44 and 88 character challenges, every hash, QSCD."""
    accepted: list[tuple[str, dict[str, Any]]] = [
        (AUTH_LINK, change(f"{PARAMS}/rpChallenge", B64(bytes(64)).decode())(auth_body())),
        (AUTH_NOTIFY, auth_body(notification=True, interactions=interactions(CONFIRM_VC))),
        (AUTH_LINK, auth_body(interactions=interactions(CONFIRM, {"type": "displayTextAndPIN"}))),
        (SIGN_NOTIFY, sign_body(certificateLevel="QSCD")),
        (SIGN_NOTIFY, sign_body(capabilities=["QUALIFIED"], nonce="x" * 30)),
    ]
    for name, size in (
        ("SHA-256", 32),
        ("SHA-384", 48),
        ("SHA3-256", 32),
        ("SHA3-384", 48),
        ("SHA3-512", 64),
    ):
        accepted.append((SIGN_NOTIFY, sign_body(digest=bytes(size), hash_algorithm=name)))
    for path, body in accepted:
        response = post(platform.url, path, body)
        assert response.status_code == 200, (path, body, response.text)
