"""ACSP_V2 (RP API v3 authentication): the documentation's digest, challenges, the VC of an
rpChallenge, the PSS parameters, and every bad-input path.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from signing.engine import (
    V3_HASHES,
    HashAlgorithm,
    acsp_v2_digest,
    acsp_v2_payload,
    b64url_nopad,
    is_user_challenge,
    new_server_random,
    new_user_challenge_verifier,
    pss_parameters,
    user_challenge,
    user_challenge_matches,
    v3_hash,
    vc_for_rp_challenge,
)
from signing.engine.encoding import hash_spec
from signing.engine.errors import InvalidBase64, InvalidInput, UnsupportedAlgorithm

# docs/spec/rp-api.md §5, written out in full.
RP_CHALLENGE = (
    "GYS+yoah6emAcVDNIajwSs6UB/M95XrDxMzXBUkwQJ9YFDipXXzGpPc7raWcuc2+TEoRc7WvIZ/7dU/iRXenYg=="
)
INTERACTIONS = (
    "W3sidHlwZSI6ImNvbmZpcm1hdGlvbk1lc3NhZ2UiLCJkaXNwbGF5VGV4dDIwMCI6IkxvbmdlciBkZXNjcmlwdGlv"
    "biBvZiB0aGUgdHJhbnNhY3Rpb24gY29udGV4dCJ9LHsidHlwZSI6ImRpc3BsYXlUZXh0QW5kUElOIiwiZGlzcGxh"
    "eVRleHQ2MCI6IlNob3J0IGRlc2NyaXB0aW9uIG9mIHRoZSB0cmFuc2FjdGlvbiBjb250ZXh0In1d"
)
CALLBACK = "https://rp.example.com/callback-url?value=RrKjjT4aggzu27YBddX1bQ"
USER_CHALLENGE = "GnsWXXEjTCKR89fj9uo5u5ReBZ9JR7_pezLAI5jMS00"
#: The callback example's verifier: SHA-256 of it is the user challenge above.
VERIFIER = "XtPfaGa8JnGtYrJjboooUf0KfY9sMEHrWFpSQrsUv9c"
DOC_DIGEST_SHA512 = (
    "pKOjbNl/5Fy8NfrFqsj6pSn8W8O+Ik8rM33QSsbyD3J9qDJvEm90SboUciuY4wHGWa0Pnq8BgT3NJKmJiUDfKg=="
)
DOC_INPUTS: dict[str, Any] = {
    "scheme": "smart-id",
    "server_random": "MTlop6EXCrQ6FOErcKjxUhbV",
    "rp_challenge": RP_CHALLENGE,
    "user_challenge": USER_CHALLENGE,
    "rp_name": "DEMO",
    "brokered_rp_name": "Example RP",
    "interactions": INTERACTIONS,
    "interaction_type_used": "confirmationMessage",
    "initial_callback_url": CALLBACK,
    "flow_type": "Web2App",
}


def test_the_documentation_vector() -> None:
    payload = acsp_v2_payload(**DOC_INPUTS)
    fields = payload.split("|")
    assert fields[:5] == [
        "smart-id",
        "ACSP_V2",
        "MTlop6EXCrQ6FOErcKjxUhbV",
        RP_CHALLENGE,
        USER_CHALLENGE,
    ]
    assert fields[5:7] == ["REVNTw==", "RXhhbXBsZSBSUA=="]
    assert fields[7] == base64.b64encode(hashlib.sha256(INTERACTIONS.encode()).digest()).decode()
    assert fields[8:] == ["confirmationMessage", CALLBACK, "Web2App"]
    digest = acsp_v2_digest(payload, V3_HASHES["SHA-512"])
    assert base64.b64encode(digest).decode() == DOC_DIGEST_SHA512


@pytest.mark.parametrize("name", list(V3_HASHES))
def test_digest_with_every_v3_hash(name: str) -> None:
    payload = acsp_v2_payload(**DOC_INPUTS)
    alg = V3_HASHES[name]
    hashlib_name = name.lower().replace("-", "_").replace("sha_", "sha")
    assert acsp_v2_digest(payload, alg) == hashlib.new(hashlib_name, payload.encode()).digest()
    assert v3_hash(name) is HashAlgorithm(alg)


def test_empty_broker_and_callback_keep_their_separators() -> None:
    payload = acsp_v2_payload(
        **{**DOC_INPUTS, "brokered_rp_name": "", "initial_callback_url": "", "flow_type": "QR"}
    )
    assert payload.split("|")[6] == ""
    assert payload.endswith("|confirmationMessage||QR")
    assert payload.count("|") == 10


def test_names_are_utf8_then_base64_and_may_hold_the_separator() -> None:
    payload = acsp_v2_payload(**{**DOC_INPUTS, "rp_name": "Pank | Õun", "brokered_rp_name": "Ä"})
    fields = payload.split("|")
    assert base64.b64decode(fields[5]).decode() == "Pank | Õun"
    assert base64.b64decode(fields[6]).decode() == "Ä"
    # Non-ASCII text in the payload itself is hashed as UTF-8.
    assert acsp_v2_digest("Õ", "SHA256") == hashlib.sha256("Õ".encode()).digest()


@pytest.mark.parametrize(
    "field",
    ["scheme", "server_random", "rp_challenge", "user_challenge", "interaction_type_used"]
    + ["initial_callback_url", "flow_type"],
)
def test_a_separator_inside_a_plain_field_is_refused(field: str) -> None:
    with pytest.raises(InvalidInput, match="must not contain"):
        acsp_v2_payload(**{**DOC_INPUTS, field: "a|b"})


@pytest.mark.parametrize(
    "field",
    ["scheme", "server_random", "rp_challenge", "user_challenge", "rp_name", "interactions"]
    + ["interaction_type_used", "flow_type"],
)
def test_required_fields_must_not_be_empty(field: str) -> None:
    with pytest.raises(InvalidInput, match="must not be empty"):
        acsp_v2_payload(**{**DOC_INPUTS, field: ""})


@pytest.mark.parametrize("field", list(DOC_INPUTS))
@pytest.mark.parametrize("value", [None, b"bytes", 5, "\ud800"])
def test_wrong_types_and_unencodable_text_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidInput):
        acsp_v2_payload(**{**DOC_INPUTS, field: value})


@pytest.mark.parametrize("payload", [None, b"bytes", "\udfff"])
def test_digest_refuses_what_is_not_text(payload: object) -> None:
    with pytest.raises(InvalidInput):
        acsp_v2_digest(payload, "SHA512")  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ["SHA-512", "sha512", "SHA1", "", None])
def test_digest_refuses_unknown_hash_names(alg: object) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        acsp_v2_digest("payload", alg)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["SHA512", "SHA3_512", "sha-512", "SHA-1", "", None, 512])
def test_v3_hash_refuses_other_spellings(name: object) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        v3_hash(name)
    with pytest.raises(UnsupportedAlgorithm):
        pss_parameters(name)  # type: ignore[arg-type]


def test_user_challenge_from_the_documentation_verifier() -> None:
    assert user_challenge(VERIFIER) == USER_CHALLENGE
    assert user_challenge_matches(VERIFIER, USER_CHALLENGE)
    assert not user_challenge_matches(VERIFIER, USER_CHALLENGE[:-1] + "A")
    assert not user_challenge_matches(VERIFIER[:-1] + "A", USER_CHALLENGE)
    assert not user_challenge_matches(None, USER_CHALLENGE)
    assert not user_challenge_matches(VERIFIER, None)
    assert not user_challenge_matches(VERIFIER, "Õ" * 43)


def test_new_verifier_and_its_challenge_have_the_v3_form() -> None:
    seen = set()
    for _ in range(50):
        verifier = new_user_challenge_verifier()
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", verifier)
        assert base64.urlsafe_b64decode(verifier + "=") != bytes(32)
        challenge = user_challenge(verifier)
        assert is_user_challenge(challenge)
        assert user_challenge_matches(verifier, challenge)
        seen.add(verifier)
    assert len(seen) == 50


@pytest.mark.parametrize(
    "verifier",
    [None, 43, b"x" * 43, "", "A" * 42, "A" * 129, "A" * 42 + "=", "A" * 42 + "+", "Õ" * 43],
)
def test_bad_verifiers_are_refused(verifier: object) -> None:
    with pytest.raises(InvalidInput):
        user_challenge(verifier)  # type: ignore[arg-type]


def test_long_verifiers_up_to_128_characters_are_accepted() -> None:
    assert is_user_challenge(user_challenge("a" * 128))


@pytest.mark.parametrize(
    "value",
    [None, 43, "A" * 42, "A" * 44, "A" * 42 + "=", "A" * 42 + "B", "A" * 42 + "/"],
)
def test_is_user_challenge_refuses_other_forms(value: object) -> None:
    assert not is_user_challenge(value)


def test_b64url_nopad() -> None:
    assert b64url_nopad(b"\xfb\xff") == "-_8"
    assert b64url_nopad(b"") == ""


def test_server_random_is_base64_of_18_random_bytes() -> None:
    values = {new_server_random() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert re.fullmatch(r"[A-Za-z0-9+/]{24}", value)
        assert len(base64.b64decode(value)) == 18


def test_vc_of_the_documentation_rp_challenge() -> None:
    # The raw 64 bytes, not the Base64 text (the documentation's example gives 7180).
    assert vc_for_rp_challenge(RP_CHALLENGE) == "7180"


@pytest.mark.parametrize(
    "value", [None, 5, "", RP_CHALLENGE[:-1], RP_CHALLENGE + "=", " " + RP_CHALLENGE, "A" * 1000]
)
def test_vc_refuses_what_is_not_canonical_base64(value: object) -> None:
    with pytest.raises(InvalidInput):
        vc_for_rp_challenge(value)  # type: ignore[arg-type]


def test_vc_of_empty_text_is_invalid_base64_or_length() -> None:
    with pytest.raises(InvalidInput):
        vc_for_rp_challenge("")
    with pytest.raises(InvalidBase64):
        vc_for_rp_challenge("@@@@")


@pytest.mark.parametrize("name", list(V3_HASHES))
def test_pss_parameters(name: str) -> None:
    size = hash_spec(V3_HASHES[name]).digest_size
    assert pss_parameters(name) == {
        "hashAlgorithm": name,
        "maskGenAlgorithm": {"algorithm": "id-mgf1", "parameters": {"hashAlgorithm": name}},
        "saltLength": size,
        "trailerField": "0xbc",
    }


def test_pss_parameters_of_the_documentation_example() -> None:
    assert pss_parameters("SHA-512")["saltLength"] == 64
