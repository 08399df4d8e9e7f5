"""The virtual ID-card: a test ID-card CA, cards with the real profile, and their OCSP.

For tests and the demo only (``PORTAL_VIRTUAL_CARD``; a system check refuses it in
live). The CA and every card key are *derived* from a seed (HMAC-SHA-384 → an EC P-384
private scalar), so every process of one installation — the web server, the test
runner, ``demo_setup`` — has the same CA and the same card for a personal code without
sharing any file or table. That is exactly why it must never be trusted in production:
anyone who knows the seed can make any card.

The card certificates follow the Estonian ID-card authentication profile: subject C,
CN "SURNAME,GIVEN,CODE", SN, GN, serialNumber PNOEE-CODE; KU digitalSignature +
keyAgreement; EKU clientAuth + emailProtection; ID-card and NCP+ policies; AIA with the
OCSP responder. The card signs Web eID tokens (ES384 over H(origin) || H(nonce)).

The core (``VirtualCardAuthority``, ``VirtualCard``) does not import Django; the
functions at the end bind it to the settings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from pki.profiles import key_usage

CA_COMMON_NAME = "TEST of VIRTUAL-ESTEID 2025"
CA_ORGANIZATION = "Open eID virtual ID-card (test only)"
POLICY_ID_CARD_AUTH = "1.3.6.1.4.1.10015.1.1"  # ESTEID-SK 2015 ID-card, as on test cards
POLICY_NCP_PLUS = "0.4.0.2042.1.2"
POLICY_MOBILE_ID = "1.3.6.1.4.1.10015.1.3"  # disallowed by default: for negative tests
CA_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
CA_NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)
CARD_NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)
CARD_NOT_AFTER = datetime(2039, 1, 1, tzinfo=UTC)
APP_VERSION = "https://web-eid.eu/web-eid-app/releases/virtual-card"
_CURVE = ec.SECP384R1()
_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)


def _derive_key(seed: bytes, label: str) -> ec.EllipticCurvePrivateKey:
    value = int.from_bytes(hmac.new(seed, label.encode(), hashlib.sha384).digest(), "big")
    return ec.derive_private_key(value % (_ORDER - 1) + 1, _CURVE)


def _serial(seed: bytes, label: str) -> int:
    digest = hmac.new(seed, b"serial:" + label.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:16], "big") | (1 << 120)  # positive, 121..128 bits


@dataclass(frozen=True)
class CardSpec:
    """A card's holder and everything a negative test may want to change."""

    identity_code: str
    given_name: str
    surname: str
    country: str = "EE"
    not_before: datetime = CARD_NOT_BEFORE
    not_after: datetime = CARD_NOT_AFTER
    eku: tuple[x509.ObjectIdentifier, ...] = (
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
    )
    policies: tuple[str, ...] = (POLICY_ID_CARD_AUTH, POLICY_NCP_PLUS)
    variant: str = ""  # a different label = a different key and serial

    @property
    def semantics_identifier(self) -> str:
        return f"PNO{self.country}-{self.identity_code}"

    @property
    def label(self) -> str:
        return f"card:{self.semantics_identifier}:{self.variant}"


@dataclass
class VirtualCard:
    spec: CardSpec
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    def certificate_b64(self) -> str:
        return base64.b64encode(self.certificate.public_bytes(Encoding.DER)).decode()

    def sign_raw(self, data: bytes) -> bytes:
        """ES384 as the card does it: raw r || s, 48 bytes each."""
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA384())))
        return r.to_bytes(48, "big") + s.to_bytes(48, "big")

    def token_for(self, origin: str, nonce: str, *, fmt: str = "web-eid:1.0") -> dict[str, str]:
        """A Web eID authentication token, exactly as the extension returns it."""
        signed = hashlib.sha384(origin.encode()).digest() + hashlib.sha384(nonce.encode()).digest()
        return {
            "unverifiedCertificate": self.certificate_b64(),
            "algorithm": "ES384",
            "signature": base64.b64encode(self.sign_raw(signed)).decode(),
            "format": fmt,
            "appVersion": APP_VERSION,
        }


@dataclass
class VirtualCardAuthority:
    """The test ID-card CA of one seed, with its OCSP responder."""

    seed: bytes
    ocsp_url: str = "http://127.0.0.1/portal/virtual-card/ocsp"
    ca_issuers_url: str = "http://127.0.0.1/portal/virtual-card/ca.crt"
    common_name: str = CA_COMMON_NAME
    _cards: dict[CardSpec, VirtualCard] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.key = _derive_key(self.seed, f"ca:{self.common_name}")
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "EE"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, self.common_name),
            ]
        )
        public = self.key.public_key()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(_serial(self.seed, f"ca:{self.common_name}"))
            .not_valid_before(CA_NOT_BEFORE)
            .not_valid_after(CA_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                key_usage(digital_signature=True, ca=True),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA384())
        )

    def card(self, spec: CardSpec) -> VirtualCard:
        found = self._cards.get(spec)
        if found is None:
            found = self._issue(spec)
            if len(self._cards) >= MAX_CACHED_CARDS:  # anyone may ask for any code (demo)
                self._cards.pop(next(iter(self._cards)))
            self._cards[spec] = found
        return found

    def _issue(self, spec: CardSpec) -> VirtualCard:
        key = _derive_key(self.seed, spec.label)
        public = key.public_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, spec.country),
                x509.NameAttribute(
                    NameOID.COMMON_NAME,
                    f"{spec.surname.upper()},{spec.given_name.upper()},{spec.identity_code}",
                ),
                x509.NameAttribute(NameOID.SURNAME, spec.surname.upper()),
                x509.NameAttribute(NameOID.GIVEN_NAME, spec.given_name.upper()),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, spec.semantics_identifier),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public)
            .serial_number(_serial(self.seed, spec.label))
            .not_valid_before(spec.not_before)
            .not_valid_after(spec.not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                key_usage(digital_signature=True, key_agreement=True),
                critical=True,
            )
            .add_extension(
                x509.CertificatePolicies(
                    [
                        x509.PolicyInformation(x509.ObjectIdentifier(oid), None)
                        for oid in spec.policies
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(self.ocsp_url),
                        ),
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(self.ca_issuers_url),
                        ),
                    ]
                ),
                critical=False,
            )
        )
        if spec.eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
        return VirtualCard(spec, key, builder.sign(self.key, hashes.SHA384()))

    def ocsp_respond(
        self,
        request_der: bytes,
        *,
        revoked: Mapping[int, datetime] | None = None,
        now: datetime | None = None,
    ) -> bytes:
        """Answer an OCSP request for this CA's cards, signed by the CA itself.

        Every serial this CA could have issued is "good" unless listed in ``revoked``;
        the nonce is echoed. Garbage gets ``malformedRequest``, other CAs
        ``unauthorized``.
        """
        revoked = revoked or {}
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            serial = request.serial_number
            algorithm = request.hash_algorithm
            name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
            extensions = list(request.extensions)
        except Exception:  # cryptography raises several types for hostile requests
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        expected = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(self.certificate, self.certificate, algorithm)
            .build()
        )
        # A CertID names the issuer by the hashes of its name and of its key.
        if not (
            hmac.compare_digest(expected.issuer_name_hash, name_hash)
            and hmac.compare_digest(expected.issuer_key_hash, key_hash)
        ):
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        # The builder wants a certificate for the CertID; a stand-in with the serial.
        stand_in = _stand_in(self, serial)
        revoked_at = revoked.get(serial)
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=stand_in,
            issuer=self.certificate,
            algorithm=algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED
            if revoked_at is not None
            else ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + timedelta(hours=1),
            revocation_time=revoked_at.replace(tzinfo=None) if revoked_at is not None else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked_at is not None else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.certificate)
        for extension in extensions:
            if isinstance(extension.value, x509.OCSPNonce):
                builder = builder.add_extension(extension.value, critical=False)
        return builder.sign(self.key, hashes.SHA384()).public_bytes(Encoding.DER)


def _stand_in(authority: VirtualCardAuthority, serial: int) -> x509.Certificate:
    """A throw-away certificate with the asked serial (only its serial reaches the CertID)."""
    return (
        x509.CertificateBuilder()
        .subject_name(authority.certificate.subject)
        .issuer_name(authority.certificate.subject)
        .public_key(authority.key.public_key())
        .serial_number(serial)
        .not_valid_before(CA_NOT_BEFORE)
        .not_valid_after(CA_NOT_AFTER)
        .sign(authority.key, hashes.SHA384())
    )


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(Encoding.DER)


def in_process_client(
    authority: VirtualCardAuthority,
    fallback: Callable[[str, bytes, float], bytes],
    revoked: Callable[[], Mapping[int, datetime]] = dict,
    clock: Callable[[], datetime] | None = None,
) -> Callable[[str, bytes, float], bytes]:
    """An OCSP client that answers the virtual CA's URL in-process, others by ``fallback``.

    The server never calls itself over HTTP: a synchronous view waiting on another
    request of the same server would wait for a thread that it occupies.
    """

    def client(url: str, request_der: bytes, timeout: float) -> bytes:
        if url == authority.ocsp_url:
            now = clock() if clock is not None else None
            return authority.ocsp_respond(request_der, revoked=revoked(), now=now)
        return fallback(url, request_der, timeout)

    return client


# --- binding to the Django settings -------------------------------------------------

#: Demo persons with a virtual card (shown on the login page when the card is enabled);
#: each is in the demo population registry with these names (``demo.registry``).
DEMO_CARDS = (
    CardSpec(identity_code="38001085718", given_name="Mari-Liis", surname="Männik"),
    CardSpec(identity_code="49002124277", given_name="Alice", surname="Tamm"),
    CardSpec(identity_code="38812245713", given_name="Bob", surname="Kask"),
)
REVOKED_CACHE_KEY = "portal:virtualcard:revoked"


@lru_cache(maxsize=4)
def _authority(seed: bytes, site_url: str) -> VirtualCardAuthority:
    return VirtualCardAuthority(
        seed=seed,
        ocsp_url=f"{site_url}/portal/virtual-card/ocsp",
        ca_issuers_url=f"{site_url}/portal/virtual-card/ca.crt",
    )


def authority() -> VirtualCardAuthority:
    """This installation's virtual CA (seeded from SECRET_KEY, addressed at SITE_URL)."""
    from django.conf import settings

    seed = hmac.new(settings.SECRET_KEY.encode(), b"portal-virtual-card-v1", hashlib.sha256)
    return _authority(seed.digest(), settings.SITE_URL.rstrip("/"))


#: Cards kept per process: the demo's token endpoint makes a card for any personal code,
#: so the cache must not grow with what visitors type.
MAX_CACHED_CARDS = 256


def card_for(identity_code: str) -> VirtualCard:
    """A demo card by personal code, or a generic one for any other code."""
    for spec in DEMO_CARDS:
        if spec.identity_code == identity_code:
            return authority().card(spec)
    return authority().card(
        CardSpec(identity_code=identity_code, given_name="Test", surname="Card")
    )


def revoked_serials() -> dict[int, datetime]:
    """Serials revoked with ``virtual_card_revoke`` (kept in the shared cache)."""
    from django.core.cache import cache

    stored: Any = cache.get(REVOKED_CACHE_KEY)
    if not isinstance(stored, dict):
        return {}
    return {int(k, 16): v for k, v in stored.items() if isinstance(v, datetime)}


def virtual_card_revoke(card: VirtualCard, *, at: datetime | None = None) -> None:
    """Let the virtual CA's OCSP say "revoked" for this card (tests and demo)."""
    from django.core.cache import cache

    stored = {f"{k:x}": v for k, v in revoked_serials().items()}
    stored[f"{card.serial:x}"] = at or datetime.now(UTC)
    cache.set(REVOKED_CACHE_KEY, stored, timeout=None)


def portal_demo_setup(*, base_url: str) -> list[str]:
    """What ``demo_setup`` prints about the portal: how to log in with a virtual card.

    Nothing to create: the virtual CA and the cards are derived from the seed on use.
    """
    from django.conf import settings

    if not settings.PORTAL_VIRTUAL_CARD:
        return [f"  Portal:   {base_url}/portal/  (ID-card login; virtual card off)", ""]
    lines = [
        f"  Portal:   {base_url}/portal/  (ID-card login: pick a virtual card, press Log in)",
        f"            test ID-card CA: {base_url}/portal/virtual-card/ca.crt",
    ]
    for spec in DEMO_CARDS:
        lines.append(f"            {spec.given_name} {spec.surname}: {spec.semantics_identifier}")
    return [*lines, ""]
