"""Validator against a synthetic PKI: a good answer of every kind passes, and every check
bites with its own exception (signature, chain, validity, level, policy, key usage,
identity, callback, OCSP)."""

from __future__ import annotations

import base64
import secrets
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from conftest import NOW, OCSP_URL, Person, Pki
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from smartid_client import (
    CallbackError,
    CallbackParameters,
    CertificateChainError,
    CertificateLevelError,
    CertificateNotValidNowError,
    CertificateRevokedError,
    ExpectedIdentity,
    HashAlgorithm,
    IdentityMismatchError,
    Interaction,
    KeyUsageError,
    ResponseMismatchError,
    RevocationError,
    Session,
    SessionStatus,
    SessionType,
    SignatureAlgorithm,
    SignatureInvalidError,
    UserRefusedInteractionError,
    Validator,
    date_of_birth_from_code,
    identity_from_certificate,
    load_certificates,
)
from smartid_client.protocol import (
    SCHEME_DEMO,
    acsp_v2_digest,
    acsp_v2_payload,
    b64,
    b64url,
    encode_interactions,
    pss_parameters,
    user_challenge_of,
)

CALLBACK = "https://rp.example/callback?value=abc"
DOC = "PNOEE-40504040001-MOCK-Q"
INTERACTIONS = encode_interactions([Interaction.display_text_and_pin("Log in?")])


def _validator(pki: Pki, *, ocsp: bool = False) -> Validator:
    http = httpx.Client(transport=httpx.MockTransport(pki.ocsp_handler()))
    return Validator([pki.root], [pki.ca], ocsp=ocsp, ocsp_http=http, clock=lambda: NOW)


def _cert_json(cert: x509.Certificate, level: str = "QUALIFIED") -> dict[str, str]:
    der = cert.public_bytes(serialization.Encoding.DER)
    return {"value": b64(der), "certificateLevel": level}


def _pss(key: rsa.RSAPrivateKey, digest: bytes, hash_algorithm: HashAlgorithm) -> bytes:
    h = hash_algorithm.algorithm()
    return key.sign(
        digest, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), Prehashed(h)
    )


def _auth(
    pki: Pki,
    cert: x509.Certificate,
    *,
    flow: str = "QR",
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
    level: str = "QUALIFIED",
    requested: str = "QUALIFIED",
    semantics_identifier: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> tuple[Session, SessionStatus, str]:
    """A v3 device-link (or notification) authentication and its signed answer; also the
    userChallengeVerifier the app would put in the callback."""
    notification = flow == "Notification"
    session = Session(
        api_version=3,
        session_id="00000000-0000-4000-8000-00000000000a",
        session_type=SessionType.AUTHENTICATION,
        relying_party_name="DEMO",
        scheme_name=SCHEME_DEMO,
        certificate_level=requested,
        signature_protocol="ACSP_V2",
        rp_challenge=b64(secrets.token_bytes(64)),
        hash_algorithm=hash_algorithm,
        signature_algorithm=SignatureAlgorithm.RSASSA_PSS,
        interactions=INTERACTIONS,
        interaction_types=("displayTextAndPIN",),
        initial_callback_url=None if notification else CALLBACK,
        session_token=None if notification else "A" * 24,
        session_secret=None if notification else b64(b"s" * 18),
        device_link_base=None if notification else "https://smart-id.com/device-link",
        semantics_identifier=semantics_identifier,
    )
    verifier = b64url(secrets.token_bytes(32))
    server_random = b64(secrets.token_bytes(24))
    user_challenge = user_challenge_of(verifier)
    assert session.rp_challenge is not None
    payload = acsp_v2_payload(
        scheme_name=SCHEME_DEMO,
        server_random=server_random,
        rp_challenge=session.rp_challenge,
        user_challenge=user_challenge,
        relying_party_name="DEMO",
        brokered_rp_name="",
        interactions=INTERACTIONS,
        interaction_type_used="displayTextAndPIN",
        initial_callback_url=CALLBACK if flow in ("Web2App", "App2App") else "",
        flow_type=flow,
    )
    signature = _pss(key or pki.user_key, acsp_v2_digest(payload, hash_algorithm), hash_algorithm)
    body = {
        "state": "COMPLETE",
        "result": {"endResult": "OK", "documentNumber": DOC},
        "signatureProtocol": "ACSP_V2",
        "signature": {
            "value": b64(signature),
            "serverRandom": server_random,
            "userChallenge": user_challenge,
            "flowType": flow,
            "signatureAlgorithm": "rsassa-pss",
            "signatureAlgorithmParameters": pss_parameters(hash_algorithm),
        },
        "cert": _cert_json(cert, level),
        "interactionTypeUsed": "displayTextAndPIN",
    }
    return session, SessionStatus.parse(body), verifier


def _with(status: SessionStatus, change: dict[str, Any]) -> SessionStatus:
    body = {**status.raw, **change}
    return SessionStatus.parse(body)


# --- authentication --------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["QR", "Notification"])
@pytest.mark.parametrize("hash_algorithm", [HashAlgorithm.SHA_256, HashAlgorithm.SHA3_512])
def test_a_good_authentication_passes(pki: Pki, flow: str, hash_algorithm: HashAlgorithm) -> None:
    cert = pki.certificate("auth", date_of_birth=True)
    session, status, _ = _auth(pki, cert, flow=flow, hash_algorithm=hash_algorithm)
    result = _validator(pki, ocsp=True).authentication(
        session, status, expected=ExpectedIdentity(semantics_identifier="PNOEE-40504040001")
    )
    assert result.identity.given_name == "OK" and result.identity.surname == "TESTNUMBER"
    assert result.identity.personal_code == "40504040001"
    assert result.identity.date_of_birth == date(1905, 4, 4)  # from the attribute
    assert result.document_number == DOC and result.flow_type == flow
    assert result.chain == (cert, pki.ca, pki.root)
    assert result.certificate_level == "QUALIFIED"


def test_web2app_needs_the_verified_callback(pki: Pki) -> None:
    cert = pki.certificate("auth")
    session, status, verifier = _auth(pki, cert, flow="Web2App")
    validator = _validator(pki)
    digest = "d"
    good = CallbackParameters(session_secret_digest=digest, user_challenge_verifier=verifier)
    assert validator.authentication(session, status, callback=good).flow_type == "Web2App"
    with pytest.raises(CallbackError):
        validator.authentication(session, status)
    # the demo's mock service opens links without a browser: an explicit opt-out
    assert validator.authentication(session, status, require_callback=False)
    wrong = CallbackParameters(digest, b64url(secrets.token_bytes(32)))
    for require in (True, False):  # a callback given is always checked
        with pytest.raises(CallbackError):
            validator.authentication(session, status, callback=wrong, require_callback=require)


def test_a_signature_that_does_not_verify(pki: Pki) -> None:
    cert = pki.certificate("auth")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    session, status, _ = _auth(pki, cert, key=other)
    with pytest.raises(SignatureInvalidError):
        _validator(pki).authentication(session, status)
    # the payload bound to the answer's fields: another flowType breaks the signature
    session, status, _ = _auth(pki, cert)
    raw = dict(status.raw)
    raw["signature"] = {**raw["signature"], "serverRandom": b64(secrets.token_bytes(24))}
    with pytest.raises(SignatureInvalidError):
        _validator(pki).authentication(session, SessionStatus.parse(raw))


def test_answer_fields_that_do_not_match_the_request(pki: Pki) -> None:
    cert = pki.certificate("auth")
    session, status, _ = _auth(pki, cert)
    validator = _validator(pki)
    for change in (
        {"signatureProtocol": "RAW_DIGEST_SIGNATURE"},
        {"interactionTypeUsed": "confirmationMessage"},
        {"result": {"endResult": "OK", "documentNumber": "PNOEE-40504040001-XXXX-Q"}},
        {"signature": {**status.raw["signature"], "flowType": "Notification"}},
        {"signature": {**status.raw["signature"], "signatureAlgorithmParameters": {}}},
        {"signature": {**status.raw["signature"], "userChallenge": "short"}},
    ):
        with pytest.raises(ResponseMismatchError):
            validator.authentication(session, _with(status, change))


def test_a_certificate_that_does_not_chain(pki: Pki) -> None:
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = (pki.ca, stranger_key)  # the right issuer name, another key
    cert = pki.certificate("auth", issuer=stranger)
    session, status, _ = _auth(pki, cert)
    with pytest.raises(CertificateChainError):
        _validator(pki).authentication(session, status)


def test_an_expired_or_future_certificate(pki: Pki) -> None:
    for start, end in (
        (NOW - timedelta(days=400), NOW - timedelta(days=1)),
        (NOW + timedelta(days=1), NOW + timedelta(days=400)),
    ):
        cert = pki.certificate("auth", not_before=start, not_after=end)
        session, status, _ = _auth(pki, cert)
        with pytest.raises(CertificateNotValidNowError):
            _validator(pki).authentication(session, status)


def test_a_level_below_the_request(pki: Pki) -> None:
    advanced = pki.certificate("auth", "ADVANCED")
    session, status, _ = _auth(pki, advanced, level="ADVANCED", requested="QUALIFIED")
    with pytest.raises(CertificateLevelError):
        _validator(pki).authentication(session, status)
    # asked for ADVANCED: an ADVANCED certificate is fine
    session, status, _ = _auth(pki, advanced, level="ADVANCED", requested="ADVANCED")
    assert _validator(pki).authentication(session, status).certificate_level == "ADVANCED"
    # the answer claims QUALIFIED, the policies say ADVANCED
    session, status, _ = _auth(pki, advanced, level="QUALIFIED", requested="ADVANCED")
    with pytest.raises(CertificateLevelError):
        _validator(pki).authentication(session, status)


def test_a_certificate_without_the_level_policies(pki: Pki) -> None:
    cert = pki.certificate("auth", policies=("1.3.6.1.4.1.10015.17.2",))  # no NCP+
    session, status, _ = _auth(pki, cert)
    with pytest.raises(CertificateLevelError):
        _validator(pki).authentication(session, status)


def test_a_signing_certificate_cannot_authenticate(pki: Pki) -> None:
    cert = pki.certificate("sign")
    session, status, _ = _auth(pki, cert)
    with pytest.raises(KeyUsageError):
        _validator(pki).authentication(session, status)


def test_identity_mismatch(pki: Pki) -> None:
    cert = pki.certificate("auth")
    session, status, _ = _auth(pki, cert, semantics_identifier="PNOEE-30303039914")
    with pytest.raises(IdentityMismatchError):
        _validator(pki).authentication(session, status)
    session, status, _ = _auth(pki, cert)
    for expected in (
        ExpectedIdentity(semantics_identifier="PNOEE-30303039914"),
        ExpectedIdentity(surname="Other"),
        ExpectedIdentity(date_of_birth=date(1990, 1, 1)),
        ExpectedIdentity(document_number="PNOEE-40504040001-ABCD-Q"),
    ):
        with pytest.raises(IdentityMismatchError):
            _validator(pki).authentication(session, status, expected=expected)
    ok = ExpectedIdentity(given_name="ok", surname="testnumber", country="EE")
    assert _validator(pki).authentication(session, status, expected=ok).identity.country == "EE"


def test_a_refusal_is_never_valid(pki: Pki) -> None:
    cert = pki.certificate("auth")
    session, _, _ = _auth(pki, cert)
    refused = SessionStatus.parse(
        {
            "state": "COMPLETE",
            "result": {
                "endResult": "USER_REFUSED_INTERACTION",
                "details": {"interaction": "displayTextAndPIN"},
            },
        }
    )
    with pytest.raises(UserRefusedInteractionError) as caught:
        _validator(pki).authentication(session, refused)
    assert caught.value.interaction == "displayTextAndPIN"


# --- OCSP ------------------------------------------------------------------------------


def test_a_revoked_certificate(pki: Pki) -> None:
    cert = pki.certificate("auth")
    pki.revoked.add(cert.serial_number)
    session, status, _ = _auth(pki, cert)
    with pytest.raises(CertificateRevokedError) as caught:
        _validator(pki, ocsp=True).authentication(session, status)
    assert caught.value.status == "REVOKED" and caught.value.reason == "key_compromise"
    # without OCSP the same answer passes: revocation is the only failing check
    assert _validator(pki).authentication(session, status)


@pytest.mark.parametrize("fault", ["nonce", "unsigned", "stale", "unknown"])
def test_a_wrong_ocsp_answer(pki: Pki, fault: str) -> None:
    cert = pki.certificate("auth")
    pki.ocsp_fault = fault
    session, status, _ = _auth(pki, cert)
    expected = CertificateRevokedError if fault == "unknown" else RevocationError
    with pytest.raises(expected):
        _validator(pki, ocsp=True).authentication(session, status)


def test_an_unreachable_or_failing_responder(pki: Pki) -> None:
    cert = pki.certificate("auth")
    session, status, _ = _auth(pki, cert)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for transport in (
        httpx.MockTransport(down),
        httpx.MockTransport(lambda request: httpx.Response(500)),
        httpx.MockTransport(lambda request: httpx.Response(200, content=b"not DER")),
    ):
        validator = Validator(
            [pki.root], [pki.ca], ocsp=True, ocsp_http=httpx.Client(transport=transport),
            clock=lambda: NOW,
        )  # fmt: skip
        with pytest.raises(RevocationError):
            validator.authentication(session, status)
    assert OCSP_URL.startswith("http://")


# --- signatures ------------------------------------------------------------------------


def _sign_session(
    algorithm: SignatureAlgorithm, hash_algorithm: HashAlgorithm, digest: bytes
) -> Session:
    return Session(
        api_version=3,
        session_id="00000000-0000-4000-8000-00000000000b",
        session_type=SessionType.SIGNATURE,
        relying_party_name="DEMO",
        scheme_name=SCHEME_DEMO,
        certificate_level="QUALIFIED",
        signature_protocol="RAW_DIGEST_SIGNATURE",
        digest=b64(digest),
        hash_algorithm=hash_algorithm,
        signature_algorithm=algorithm,
        interactions=INTERACTIONS,
        interaction_types=("displayTextAndPIN",),
        verification_code="1234",
        document_number=DOC,
    )


@pytest.mark.parametrize(
    ("algorithm", "hash_algorithm"),
    [
        (SignatureAlgorithm.RSASSA_PSS, HashAlgorithm.SHA_256),
        (SignatureAlgorithm.RSASSA_PSS, HashAlgorithm.SHA3_384),
        (SignatureAlgorithm.SHA256_WITH_RSA, HashAlgorithm.SHA_256),
        (SignatureAlgorithm.SHA512_WITH_RSA, HashAlgorithm.SHA_512),
    ],
)
def test_raw_digest_signatures(
    pki: Pki, algorithm: SignatureAlgorithm, hash_algorithm: HashAlgorithm
) -> None:
    digest = hash_algorithm.digest(b"the contract")
    session = _sign_session(algorithm, hash_algorithm, digest)
    cert = pki.certificate("sign")
    h = hash_algorithm.algorithm()
    if algorithm is SignatureAlgorithm.RSASSA_PSS:
        value = _pss(pki.user_key, digest, hash_algorithm)
    else:
        value = pki.user_key.sign(digest, padding.PKCS1v15(), Prehashed(h))
    signature: dict[str, Any] = {
        "value": b64(value),
        "flowType": "Notification",
        "signatureAlgorithm": algorithm.value,
    }
    if algorithm is SignatureAlgorithm.RSASSA_PSS:
        signature["signatureAlgorithmParameters"] = pss_parameters(hash_algorithm)
    status = SessionStatus.parse(
        {
            "state": "COMPLETE",
            "result": {"endResult": "OK", "documentNumber": DOC},
            "signatureProtocol": "RAW_DIGEST_SIGNATURE",
            "signature": signature,
            "cert": _cert_json(cert),
            "interactionTypeUsed": "displayTextAndPIN",
        }
    )
    result = _validator(pki, ocsp=True).signature(session, status)
    assert result.value == value and result.digest == digest
    # a signature over another digest
    other = _sign_session(algorithm, hash_algorithm, hash_algorithm.digest(b"another"))
    with pytest.raises(SignatureInvalidError):
        _validator(pki).signature(other, status)
    # an authentication certificate cannot sign
    auth_cert = pki.certificate("auth")
    with pytest.raises(KeyUsageError):
        _validator(pki).signature(session, _with(status, {"cert": _cert_json(auth_cert)}))


def _v2_session(session_type: SessionType, raw: bytes) -> Session:
    return Session(
        api_version=2,
        session_id="00000000-0000-4000-8000-00000000000c",
        session_type=session_type,
        relying_party_name="DEMO",
        scheme_name="",
        certificate_level="QUALIFIED",
        digest=b64(raw),
        hash_algorithm=HashAlgorithm.SHA_512,
        interaction_types=("displayTextAndPIN",),
    )


def test_v2_pkcs1_signatures(pki: Pki) -> None:
    raw = secrets.token_bytes(64)
    value = pki.user_key.sign(raw, padding.PKCS1v15(), Prehashed(hashes.SHA512()))
    body = {
        "state": "COMPLETE",
        "result": {"endResult": "OK", "documentNumber": DOC},
        "signature": {"value": b64(value), "algorithm": "sha512WithRSAEncryption"},
        "cert": _cert_json(pki.certificate("auth")),
        "interactionFlowUsed": "displayTextAndPIN",
    }
    validator = _validator(pki, ocsp=True)
    result = validator.authentication(
        _v2_session(SessionType.AUTHENTICATION, raw), SessionStatus.parse(body)
    )
    assert result.identity.semantics_identifier == "PNOEE-40504040001"
    assert result.flow_type is None and result.interaction_used == "displayTextAndPIN"
    with pytest.raises(SignatureInvalidError):
        validator.authentication(
            _v2_session(SessionType.AUTHENTICATION, secrets.token_bytes(64)),
            SessionStatus.parse(body),
        )
    body["signature"] = {"value": b64(value), "algorithm": "sha256WithRSAEncryption"}
    with pytest.raises(ResponseMismatchError):
        validator.authentication(
            _v2_session(SessionType.AUTHENTICATION, raw), SessionStatus.parse(body)
        )
    # a v2 signature session with the signing certificate
    body["signature"] = {"value": b64(value), "algorithm": "sha512WithRSAEncryption"}
    body["cert"] = _cert_json(pki.certificate("sign"))
    signed = validator.signature(_v2_session(SessionType.SIGNATURE, raw), SessionStatus.parse(body))
    assert signed.signature_algorithm == "sha512WithRSAEncryption"


def test_certificate_choice(pki: Pki) -> None:
    cert = pki.certificate("sign")
    session = Session(
        api_version=3,
        session_id="00000000-0000-4000-8000-00000000000d",
        session_type=SessionType.CERTIFICATE_CHOICE,
        relying_party_name="DEMO",
        scheme_name=SCHEME_DEMO,
        certificate_level="QUALIFIED",
        initial_callback_url=CALLBACK,
        session_token="A" * 24,
        session_secret=b64(b"s" * 18),
        device_link_base="https://smart-id.com/device-link",
    )
    body = {
        "state": "COMPLETE",
        "result": {"endResult": "OK", "documentNumber": DOC},
        "signature": {"flowType": "App2App"},
        "cert": _cert_json(cert),
    }
    result = _validator(pki).certificate_choice(session, SessionStatus.parse(body))
    assert result.certificate == cert and result.flow_type == "App2App"
    body["signature"] = {"flowType": "App2App", "value": b64(b"x")}
    with pytest.raises(ResponseMismatchError):
        _validator(pki).certificate_choice(session, SessionStatus.parse(body))


# --- identity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "code", "born"),
    [
        ("EE", "40504040001", date(1905, 4, 4)),
        ("EE", "50001029996", date(2000, 1, 2)),
        ("LT", "39901012239", date(1999, 1, 1)),
        ("EE", "10101010005", date(1801, 1, 1)),
        ("LV", "050405-10009", date(1905, 4, 5)),
        ("LV", "311299-19993", date(1999, 12, 31)),
        ("LV", "010111-23474", date(2011, 1, 1)),
        ("LV", "320000-10003", None),  # the new format carries no date
        ("LV", "329999-99709", None),
        ("EE", "90504040001", None),
        ("EE", "40513400001", None),  # month 13
        ("BE", "05040400032", None),
        ("CZ", "1234567890", None),
    ],
)
def test_date_of_birth_from_code(country: str, code: str, born: date | None) -> None:
    assert date_of_birth_from_code(country, code) == born


def test_date_of_birth_rules_agree_with_python_stdnum() -> None:
    """The documented rules are python-stdnum's (when it is installed)."""
    pvn = pytest.importorskip("stdnum.lv.pvn")
    ik = pytest.importorskip("stdnum.ee.ik")
    for code in ("050405-10009", "311299-19993", "010111-23474", "030403-10016"):
        assert date_of_birth_from_code("LV", code) == pvn.get_birth_date(code)
    for code in ("40504040001", "50001029996", "39901012239", "61101012257"):
        assert date_of_birth_from_code("EE", code) == ik.get_birth_date(code)


def test_identity_of_a_latvian_certificate(pki: Pki) -> None:
    person = Person(
        given_name="ANNA", surname="BĒRZIŅA", country="LV",
        semantics_identifier="PNOLV-329999-99901", document_number="PNOLV-329999-99901-MOCK-Q",
    )  # fmt: skip
    identity = identity_from_certificate(pki.certificate("auth", person=person))
    assert (identity.identity_type, identity.identity_country) == ("PNO", "LV")
    assert identity.personal_code == "329999-99901"  # split on the first hyphen only
    assert identity.date_of_birth is None and identity.surname == "BĒRZIŅA"


def test_load_certificates_der_and_pem(pki: Pki) -> None:
    der = pki.root.public_bytes(serialization.Encoding.DER)
    pem = pki.ca.public_bytes(serialization.Encoding.PEM) * 2
    assert load_certificates(der, pem) == [pki.root, pki.ca, pki.ca]
    assert base64.b64encode(der)
