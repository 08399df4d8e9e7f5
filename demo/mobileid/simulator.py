"""A local Mobile-ID service for dev, demo and tests: SK's MID REST wire format, no phones.

The simulator answers ``POST /mid-api/authentication`` and the long poll
``GET /mid-api/authentication/session/{id}`` exactly like SK's demo service does for its
published test numbers (:data:`SUBSCRIBERS`, modelled on SK's demo table), plus three
numbers of ours whose answers must be *refused* by a correct client: a signature that
does not verify, a certificate from a foreign CA (same issuer name, other key) and an
expired certificate. Any other phone/code pair is NOT_MID_CLIENT, as on the real service.

Keys are derived from fixed public seeds, so every process (web workers, Celery, the
test process) has the same CA and subscriber keys without sharing files; that is also
why nothing here may ever be trusted in live (``smartid.checks`` refuses
``MOBILE_ID_SIMULATOR`` there). Sessions live in Django's cache (Redis when configured),
so a session started on one process can be polled on another. The simulated person
answers ``MOBILE_ID_SIMULATOR_DELAY_MS`` after the start (0 in tests).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.cache import cache as django_cache

from enrolment.mobileid.client import HASH_TYPES
from pki.profiles import key_usage

# Public on purpose: anyone can rebuild these keys. Test use only, never trusted in live.
_SEED = b"open-eid mobile-id simulator v1: public test keys, refused in live"
_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}
CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Open eID simulator"),
        x509.NameAttribute(NameOID.COMMON_NAME, "TEST of Mobile-ID simulator CA"),
    ]
)
_CA_VALIDITY = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2045, 1, 1, tzinfo=UTC))
_SUBSCRIBER_VALIDITY = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2039, 1, 1, tzinfo=UTC))
_EXPIRED_VALIDITY = (datetime(2015, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC))

#: Sessions are forgotten after 5 minutes, as on SK's service (§3.3.9: 404 afterwards).
SESSION_TTL_S = 300
_CACHE_PREFIX = "mobileid-sim:session:"


class Behaviour(StrEnum):
    """What the simulated phone does with an authentication request."""

    OK = "OK"
    NOT_MID_CLIENT = "NOT_MID_CLIENT"
    USER_CANCELLED = "USER_CANCELLED"
    TIMEOUT = "TIMEOUT"
    PHONE_ABSENT = "PHONE_ABSENT"
    DELIVERY_ERROR = "DELIVERY_ERROR"
    SIM_ERROR = "SIM_ERROR"
    SIGNATURE_HASH_MISMATCH = "SIGNATURE_HASH_MISMATCH"
    # Answers OK, but a correct client must refuse them:
    WRONG_SIGNATURE = "WRONG_SIGNATURE"
    FOREIGN_CA = "FOREIGN_CA"
    EXPIRED_CERTIFICATE = "EXPIRED_CERTIFICATE"


@dataclass(frozen=True)
class SimulatedSubscriber:
    phone_number: str
    national_identity_number: str
    given_name: str
    surname: str
    behaviour: Behaviour
    country: str = "EE"
    curve: str = "secp256r1"

    @property
    def semantics_identifier(self) -> str:
        return f"PNO{self.country}-{self.national_identity_number}"


#: The simulated subscribers: SK's published demo numbers, then ours (docs/mobile-id.md).
SUBSCRIBERS: tuple[SimulatedSubscriber, ...] = (
    SimulatedSubscriber(
        "+37200000766", "60001019906", "MARY ÄNN", "O’CONNEŽ-ŠUSLIK TESTNUMBER", Behaviour.OK
    ),
    SimulatedSubscriber(
        "+37268000769", "60001017869", "JAAN", "TESTNUMBER", Behaviour.OK, curve="secp384r1"
    ),
    SimulatedSubscriber(
        "+37200000266", "60001019939", "NOT", "MIDCLIENT", Behaviour.NOT_MID_CLIENT
    ),
    SimulatedSubscriber(
        "+37200000366", "60001019928", "NOT", "MIDCLIENT", Behaviour.NOT_MID_CLIENT
    ),
    SimulatedSubscriber(
        "+37066000266", "50001018908", "TIMEOUT", "TESTNUMBER", Behaviour.TIMEOUT, country="LT"
    ),
    SimulatedSubscriber(
        "+37201100266", "60001019950", "CANCEL", "TESTNUMBER", Behaviour.USER_CANCELLED
    ),
    SimulatedSubscriber(
        "+37213100266", "60001019983", "ABSENT", "TESTNUMBER", Behaviour.PHONE_ABSENT
    ),
    SimulatedSubscriber(
        "+37207110066", "60001019947", "DELIVERY", "TESTNUMBER", Behaviour.DELIVERY_ERROR
    ),
    SimulatedSubscriber("+37201200266", "60001019972", "SIM", "TESTNUMBER", Behaviour.SIM_ERROR),
    SimulatedSubscriber(
        "+37200000666", "60001019961", "MISMATCH", "TESTNUMBER", Behaviour.SIGNATURE_HASH_MISMATCH
    ),
    SimulatedSubscriber(
        "+37200009901", "39001010011", "WRONG", "SIGNATURE", Behaviour.WRONG_SIGNATURE
    ),
    SimulatedSubscriber("+37200009902", "49001010012", "FOREIGN", "ISSUER", Behaviour.FOREIGN_CA),
    SimulatedSubscriber(
        "+37200009903", "39001010022", "EXPIRED", "CERTIFICATE", Behaviour.EXPIRED_CERTIFICATE
    ),
)
_BY_PAIR = {(s.phone_number, s.national_identity_number): s for s in SUBSCRIBERS}


def subscriber_for(phone_number: str, national_identity_number: str) -> SimulatedSubscriber | None:
    """The subscriber with exactly this phone number and identity code, if any."""
    return _BY_PAIR.get((phone_number, national_identity_number))


# --- the test PKI ----------------------------------------------------------------------


def _curve(name: str) -> ec.EllipticCurve:
    return ec.SECP384R1() if name == "secp384r1" else ec.SECP256R1()


def _derived_key(label: str, curve_name: str) -> ec.EllipticCurvePrivateKey:
    """A private key fixed by ``label``: the same in every process, no file needed."""
    order = _ORDERS[curve_name]
    stream = hashlib.shake_256(_SEED + b"\x00" + label.encode()).digest(64)
    scalar = int.from_bytes(stream, "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, _curve(curve_name))


def _serial(label: str) -> int:
    return int.from_bytes(hashlib.sha256(_SEED + label.encode()).digest()[:16], "big") >> 1


@cache
def _ca(which: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The simulator's CA (``"trusted"``) or an impostor with the same name (``"foreign"``)."""
    key = _derived_key(f"ca:{which}", "secp384r1")
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(CA_NAME)
        .issuer_name(CA_NAME)
        .public_key(public)
        .serial_number(_serial(f"ca:{which}"))
        .not_valid_before(_CA_VALIDITY[0])
        .not_valid_after(_CA_VALIDITY[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(ca=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA384())
    )
    return key, certificate


def simulator_trust_anchors() -> list[x509.Certificate]:
    """The simulator's CA certificate, for the client's trust anchors outside live."""
    return [_ca("trusted")[1]]


def subscriber_key(subscriber: SimulatedSubscriber) -> ec.EllipticCurvePrivateKey:
    return _derived_key(f"subscriber:{subscriber.phone_number}", subscriber.curve)


@cache
def subscriber_certificate(subscriber: SimulatedSubscriber) -> x509.Certificate:
    """The subscriber's authentication certificate, shaped like a real Mobile-ID one."""
    foreign = subscriber.behaviour is Behaviour.FOREIGN_CA
    ca_key, ca_certificate = _ca("foreign" if foreign else "trusted")
    expired = subscriber.behaviour is Behaviour.EXPIRED_CERTIFICATE
    not_before, not_after = _EXPIRED_VALIDITY if expired else _SUBSCRIBER_VALIDITY
    identifier = subscriber.semantics_identifier
    public = subscriber_key(subscriber).public_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, subscriber.country),
            x509.NameAttribute(
                NameOID.COMMON_NAME,
                f"{subscriber.surname},{subscriber.given_name},{identifier}"[:64],
            ),
            x509.NameAttribute(NameOID.SURNAME, subscriber.surname),
            x509.NameAttribute(NameOID.GIVEN_NAME, subscriber.given_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, identifier),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(public)
        .serial_number(_serial(f"subscriber:{subscriber.phone_number}"))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(
            key_usage(digital_signature=True, key_agreement=True),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(ca_key, hashes.SHA384())
    )


def sign_hash(subscriber: SimulatedSubscriber, digest: bytes, hash_type: str) -> bytes:
    """What the SIM returns: ECDSA over the raw digest, as r||s of fixed width."""
    key = subscriber_key(subscriber)
    der = key.sign(digest, ec.ECDSA(Prehashed(HASH_TYPES[hash_type])))
    r, s = decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


# --- sessions ----------------------------------------------------------------------------


async def session_start(
    *, phone_number: str, national_identity_number: str, digest: bytes, hash_type: str
) -> str:
    """Store a new session; the simulated person answers after the configured delay."""
    session_id = secrets.token_hex(16)
    session_id = "-".join(
        (session_id[:8], session_id[8:12], session_id[12:16], session_id[16:20], session_id[20:])
    )
    delay_s = settings.MOBILE_ID_SIMULATOR_DELAY_MS / 1000
    await django_cache.aset(
        _CACHE_PREFIX + session_id,
        {
            "phone": phone_number,
            "nid": national_identity_number,
            "hash": base64.b64encode(digest).decode("ascii"),
            "hash_type": hash_type,
            "answer_at": time.time() + delay_s,
        },
        SESSION_TTL_S,
    )
    return session_id


async def session_load(session_id: str) -> dict[str, Any] | None:
    value = await django_cache.aget(_CACHE_PREFIX + session_id)
    return value if isinstance(value, dict) else None


def _trace_fields() -> dict[str, str]:
    return {
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "traceId": secrets.token_hex(8),
    }


def session_answer(session: dict[str, Any]) -> dict[str, Any]:
    """The COMPLETE status document of a session whose answer time has come."""
    subscriber = subscriber_for(session["phone"], session["nid"])
    behaviour = Behaviour.NOT_MID_CLIENT if subscriber is None else subscriber.behaviour
    if subscriber is None or behaviour.value in RESULT_ONLY:
        return {"state": "COMPLETE", "result": behaviour.value, **_trace_fields()}
    digest = base64.b64decode(session["hash"])
    if behaviour is Behaviour.WRONG_SIGNATURE:
        # A well-formed signature, but over another hash than the relying party's.
        digest = hashlib.new(session["hash_type"].replace("SHA", "sha"), digest).digest()
    certificate = subscriber_certificate(subscriber)
    algorithm = f"{session['hash_type']}WithECEncryption"
    return {
        "state": "COMPLETE",
        "result": "OK",
        "signature": {
            "value": base64.b64encode(sign_hash(subscriber, digest, session["hash_type"])).decode(),
            "algorithm": algorithm,
        },
        "cert": base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii"),
        **_trace_fields(),
    }


#: Behaviours that end the session with that result and nothing else.
RESULT_ONLY = frozenset(
    b.value
    for b in Behaviour
    if b
    not in (
        Behaviour.OK,
        Behaviour.WRONG_SIGNATURE,
        Behaviour.FOREIGN_CA,
        Behaviour.EXPIRED_CERTIFICATE,
    )
)


def running_document() -> dict[str, Any]:
    return {"state": "RUNNING", **_trace_fields()}


def error_document(message: str) -> dict[str, Any]:
    return {"error": message, **_trace_fields()}
