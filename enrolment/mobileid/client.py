"""A client for the Mobile-ID REST API (SK ID Solutions' "MID REST"), authentication only.

The flow (docs/mobile-id.md):

1. :meth:`MobileIdClient.authentication_start` picks a random hash, sends it with the
   person's phone number and identity code to ``POST {base}/authentication`` and gets a
   session id. The caller shows the person the :func:`verification_code` of the hash; the
   phone shows the same code, so the person can tell that this request is ours.
2. :meth:`MobileIdClient.authentication_finish` long-polls
   ``GET {base}/authentication/session/{id}?timeoutMs=…`` until the session is COMPLETE
   (or an overall deadline passes), then believes nothing in the answer until it has
   checked that the certificate was issued by one of the configured Mobile-ID CAs, is
   valid now and is meant for authentication, that the signature verifies over *our* hash
   with the certificate's key, and that the certificate names the person we asked about.

Only then is a :class:`MobileIdIdentity` returned; every failure is a
:class:`~enrolment.mobileid.errors.MobileIdError` with a stable ``code``.

The service is a stranger on the network, so every answer is bounded (size, nesting,
field lengths, types) before it is used. This module imports no Django: configuration
comes in as constructor arguments (``config.client_from_settings`` builds one from
the settings).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from accounts.identifiers import (
    SEMANTICS_ID_RE,
    InvalidIdentifier,
    personal_code_birth_date,
)
from enrolment.mobileid.errors import (
    RESULT_ERRORS,
    CertificateExpired,
    CertificateUntrusted,
    IdentityMismatch,
    InvalidInput,
    MalformedResponse,
    MobileIdError,
    ServiceUnavailable,
    SessionTimeout,
    SignatureInvalid,
)
from signing.engine import InvalidBase64, b64decode_strict

logger = logging.getLogger(__name__)

#: Largest answer we read from the service; a real one is about 3 KiB (certificate included).
MAX_RESPONSE_BYTES = 64 * 1024
#: Longest Base64 text of a certificate and of a signature we accept.
MAX_CERTIFICATE_B64 = 16 * 1024
MAX_SIGNATURE_B64 = 1024
MAX_SESSION_ID = 64
#: The service's long-poll bounds (MID REST §3.3.4: it clamps to about 1 s … 120 s).
MIN_POLL_MS, MAX_POLL_MS = 1000, 120_000
#: Added to the long-poll time for our own read timeout (SK advises ~1.5 s; we allow more).
POLL_GRACE_S = 5.0
#: A server that answers RUNNING at once (ignoring timeoutMs) is not polled faster than this.
MIN_POLL_INTERVAL_S = 0.25
CONNECT_TIMEOUT_S = 10.0

#: MID REST hash types and their digest algorithms (§2.3.1).
HASH_TYPES: dict[str, hashes.HashAlgorithm] = {
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}
LANGUAGES = frozenset({"EST", "ENG", "RUS", "LIT"})
DISPLAY_TEXT_GSM7_MAX = 40
DISPLAY_TEXT_UCS2_MAX = 20

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_SESSION_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_SIGNATURE_ALGORITHM = re.compile(r"SHA(256|384|512)WITH(EC|RSA)ENCRYPTION", re.IGNORECASE)
# GSM 03.38 basic character set and its extension table (displayTextFormat GSM-7).
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "^{}\\[~]|€"
)
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
MIN_RSA_BITS = 2048


def verification_code(hash_: bytes) -> str:
    """The Mobile-ID verification code of ``hash_`` (MID REST §2.4.1): 4 digits, 0000-8191.

    The 6 most significant bits of the first byte followed by the 7 least significant bits
    of the last byte, read as one 13-bit number. (Smart-ID's code is different: see
    ``signing.engine.vc``.)
    """
    if not isinstance(hash_, bytes) or not 1 <= len(hash_) <= 64:
        raise InvalidInput("the hash must be 1-64 bytes")
    return f"{((hash_[0] >> 2) << 7) | (hash_[-1] & 0x7F):04d}"


def personal_code_valid(code: str) -> bool:
    """True for a valid 11-digit Estonian/Lithuanian personal code (accounts.identifiers:
    century digit 1-6, a calendar date, the right check digit)."""
    try:
        personal_code_birth_date(code)
    except InvalidIdentifier:
        return False
    return True


@dataclass(frozen=True)
class MobileIdIdentity:
    """The person a verified Mobile-ID authentication certificate names."""

    semantics_identifier: str  # "PNOEE-60001019906"
    given_name: str
    surname: str
    country: str
    certificate_pem: str


@dataclass(frozen=True)
class MobileIdSession:
    """A started authentication: show ``verification_code``, then call ``authentication_finish``."""

    session_id: str
    verification_code: str
    hash: bytes
    hash_type: str = "SHA256"
    #: The identity code we asked about; the certificate must name the same person.
    national_identity_number: str = ""


def _b64decode(value: object, *, limit: int, what: str) -> bytes:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise MalformedResponse(f"{what} is missing, not a string or too long")
    try:
        return b64decode_strict(value, what=what)
    except InvalidBase64:
        raise MalformedResponse(f"{what} is not Base64") from None


def _check_display_text(text: str) -> str:
    """Return the displayTextFormat for ``text`` or refuse it (MID REST §3.2.3 limits)."""
    if not isinstance(text, str) or not text or "\x00" in text:
        raise InvalidInput("display text must be a non-empty string")
    if all(c in _GSM7 for c in text):
        if len(text) > DISPLAY_TEXT_GSM7_MAX:
            raise InvalidInput(f"display text is longer than {DISPLAY_TEXT_GSM7_MAX} characters")
        return "GSM-7"
    if len(text) > DISPLAY_TEXT_UCS2_MAX or any(ord(c) > 0xFFFF for c in text):
        raise InvalidInput(
            f"display text outside GSM-7 is limited to {DISPLAY_TEXT_UCS2_MAX} UCS-2 characters"
        )
    return "UCS-2"


def _one_attribute(name: x509.Name, oid: x509.ObjectIdentifier, what: str) -> str:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str) or not values[0].value.strip():
        raise MalformedResponse(f"the certificate subject must have exactly one {what}")
    return values[0].value.strip()


def identity_from_certificate(certificate: x509.Certificate) -> MobileIdIdentity:
    """Read the person from a Mobile-ID certificate's subject (C, GN, SN, serialNumber).

    Current certificates carry the ETSI semantics identifier (``PNOEE-60001019906``) in
    serialNumber; older ones the bare personal code, which we qualify with the country.
    """
    subject = certificate.subject
    country = _one_attribute(subject, NameOID.COUNTRY_NAME, "country").upper()
    if re.fullmatch(r"[A-Z]{2}", country) is None:
        raise MalformedResponse("the certificate's country is not two letters")
    serial = _one_attribute(subject, NameOID.SERIAL_NUMBER, "serialNumber")
    if SEMANTICS_ID_RE.fullmatch(serial) is None:
        if re.fullmatch(r"[0-9]{6,20}", serial) is None:
            raise MalformedResponse("the certificate's serialNumber is not a personal code")
        serial = f"PNO{country}-{serial}"
    return MobileIdIdentity(
        semantics_identifier=serial,
        given_name=_one_attribute(subject, NameOID.GIVEN_NAME, "given name"),
        surname=_one_attribute(subject, NameOID.SURNAME, "surname"),
        country=country,
        certificate_pem=certificate.public_bytes(Encoding.PEM).decode("ascii"),
    )


def check_certificate(
    certificate: x509.Certificate,
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> None:
    """Raise unless ``certificate`` is a valid authentication certificate of a trusted CA.

    As SK's own client does, the anchors are the issuing Mobile-ID CAs themselves: the
    certificate must be signed directly by one of them. A certificate that only copies a
    trusted CA's name is refused by the signature check.
    """
    now = now or datetime.now(UTC)
    issuer = None
    for anchor in trust_anchors:
        try:
            certificate.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        issuer = anchor
        break
    if issuer is None:
        raise CertificateUntrusted("the certificate was not issued by a trusted Mobile-ID CA")
    if not issuer.not_valid_before_utc <= now <= issuer.not_valid_after_utc:
        raise CertificateExpired("the issuing Mobile-ID CA's certificate is not valid now")
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CertificateExpired("the certificate is not valid now")
    try:
        extensions = certificate.extensions
    except ValueError:
        raise MalformedResponse("the certificate's extensions cannot be parsed") from None
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateUntrusted("a CA certificate cannot authenticate a person")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateUntrusted("the certificate has no key usage") from None
    if not usage.digital_signature:
        raise CertificateUntrusted("the certificate is not an authentication certificate")
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, _CURVES):
            raise CertificateUntrusted(f"unsupported curve {key.curve.name}")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CertificateUntrusted("the RSA key is too short")
    else:
        raise CertificateUntrusted("the certificate's key is neither EC nor RSA")


def verify_signature(
    certificate: x509.Certificate, signature: bytes, digest: bytes, hash_type: str
) -> None:
    """Raise :class:`SignatureInvalid` unless ``signature`` is the key's signature of ``digest``.

    EC: the SIM signs the raw digest and sends r||s (each half the length of the curve
    order), not DER. RSA: PKCS#1 v1.5 over the DigestInfo of the digest.
    """
    algorithm = HASH_TYPES.get(hash_type)
    if algorithm is None or len(digest) != algorithm.digest_size:
        raise InvalidInput("unknown hash type or wrong digest length")
    key = certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                raise SignatureInvalid("the EC signature has the wrong length")
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(algorithm)))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), Prehashed(algorithm))
        else:
            raise CertificateUntrusted("the certificate's key is neither EC nor RSA")
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        raise SignatureInvalid("the signature does not verify over our hash") from None


class MobileIdClient:
    """Authenticates a person with Mobile-ID and returns the verified identity.

    ``trust_anchors`` are the Mobile-ID issuing CA certificates (for SK's test service,
    "TEST of ESTEID2018"; for the local simulator, ``simulator_trust_anchors()``). Pass
    ``http`` to reuse a connection pool, pin TLS or use a proxy; it must not follow
    redirects to places you do not trust (the default client follows none).
    """

    def __init__(
        self,
        *,
        base_url: str,
        relying_party_uuid: str,
        relying_party_name: str,
        trust_anchors: Sequence[x509.Certificate],
        http: httpx.Client | None = None,
        poll_timeout_ms: int = 30000,
        overall_timeout_s: float = 120,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        if not trust_anchors:
            raise ValueError("at least one trusted Mobile-ID CA certificate is required")
        if not MIN_POLL_MS <= poll_timeout_ms <= MAX_POLL_MS:
            raise ValueError(f"poll_timeout_ms must be {MIN_POLL_MS}-{MAX_POLL_MS}")
        if not 0 < overall_timeout_s <= 600:
            raise ValueError("overall_timeout_s must be in (0, 600]")
        self.base_url = base_url.rstrip("/")
        self.relying_party_uuid = relying_party_uuid
        self.relying_party_name = relying_party_name
        self.trust_anchors = tuple(trust_anchors)
        self.poll_timeout_ms = poll_timeout_ms
        self.overall_timeout_s = overall_timeout_s
        self._http = http or httpx.Client(follow_redirects=False, trust_env=False)

    # --- the two steps ----------------------------------------------------------------

    def authentication_start(
        self,
        *,
        phone_number: str,
        national_identity_number: str,
        language: str = "ENG",
        display_text: str | None = None,
        digest: bytes | None = None,
    ) -> MobileIdSession:
        """Send the authentication request; the person's phone now asks for PIN1.

        ``digest`` (32 bytes) is the challenge to sign; a fresh random one by default. A
        caller that must show the verification code before the request is sent draws it
        itself (:func:`verification_code` of it).
        """
        if not isinstance(phone_number, str) or _PHONE.fullmatch(phone_number) is None:
            raise InvalidInput("the phone number must look like +37200000766")
        if not personal_code_valid(national_identity_number):
            raise InvalidInput("the identity code is not a valid 11-digit personal code")
        if language not in LANGUAGES:
            raise InvalidInput(f"language must be one of {', '.join(sorted(LANGUAGES))}")
        if digest is None:
            digest = secrets.token_bytes(32)  # a fresh random SHA-256-sized challenge
        elif not isinstance(digest, bytes) or len(digest) != 32:
            raise InvalidInput("the challenge must be 32 bytes (SHA-256 size)")
        body: dict[str, str] = {
            "relyingPartyUUID": self.relying_party_uuid,
            "relyingPartyName": self.relying_party_name,
            "phoneNumber": phone_number,
            "nationalIdentityNumber": national_identity_number,
            "hash": base64.b64encode(digest).decode("ascii"),
            "hashType": "SHA256",
            "language": language,
        }
        if display_text is not None:
            body["displayTextFormat"] = _check_display_text(display_text)
            body["displayText"] = display_text
        status, answer = self._call(
            "POST", f"{self.base_url}/authentication", json_body=body, read_timeout=30.0
        )
        self._raise_for_status(status, answer, what="start")
        session_id = answer.get("sessionID")
        if not isinstance(session_id, str) or _SESSION_ID.fullmatch(session_id) is None:
            raise MalformedResponse("the answer has no usable sessionID")
        return MobileIdSession(
            session_id=session_id,
            verification_code=verification_code(digest),
            hash=digest,
            hash_type="SHA256",
            national_identity_number=national_identity_number,
        )

    def authentication_finish(self, session: MobileIdSession) -> MobileIdIdentity:
        """Long-poll until the person answers, then verify everything (see the module doc)."""
        answer = self._poll_until_complete(session.session_id)
        result = answer.get("result")
        if not isinstance(result, str):
            raise MalformedResponse("a COMPLETE answer has no result")
        if result != "OK":
            error = RESULT_ERRORS.get(result)
            if error is None:
                raise MalformedResponse("the session ended with an unknown result")
            raise error(f"Mobile-ID session ended with {result}")
        return self._verify_ok(answer, session)

    # --- verification -------------------------------------------------------------------

    def _verify_ok(self, answer: dict[str, Any], session: MobileIdSession) -> MobileIdIdentity:
        signature = answer.get("signature")
        if not isinstance(signature, dict):
            raise MalformedResponse("an OK answer has no signature object")
        value = _b64decode(signature.get("value"), limit=MAX_SIGNATURE_B64, what="signature")
        algorithm = signature.get("algorithm")
        if not isinstance(algorithm, str) or len(algorithm) > 64:
            raise MalformedResponse("the signature algorithm is missing or not a string")
        match = _SIGNATURE_ALGORITHM.fullmatch(algorithm)
        if match is None:
            raise MalformedResponse("unknown signature algorithm")
        der = _b64decode(answer.get("cert"), limit=MAX_CERTIFICATE_B64, what="cert")
        try:
            certificate = x509.load_der_x509_certificate(der)
            certificate.public_key()  # parse the key now: an unsupported one fails here
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise MalformedResponse("cert is not an X.509 certificate with a usable key") from None
        check_certificate(certificate, self.trust_anchors)
        key_family = (
            "EC" if isinstance(certificate.public_key(), ec.EllipticCurvePublicKey) else "RSA"
        )
        if match.group(2).upper() != key_family:
            raise SignatureInvalid("the signature algorithm does not fit the certificate's key")
        verify_signature(certificate, value, session.hash, session.hash_type)
        identity = identity_from_certificate(certificate)
        if session.national_identity_number:
            _, _, number = identity.semantics_identifier.partition("-")
            if number != session.national_identity_number:
                raise IdentityMismatch("the certificate names another person")
        return identity

    # --- transport ---------------------------------------------------------------------

    def _poll_until_complete(self, session_id: str) -> dict[str, Any]:
        if not isinstance(session_id, str) or _SESSION_ID.fullmatch(session_id) is None:
            raise InvalidInput("not a Mobile-ID session id")
        url = f"{self.base_url}/authentication/session/{quote(session_id, safe='')}"
        deadline = time.monotonic() + self.overall_timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SessionTimeout("no answer from the phone before our deadline")
            poll_ms = max(MIN_POLL_MS, min(self.poll_timeout_ms, int(remaining * 1000)))
            started = time.monotonic()
            status, answer = self._call(
                "GET",
                url,
                params={"timeoutMs": str(poll_ms)},
                read_timeout=poll_ms / 1000 + POLL_GRACE_S,
            )
            if status == 404:
                raise SessionTimeout("the Mobile-ID session expired or is unknown")
            self._raise_for_status(status, answer, what="status")
            state = answer.get("state")
            if state == "COMPLETE":
                return answer
            if state != "RUNNING":
                raise MalformedResponse("state is neither RUNNING nor COMPLETE")
            elapsed = time.monotonic() - started
            if elapsed < MIN_POLL_INTERVAL_S:
                time.sleep(min(MIN_POLL_INTERVAL_S - elapsed, max(0.0, remaining - elapsed)))

    @staticmethod
    def _raise_for_status(status: int, answer: dict[str, Any], *, what: str) -> None:
        if status == 200:
            return
        detail = answer.get("error")
        detail = detail[:200] if isinstance(detail, str) else ""
        logger.warning("Mobile-ID %s request answered HTTP %s: %s", what, status, detail)
        if status == 400:
            raise InvalidInput(f"the Mobile-ID service refused the request: {detail}")
        if status in (401, 403):
            raise ServiceUnavailable(
                "the Mobile-ID service refused our relying party name/UUID or address"
            )
        raise ServiceUnavailable(f"the Mobile-ID service answered HTTP {status}")

    def _call(
        self,
        method: str,
        url: str,
        *,
        read_timeout: float,
        json_body: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One HTTP exchange; returns (status, JSON object), reading at most the size limit."""
        timeout = httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_S)
        headers = {"Accept": "application/json"}
        try:
            with self._http.stream(
                method, url, json=json_body, params=params, headers=headers, timeout=timeout
            ) as response:
                declared = response.headers.get("content-length")
                if declared is not None and (
                    not declared.isdigit() or int(declared) > MAX_RESPONSE_BYTES
                ):
                    raise MalformedResponse("the answer is too large")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise MalformedResponse("the answer is too large")
                status = response.status_code
        except httpx.TimeoutException:
            raise ServiceUnavailable("the Mobile-ID service did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"cannot reach the Mobile-ID service: {exc}") from None
        if not body and status != 200:
            return status, {}
        try:
            answer = json.loads(bytes(body))
        except (ValueError, RecursionError):
            if status != 200:
                return status, {}
            raise MalformedResponse("the answer is not JSON") from None
        if not isinstance(answer, dict):
            if status != 200:
                return status, {}
            raise MalformedResponse("the answer is not a JSON object")
        return status, answer

    def close(self) -> None:
        self._http.close()


__all__ = [
    "MobileIdClient",
    "MobileIdError",
    "MobileIdIdentity",
    "MobileIdSession",
    "check_certificate",
    "identity_from_certificate",
    "personal_code_valid",
    "verification_code",
    "verify_signature",
]
