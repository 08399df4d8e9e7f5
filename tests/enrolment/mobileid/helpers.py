"""A tiny test PKI and a scripted MID REST service on httpx.MockTransport (no network)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from enrolment.mobileid.client import MobileIdClient
from tests.personas import ALICE

BASE = "https://mid.test/mid-api"
RP_UUID = "de305d54-75b4-431b-adb2-eb6b9e546014"
RP_NAME = "BANK"
# Alice, as Mobile-ID knows her: her phone number and personal code.
ALICE_PHONE = ALICE.phone.replace(" ", "")
ALICE_CODE = ALICE.personal_code
#: The names on her certificate, in capitals as on an ID-card.
SURNAME, GIVEN_NAME = ALICE.surname.upper(), ALICE.given_name.upper()
NOW = datetime.now(UTC)


def _ku(*, digital_signature: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@cache
def ca(label: str = "trusted") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA; every label has the same name, so a "foreign" one differs only by its key."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST of ESTEID2018")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ku(digital_signature=False, ca=True), critical=True)
        .sign(key, hashes.SHA384())
    )
    return key, certificate


@dataclass
class Subscriber:
    key: Any
    certificate: x509.Certificate


def subscriber(
    *,
    key: Any = None,
    issuer: str = "trusted",
    identity: str = f"PNOEE-{ALICE_CODE}",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    digital_signature: bool = True,
    leaf_is_ca: bool = False,
    country: str = "EE",
) -> Subscriber:
    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    ca_key, ca_certificate = ca(issuer)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{SURNAME},{GIVEN_NAME},{identity}"),
            x509.NameAttribute(NameOID.SURNAME, SURNAME),
            x509.NameAttribute(NameOID.GIVEN_NAME, GIVEN_NAME),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, identity),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=30))
        .not_valid_after(not_after or NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=leaf_is_ca, path_length=None), critical=True)
        .add_extension(_ku(digital_signature=digital_signature, ca=False), critical=True)
        .sign(ca_key, hashes.SHA384())
    )
    return Subscriber(key, certificate)


def sign(sub: Subscriber, digest: bytes) -> tuple[bytes, str]:
    """The SIM's answer over ``digest``: (signature bytes, algorithm name)."""
    if isinstance(sub.key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(sub.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()))))
        size = (sub.key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big"), "SHA256WithECEncryption"
    assert isinstance(sub.key, rsa.RSAPrivateKey)
    return sub.key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256())), (
        "SHA256WithRSAEncryption"
    )


def ok_status(sub: Subscriber, digest: bytes, **overrides: Any) -> dict[str, Any]:
    signature, algorithm = sign(sub, digest)
    document: dict[str, Any] = {
        "state": "COMPLETE",
        "result": "OK",
        "signature": {"value": base64.b64encode(signature).decode(), "algorithm": algorithm},
        "cert": base64.b64encode(sub.certificate.public_bytes(Encoding.DER)).decode(),
        "time": "2025-01-01T00:00:00",
        "traceId": "0123456789abcdef",
    }
    document.update(overrides)
    return document


StatusScript = Callable[[bytes], httpx.Response]


@dataclass
class FakeMid:
    """Scripted service: ``start`` answers the POST, ``statuses`` the polls in order
    (each a function of the digest the client sent, so a signature can be made over it)."""

    statuses: list[StatusScript] = field(default_factory=list)
    start: httpx.Response | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    digest: bytes = b""

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "mid.test"  # nothing leaves the process
        self.requests.append(request)
        if request.method == "POST":
            body = json.loads(request.content)
            self.digest = base64.b64decode(body["hash"])
            return self.start or httpx.Response(200, json={"sessionID": "sess-1"})
        script = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return script(self.digest)

    def client(self, **kwargs: Any) -> MobileIdClient:
        options: dict[str, Any] = {
            "base_url": BASE,
            "relying_party_uuid": RP_UUID,
            "relying_party_name": RP_NAME,
            "trust_anchors": [ca("trusted")[1]],
            "http": httpx.Client(transport=httpx.MockTransport(self.handler)),
            "poll_timeout_ms": 1000,
            "overall_timeout_s": 5,
        }
        options.update(kwargs)
        return MobileIdClient(**options)


def json_status(document: Any, status: int = 200) -> StatusScript:
    return lambda _digest: httpx.Response(status, json=document)


def ok(sub: Subscriber, **overrides: Any) -> StatusScript:
    return lambda digest: httpx.Response(200, json=ok_status(sub, digest, **overrides))
