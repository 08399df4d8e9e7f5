"""The specification's vectors (docs/spec/rp-api.md §2 and §5): verification codes, the
four authCodes, the ACSP_V2 digest, the callback digests; and Session's links agree with
the primitives."""

from __future__ import annotations

import base64
import hashlib

import pytest
from smartid_client import (
    Interaction,
    Session,
    SessionType,
    verification_code,
)
from smartid_client.protocol import (
    SCHEME_LIVE,
    DeviceLinkType,
    HashAlgorithm,
    acsp_v2_digest,
    acsp_v2_payload,
    auth_code,
    auth_code_payload,
    b64,
    decode_interaction_types,
    encode_interactions,
    pss_parameters,
    session_secret_digest,
    unprotected_device_link,
    user_challenge_of,
)

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
VERIFIER = "XtPfaGa8JnGtYrJjboooUf0KfY9sMEHrWFpSQrsUv9c"
ACSP_DIGEST = (
    "pKOjbNl/5Fy8NfrFqsj6pSn8W8O+Ik8rM33QSsbyD3J9qDJvEm90SboUciuY4wHGWa0Pnq8BgT3NJKmJiUDfKg=="
)
SECRET = "B98ODiVCebRedSwdTk51zFSaGYyHtY1H2A0ocAi3/Ps="
TOKEN = "wGIrqveE6AuGDATZKmR1mtAZ"
BASE = "https://smart-id.com/device-link"
SIGN_DIGEST = (
    "FNZFFya5wGLv9b27fZngaWrOBqle4tGwxZuDFRBdPl1RQvxJsfoqvTbjafd+8BcehMOQGvak6zlP+F8tga4bfQ=="
)
AUTH_CODES = [
    (DeviceLinkType.WEB2APP, SessionType.AUTHENTICATION, "ACSP_V2", RP_CHALLENGE, None,
     "aegUh6gCKkXBJhhvtJqSTWB5_2W8TDQt5eZ7db6krv0"),
    (DeviceLinkType.QR, SessionType.AUTHENTICATION, "ACSP_V2", RP_CHALLENGE, 22,
     "OY1eHaD4UYedrBwtqUbSkpa0w7ttm4FllPkCD_3wlE0"),
    (DeviceLinkType.APP2APP, SessionType.SIGNATURE, "RAW_DIGEST_SIGNATURE", SIGN_DIGEST, None,
     "8QZ16rkBW_ffkq6osT7UH1DbUlF9gEOZevgj-A0VNbM"),
    (DeviceLinkType.WEB2APP, SessionType.CERTIFICATE_CHOICE, "", "", None,
     "PI1qYa9_l6zR-v6Pkre6ycSm7S3BGiOQSe5OQlw4UJg"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (bytes([0x1B, 0xBB]), "4555"),
        (hashlib.sha256(b"Hello World!").digest(), "7712"),
        (hashlib.sha384(b"Hello World!").digest(), "3486"),
        (hashlib.sha512(b"Hello World!").digest(), "4664"),
        (hashlib.sha256(b"You broke it, didn't you.").digest(), "3404"),
        (hashlib.sha256(b"Go ahead, make my day.").digest(), "7782"),
        (hashlib.sha512(b"Hello SMART-ID").digest(), "7180"),
        (base64.b64decode(RP_CHALLENGE), "7180"),
    ],
)
def test_verification_code_vectors(raw: bytes, code: str) -> None:
    assert verification_code(raw) == code


@pytest.mark.parametrize(
    ("link_type", "session_type", "protocol", "value", "elapsed", "code"), AUTH_CODES
)
def test_auth_code_vectors(
    link_type: DeviceLinkType,
    session_type: SessionType,
    protocol: str,
    value: str,
    elapsed: int | None,
    code: str,
) -> None:
    unprotected = unprotected_device_link(
        BASE, link_type, TOKEN, session_type, lang="eng", elapsed_seconds=elapsed
    )
    payload = auth_code_payload(
        scheme_name=SCHEME_LIVE,
        signature_protocol=protocol,
        protocol_value=value,
        relying_party_name="DEMO",
        brokered_rp_name="Example RP",
        interactions="" if session_type is SessionType.CERTIFICATE_CHOICE else INTERACTIONS,
        initial_callback_url="" if link_type is DeviceLinkType.QR else CALLBACK,
        unprotected_link=unprotected,
    )
    assert auth_code(SECRET, payload) == code
    assert ("&elapsedSeconds=22&" in unprotected) == (link_type is DeviceLinkType.QR)


def test_the_acsp_v2_vector() -> None:
    payload = acsp_v2_payload(
        scheme_name=SCHEME_LIVE,
        server_random="MTlop6EXCrQ6FOErcKjxUhbV",
        rp_challenge=RP_CHALLENGE,
        user_challenge=USER_CHALLENGE,
        relying_party_name="DEMO",
        brokered_rp_name="Example RP",
        interactions=INTERACTIONS,
        interaction_type_used="confirmationMessage",
        initial_callback_url=CALLBACK,
        flow_type="Web2App",
    )
    assert payload.split("|")[5:7] == ["REVNTw==", "RXhhbXBsZSBSUA=="]
    assert b64(acsp_v2_digest(payload, HashAlgorithm.SHA_512)) == ACSP_DIGEST


def test_callback_digests() -> None:
    assert user_challenge_of(VERIFIER) == USER_CHALLENGE
    expected = base64.urlsafe_b64encode(hashlib.sha256(base64.b64decode(SECRET)).digest())
    assert session_secret_digest(SECRET) == expected.decode().rstrip("=")
    assert "=" not in session_secret_digest(SECRET)


def test_pss_parameters_and_interactions() -> None:
    assert pss_parameters(HashAlgorithm.SHA_512)["saltLength"] == 64
    assert pss_parameters(HashAlgorithm.SHA3_256)["saltLength"] == 32
    encoded = encode_interactions(
        [Interaction.confirmation_message("Longer description of the transaction context"),
         Interaction.display_text_and_pin("Short description of the transaction context")]
    )  # fmt: skip
    assert encoded == INTERACTIONS  # minified, in the documentation's key order
    assert decode_interaction_types(encoded) == ["confirmationMessage", "displayTextAndPIN"]
    with pytest.raises(ValueError):
        Interaction.display_text_and_pin("x" * 61).to_json()


def _session(session_type: SessionType, **fields: object) -> Session:
    values: dict[str, object] = {
        "api_version": 3,
        "session_id": "s",
        "session_type": session_type,
        "relying_party_name": "DEMO",
        "scheme_name": SCHEME_LIVE,
        "certificate_level": "QUALIFIED",
        "session_token": TOKEN,
        "session_secret": SECRET,
        "device_link_base": BASE,
        "initial_callback_url": CALLBACK,
    }
    values.update(fields)
    return Session(**values)  # type: ignore[arg-type]


def test_session_links_follow_the_primitives() -> None:
    """A Session builds its links with the primitives (no brokered name: ours is "")."""
    session = _session(
        SessionType.AUTHENTICATION,
        signature_protocol="ACSP_V2",
        rp_challenge=RP_CHALLENGE,
        interactions=INTERACTIONS,
        created_at=1000.0,
    )
    unprotected = unprotected_device_link(
        BASE, DeviceLinkType.QR, TOKEN, SessionType.AUTHENTICATION, elapsed_seconds=22
    )
    payload = auth_code_payload(
        scheme_name=SCHEME_LIVE,
        signature_protocol="ACSP_V2",
        protocol_value=RP_CHALLENGE,
        relying_party_name="DEMO",
        brokered_rp_name="",
        interactions=INTERACTIONS,
        initial_callback_url="",
        unprotected_link=unprotected,
    )
    assert (
        session.qr_link(elapsed_seconds=22)
        == f"{unprotected}&authCode={auth_code(SECRET, payload)}"
    )
    assert session.elapsed_seconds(now=1022.9) == 22
    web = session.web2app_link()
    assert "elapsedSeconds" not in web and "deviceLinkType=Web2App" in web
    assert Session.from_dict(session.to_dict()) == session


def test_a_v2_session_has_no_device_link() -> None:
    session = _session(SessionType.AUTHENTICATION, api_version=2, session_token=None)
    with pytest.raises(ValueError):
        session.qr_link()
