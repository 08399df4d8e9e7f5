"""The standalone Web eID validator, with tokens made by the virtual ID-card.

No database and no Django settings: the validator and the virtual CA are plain
Python. OCSP answers come from the virtual CA's responder through an injected client.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from demo.virtualcard import (
    POLICY_MOBILE_ID,
    CardSpec,
    VirtualCard,
    VirtualCardAuthority,
    in_process_client,
)
from portal import webeid

ORIGIN = "https://eid.example.org"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def clock() -> datetime:
    return NOW


def unreachable(url: str, request: bytes, timeout: float) -> bytes:
    raise OSError("connection refused")


@pytest.fixture(scope="module")
def ca() -> VirtualCardAuthority:
    return VirtualCardAuthority(seed=b"validator-tests" * 2)


@pytest.fixture(scope="module")
def card(ca: VirtualCardAuthority) -> VirtualCard:
    return ca.card(CardSpec("38001085718", "Jaak-Kristjan", "Jõeorg"))


def trust_for(
    ca: VirtualCardAuthority,
    revoked: dict[int, datetime] | None = None,
    client: webeid.OcspClient | None = None,
    **ocsp: object,
) -> webeid.TrustConfig:
    answer = in_process_client(ca, unreachable, lambda: revoked or {}, clock)
    return webeid.TrustConfig(
        trusted_cas=(ca.certificate,),
        ocsp=webeid.OcspConfig(client=client or answer, **ocsp),  # type: ignore[arg-type]
    )


def fresh_nonce() -> str:
    return webeid.challenge_new(now=NOW).nonce


def validate(
    token: object,
    trust: webeid.TrustConfig,
    nonce: str,
    *,
    origin: str = ORIGIN,
    report: webeid.ClientReport | None = None,
) -> webeid.Identity:
    return webeid.validate_token(
        token, origin=origin, nonce=nonce, trust=trust, clock=clock, report=report
    )


def test_a_valid_token_names_the_card_holder(ca: VirtualCardAuthority, card: VirtualCard) -> None:
    nonce = fresh_nonce()
    identity = validate(card.token_for(ORIGIN, nonce), trust_for(ca), nonce)
    assert identity.semantics_identifier == "PNOEE-38001085718"
    assert (identity.given_name, identity.surname) == ("JAAK-KRISTJAN", "JÕEORG")
    assert (identity.country, identity.identity_code) == ("EE", "38001085718")
    assert identity.revocation == "good"
    assert identity.certificate.serial_number == card.serial
    # web-eid:1.1 tokens carry extra fields; they are accepted as 1.x.
    token = {
        **card.token_for(ORIGIN, nonce, fmt="web-eid:1.1"),
        "unverifiedSigningCertificates": [],
    }
    assert validate(token, trust_for(ca), nonce).identity_code == "38001085718"


def test_wrong_origin(ca: VirtualCardAuthority, card: VirtualCard) -> None:
    nonce = fresh_nonce()
    phished = card.token_for("https://eid.example.org.evil.example", nonce)
    with pytest.raises(webeid.SignatureInvalid) as plain:
        validate(phished, trust_for(ca), nonce)
    assert plain.value.code == "signature_invalid"
    # The browser's report names the origin; the card's own signature proves it.
    report = webeid.ClientReport(origin="https://eid.example.org.evil.example", nonce=nonce)
    with pytest.raises(webeid.OriginMismatch) as caught:
        validate(phished, trust_for(ca), nonce, report=report)
    assert caught.value.code == "origin_mismatch"


def test_wrong_nonce(ca: VirtualCardAuthority, card: VirtualCard) -> None:
    old, current = fresh_nonce(), fresh_nonce()
    token = card.token_for(ORIGIN, old)
    with pytest.raises(webeid.NonceMismatch) as caught:
        validate(token, trust_for(ca), current, report=webeid.ClientReport(ORIGIN, old))
    assert caught.value.code == "nonce_mismatch"
    # A report that the signature does not confirm changes nothing.
    lying = webeid.ClientReport("https://other.example", fresh_nonce())
    with pytest.raises(webeid.SignatureInvalid) as plain:
        validate(token, trust_for(ca), current, report=lying)
    assert type(plain.value) is webeid.SignatureInvalid


def test_reused_nonce_and_expired_challenge(ca: VirtualCardAuthority, card: VirtualCard) -> None:
    store: dict[str, webeid.Challenge] = {"alice": webeid.challenge_new(now=NOW)}
    nonce = webeid.challenge_take(store.pop("alice", None), now=NOW + timedelta(seconds=10))
    token = card.token_for(ORIGIN, nonce)
    assert validate(token, trust_for(ca), nonce).identity_code == "38001085718"
    with pytest.raises(webeid.ChallengeMissing) as reused:
        webeid.challenge_take(store.pop("alice", None), now=NOW)
    assert reused.value.code == "challenge_missing"
    late = webeid.challenge_new(now=NOW)
    with pytest.raises(webeid.ChallengeExpired) as expired:
        webeid.challenge_take(late, now=NOW + webeid.NONCE_TTL)
    assert expired.value.code == "challenge_expired"
    # 256 bits of entropy, base64.
    assert len(base64.b64decode(late.nonce)) == 32
    assert webeid.Challenge.from_dict(late.as_dict()) == late
    assert webeid.Challenge.from_dict({"nonce": 1}) is None


def test_expired_and_not_yet_valid_certificates(ca: VirtualCardAuthority) -> None:
    old = ca.card(
        CardSpec(
            "38001085718",
            "Jaak-Kristjan",
            "Jõeorg",
            not_before=datetime(2015, 1, 1, tzinfo=UTC),
            not_after=datetime(2020, 1, 1, tzinfo=UTC),
            variant="expired",
        )
    )
    nonce = fresh_nonce()
    with pytest.raises(webeid.CertificateExpired) as caught:
        validate(old.token_for(ORIGIN, nonce), trust_for(ca), nonce)
    assert caught.value.code == "certificate_expired"
    future = ca.card(
        CardSpec(
            "38001085718",
            "Jaak-Kristjan",
            "Jõeorg",
            not_before=datetime(2030, 1, 1, tzinfo=UTC),
            variant="future",
        )
    )
    with pytest.raises(webeid.CertificateNotYetValid):
        validate(future.token_for(ORIGIN, nonce), trust_for(ca), nonce)


def test_revoked_certificate_by_ocsp(ca: VirtualCardAuthority, card: VirtualCard) -> None:
    nonce = fresh_nonce()
    trust = trust_for(ca, revoked={card.serial: NOW - timedelta(days=1)})
    with pytest.raises(webeid.CertificateRevoked) as caught:
        validate(card.token_for(ORIGIN, nonce), trust, nonce)
    assert caught.value.code == "certificate_revoked"
    # Another card of the same CA is still good.
    other = ca.card(CardSpec("49002124277", "Alice", "Tamm"))
    assert validate(other.token_for(ORIGIN, nonce), trust, nonce).revocation == "good"


def test_untrusted_ca(ca: VirtualCardAuthority) -> None:
    stranger = VirtualCardAuthority(seed=b"another-authority" * 2)
    forged = stranger.card(CardSpec("38001085718", "Jaak-Kristjan", "Jõeorg"))
    nonce = fresh_nonce()
    with pytest.raises(webeid.CertificateNotTrusted) as caught:
        validate(forged.token_for(ORIGIN, nonce), trust_for(ca), nonce)
    assert caught.value.code == "certificate_untrusted"
    # Same CA name, different key: the name alone earns nothing.
    assert stranger.certificate.subject == ca.certificate.subject
    with pytest.raises(webeid.CertificateNotTrusted):
        webeid.validate_certificate(
            forged.certificate,
            trust=webeid.TrustConfig(trusted_cas=(), ocsp=None),
            clock=clock,
        )


def test_wrong_eku_and_disallowed_policy(ca: VirtualCardAuthority) -> None:
    nonce = fresh_nonce()
    signing_only = ca.card(
        CardSpec(
            "38001085718",
            "Jaak-Kristjan",
            "Jõeorg",
            eku=(ExtendedKeyUsageOID.EMAIL_PROTECTION,),
            variant="no-client-auth",
        )
    )
    with pytest.raises(webeid.CertificateWrongPurpose) as caught:
        validate(signing_only.token_for(ORIGIN, nonce), trust_for(ca), nonce)
    assert caught.value.code == "certificate_wrong_purpose"
    no_eku = ca.card(CardSpec("38001085718", "J", "J", eku=(), variant="no-eku"))
    with pytest.raises(webeid.CertificateWrongPurpose):
        validate(no_eku.token_for(ORIGIN, nonce), trust_for(ca), nonce)
    relaxed = webeid.TrustConfig(
        trusted_cas=(ca.certificate,), require_client_auth_eku=False, ocsp=None
    )
    assert validate(no_eku.token_for(ORIGIN, nonce), relaxed, nonce).revocation == "off"
    mobile_id = ca.card(
        CardSpec("38001085718", "J", "J", policies=(POLICY_MOBILE_ID,), variant="mobile")
    )
    with pytest.raises(webeid.CertificateDisallowedPolicy) as policy:
        validate(mobile_id.token_for(ORIGIN, nonce), trust_for(ca), nonce)
    assert policy.value.code == "certificate_disallowed_policy"


def _flip(token: dict[str, str], field: str, index: int = 10) -> dict[str, str]:
    raw = bytearray(base64.b64decode(token[field]))
    raw[index] ^= 0x01
    return {**token, field: base64.b64encode(bytes(raw)).decode()}


def test_tampered_signature_and_certificate(ca: VirtualCardAuthority, card: VirtualCard) -> None:
    nonce = fresh_nonce()
    token = card.token_for(ORIGIN, nonce)
    with pytest.raises(webeid.SignatureInvalid) as caught:
        validate(_flip(token, "signature"), trust_for(ca), nonce)
    assert caught.value.code == "signature_invalid"
    truncated = {**token, "signature": base64.b64encode(b"\x01" * 95).decode()}
    with pytest.raises(webeid.SignatureMalformed):
        validate(truncated, trust_for(ca), nonce)
    # Swapping in another card's certificate: its key did not sign.
    other = ca.card(CardSpec("49002124277", "Alice", "Tamm"))
    swapped = {**token, "unverifiedCertificate": other.certificate_b64()}
    with pytest.raises(webeid.SignatureInvalid):
        validate(swapped, trust_for(ca), nonce)


def _duplicated_extension(certificate_b64: str) -> str:
    """The certificate with its first extension twice (cryptography raises
    DuplicateExtension, not a ValueError: a 500 before; found by fuzz/webeid_token.py)."""
    parsed = asn1_x509.Certificate.load(base64.b64decode(certificate_b64))
    extensions = parsed["tbs_certificate"]["extensions"]
    extensions.append(asn1_x509.Extension.load(extensions[0].dump()))
    return base64.b64encode(parsed.dump(force=True)).decode()


def _bit_string_country(certificate_b64: str) -> str:
    """The certificate with its first C=EE as a BIT STRING (cryptography raises TypeError
    reading the name: a 500 before; found by fuzz/webeid_token.py)."""
    der = base64.b64decode(certificate_b64)
    country = bytes.fromhex("060355040613024545")
    assert country in der
    return base64.b64encode(der.replace(country, bytes.fromhex("060355040603020045"), 1)).decode()


def _version_4(certificate_b64: str) -> str:
    """The certificate as X.509 "v4" (InvalidVersion, not a ValueError; fuzz/webeid_token.py)."""
    der = base64.b64decode(certificate_b64)
    v3 = bytes.fromhex("a003020102")
    return base64.b64encode(der.replace(v3, bytes.fromhex("a003020103"), 1)).decode()


@pytest.mark.parametrize(
    ("mutation", "error"),
    [
        (lambda t: "not a dict", webeid.TokenMalformed),
        (
            lambda t: {**t, "unverifiedCertificate": _version_4(t["unverifiedCertificate"])},
            webeid.CertificateMalformed,
        ),
        (
            lambda t: {
                **t,
                "unverifiedCertificate": _bit_string_country(t["unverifiedCertificate"]),
            },
            webeid.CertificateMalformed,
        ),
        (
            lambda t: {
                **t,
                "unverifiedCertificate": _duplicated_extension(t["unverifiedCertificate"]),
            },
            webeid.CertificateMalformed,
        ),
        (lambda t: {**t, "format": "web-eid:2.0"}, webeid.FormatUnsupported),
        (lambda t: {**t, "format": None}, webeid.FormatUnsupported),
        (lambda t: {**t, "algorithm": "HS256"}, webeid.AlgorithmUnsupported),
        (lambda t: {**t, "algorithm": "ES256"}, webeid.AlgorithmUnsupported),
        (lambda t: {**t, "algorithm": "RS384"}, webeid.AlgorithmUnsupported),
        (lambda t: {**t, "algorithm": 5}, webeid.TokenMalformed),
        (lambda t: {**t, "signature": "***"}, webeid.TokenMalformed),
        (lambda t: {**t, "signature": ""}, webeid.TokenMalformed),
        (lambda t: {**t, "unverifiedCertificate": "AAAA"}, webeid.CertificateMalformed),
        (lambda t: {**t, "unverifiedCertificate": "A" * 20000}, webeid.TokenMalformed),
        (lambda t: {**t, "appVersion": ["x"]}, webeid.TokenMalformed),
        (lambda t: {k: v for k, v in t.items() if k != "signature"}, webeid.TokenMalformed),
    ],
)
def test_malformed_tokens(
    ca: VirtualCardAuthority,
    card: VirtualCard,
    mutation: Callable[[dict[str, str]], object],
    error: type[webeid.TokenValidationError],
) -> None:
    nonce = fresh_nonce()
    with pytest.raises(error):
        validate(mutation(card.token_for(ORIGIN, nonce)), trust_for(ca), nonce)


def test_ocsp_unreachable_policy_and_bad_answers(
    ca: VirtualCardAuthority, card: VirtualCard
) -> None:
    nonce = fresh_nonce()
    token = card.token_for(ORIGIN, nonce)
    with pytest.raises(webeid.OcspUnavailable) as closed:
        validate(token, trust_for(ca, client=unreachable), nonce)
    assert closed.value.code == "ocsp_unavailable"
    allowed = trust_for(ca, client=unreachable, when_unreachable="allow")
    assert validate(token, allowed, nonce).revocation == "unchecked"

    # A designated responder URL overrides the certificate's AIA address.
    seen: list[str] = []

    def recording(url: str, request: bytes, timeout: float) -> bytes:
        seen.append(url)
        return ca.ocsp_respond(request, now=NOW)

    designated = trust_for(ca, client=recording, responder_url="http://127.0.0.1:9/ocsp")
    assert validate(token, designated, nonce).revocation == "good"
    assert seen == ["http://127.0.0.1:9/ocsp"]

    # An answer from another CA's key, a replayed answer and garbage are refused
    # under either policy.
    stranger = VirtualCardAuthority(seed=b"another-authority" * 2)

    def forged(url: str, request: bytes, timeout: float) -> bytes:
        return stranger.ocsp_respond(request, now=NOW)

    with pytest.raises(webeid.OcspResponseInvalid):
        validate(token, trust_for(ca, client=forged, when_unreachable="allow"), nonce)
    recorded = ca.ocsp_respond(
        ca_request(ca, card), now=NOW
    )  # a genuine answer to an earlier request (another nonce)

    def replay(url: str, request: bytes, timeout: float) -> bytes:
        return recorded

    with pytest.raises(webeid.OcspResponseInvalid):
        validate(token, trust_for(ca, client=replay), nonce)

    def garbage(url: str, request: bytes, timeout: float) -> bytes:
        return b"\x30\x03\x0a\x01\x00"

    with pytest.raises(webeid.OcspResponseInvalid):
        validate(token, trust_for(ca, client=garbage, when_unreachable="allow"), nonce)

    def stale(url: str, request: bytes, timeout: float) -> bytes:
        return ca.ocsp_respond(request, now=NOW - timedelta(days=2))

    with pytest.raises(webeid.OcspResponseInvalid):
        validate(token, trust_for(ca, client=stale), nonce)


def ca_request(ca: VirtualCardAuthority, card: VirtualCard) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(card.certificate, ca.certificate, hashes.SHA256())
        .add_extension(x509.OCSPNonce(b"an earlier request"), critical=False)
        .build()
        .public_bytes(Encoding.DER)
    )


def _rsa_token(
    key: rsa.RSAPrivateKey, cert: x509.Certificate, alg: str, nonce: str
) -> dict[str, str]:
    hash_types: dict[str, type[hashes.HashAlgorithm]] = {
        "256": hashes.SHA256,
        "384": hashes.SHA384,
        "512": hashes.SHA512,
    }
    h = hash_types[alg[2:]]()

    def digest(text: str) -> bytes:
        d = hashes.Hash(h)
        d.update(text.encode())
        return d.finalize()

    data = digest(ORIGIN) + digest(nonce)
    pad: padding.AsymmetricPadding = (
        padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH)
        if alg.startswith("PS")
        else padding.PKCS1v15()
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return {
        "unverifiedCertificate": base64.b64encode(cert.public_bytes(Encoding.DER)).decode(),
        "algorithm": alg,
        "signature": base64.b64encode(key.sign(data, pad, h)).decode(),
        "format": "web-eid:1.0",
        "appVersion": "https://web-eid.eu/web-eid-app/releases/2.5.0",
    }


@pytest.mark.parametrize("alg", ["RS256", "PS384", "PS512", "RS512"])
def test_rsa_cards(ca: VirtualCardAuthority, card: VirtualCard, alg: str) -> None:
    """Cards with RSA keys (older and foreign cards) sign RS*/PS*; verified like ES*."""
    from datetime import timedelta as td

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(card.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - td(days=1))
        .not_valid_after(NOW + td(days=1))
    )
    for extension in card.certificate.extensions:
        if not isinstance(extension.value, x509.SubjectKeyIdentifier):
            builder = builder.add_extension(extension.value, extension.critical)
    cert = builder.sign(ca.key, hashes.SHA384())
    nonce = fresh_nonce()
    token = _rsa_token(key, cert, alg, nonce)
    assert validate(token, trust_for(ca), nonce).identity_code == "38001085718"
    with pytest.raises(webeid.SignatureInvalid):
        validate(_flip(token, "signature"), trust_for(ca), nonce)
    with pytest.raises(webeid.AlgorithmUnsupported):  # an RSA key cannot make ES384
        validate({**token, "algorithm": "ES384"}, trust_for(ca), nonce)


def test_origin_rules() -> None:
    assert webeid.check_origin("https://eid.example.org:8443") == "https://eid.example.org:8443"
    assert webeid.check_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert webeid.check_origin("http://localhost") == "http://localhost"
    for bad in ("http://eid.example.org", "https://eid.example.org/", "ftp://x", "", "https://"):
        with pytest.raises(ValueError, match="origin"):
            webeid.check_origin(bad)


def test_older_cards_identity_from_country_and_common_name(ca: VirtualCardAuthority) -> None:
    """Cards before ETSI semantics identifiers: code only in serialNumber, names in CN."""
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP384R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
            x509.NameAttribute(NameOID.COMMON_NAME, "MÄNNIK,MARI-LIIS,47101010033"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "47101010033"),
        ]
    )
    base = ca.card(CardSpec("38001085718", "J", "J"))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
    )
    for extension in base.certificate.extensions:
        if not isinstance(extension.value, x509.SubjectKeyIdentifier):
            builder = builder.add_extension(extension.value, extension.critical)
    identity = webeid.validate_certificate(
        builder.sign(ca.key, hashes.SHA384()), trust=trust_for(ca), clock=clock
    )
    assert identity.semantics_identifier == "PNOEE-47101010033"
    assert (identity.given_name, identity.surname) == ("MARI-LIIS", "MÄNNIK")


def test_the_validator_imports_no_django() -> None:
    code = (
        "import sys, portal.webeid, portal.webeid.validator, portal.webeid.ocsp;"
        "assert 'django' not in sys.modules, sorted(m for m in sys.modules if 'django' in m)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_an_ocsp_answer_with_an_unknown_signature_algorithm_is_invalid(
    ca: VirtualCardAuthority, card: VirtualCard
) -> None:
    """cryptography raises UnsupportedAlgorithm lazily: it must not escape as such."""
    ecdsa_sha384 = bytes.fromhex("06082a8648ce3d040303")

    def unknown_algorithm(url: str, request: bytes, timeout: float) -> bytes:
        answer = ca.ocsp_respond(request, now=NOW)
        assert ecdsa_sha384 in answer
        return answer.replace(ecdsa_sha384, bytes.fromhex("06082a8648ce3d040309"))

    nonce = fresh_nonce()
    token = card.token_for(ORIGIN, nonce)
    with pytest.raises(webeid.OcspResponseInvalid):
        validate(token, trust_for(ca, client=unknown_algorithm, when_unreachable="allow"), nonce)
