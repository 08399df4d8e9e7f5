"""The byte-exact primitives of the RP API (docs/spec/rp-api.md §2 and §5), as pure
functions: the encodings, the device link and its authCode, the ACSP_V2 payload and digest,
the verification code, and the callback digests. The clients and the validator build on
them; they are public so that a relying party can check them against the specification's
vectors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import hashes

SCHEME_LIVE = "smart-id"
"""``schemeName`` of SK's LIVE environment (and of a production installation)."""
SCHEME_DEMO = "smart-id-demo"
"""``schemeName`` of SK's DEMO and of every non-production installation (``make demo``)."""

ACSP_V2 = "ACSP_V2"
RAW_DIGEST_SIGNATURE = "RAW_DIGEST_SIGNATURE"


class CertificateLevel(StrEnum):
    """ADVANCED < QUALIFIED; QSCD is a request-only alias (QUALIFIED on a QSCD)."""

    ADVANCED = "ADVANCED"
    QUALIFIED = "QUALIFIED"
    QSCD = "QSCD"


LEVEL_RANK = {"ADVANCED": 1, "QUALIFIED": 2, "QSCD": 2}


class HashAlgorithm(StrEnum):
    """v3 ``hashAlgorithm`` names."""

    SHA_256 = "SHA-256"
    SHA_384 = "SHA-384"
    SHA_512 = "SHA-512"
    SHA3_256 = "SHA3-256"
    SHA3_384 = "SHA3-384"
    SHA3_512 = "SHA3-512"

    def algorithm(self) -> hashes.HashAlgorithm:
        """The ``cryptography`` hash object."""
        return _HASHES[self]()

    @property
    def v2_name(self) -> str:
        """v2 ``hashType`` (SHA-2 only): ``SHA256``, ``SHA384``, ``SHA512``."""
        if self not in (HashAlgorithm.SHA_256, HashAlgorithm.SHA_384, HashAlgorithm.SHA_512):
            raise ValueError(f"RP API v2 has no hashType for {self.value}")
        return self.value.replace("-", "")

    def digest(self, data: bytes) -> bytes:
        """The digest of ``data`` with this algorithm."""
        h = hashes.Hash(self.algorithm())
        h.update(data)
        return h.finalize()


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA-256": hashes.SHA256,
    "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512,
    "SHA3-256": hashes.SHA3_256,
    "SHA3-384": hashes.SHA3_384,
    "SHA3-512": hashes.SHA3_512,
}


class SignatureAlgorithm(StrEnum):
    """v3 ``signatureAlgorithm``: RSASSA-PSS, or (since 3.2.1) PKCS#1 v1.5 with a hash."""

    RSASSA_PSS = "rsassa-pss"
    SHA256_WITH_RSA = "sha256WithRSAEncryption"
    SHA384_WITH_RSA = "sha384WithRSAEncryption"
    SHA512_WITH_RSA = "sha512WithRSAEncryption"

    @property
    def implied_hash(self) -> HashAlgorithm | None:
        """The hash a PKCS#1 v1.5 algorithm implies (``None`` for PSS)."""
        return {
            SignatureAlgorithm.SHA256_WITH_RSA: HashAlgorithm.SHA_256,
            SignatureAlgorithm.SHA384_WITH_RSA: HashAlgorithm.SHA_384,
            SignatureAlgorithm.SHA512_WITH_RSA: HashAlgorithm.SHA_512,
        }.get(self)


class DeviceLinkType(StrEnum):
    QR = "QR"
    WEB2APP = "Web2App"
    APP2APP = "App2App"


class FlowType(StrEnum):
    """``signature.flowType`` of a v3 answer."""

    QR = "QR"
    WEB2APP = "Web2App"
    APP2APP = "App2App"
    NOTIFICATION = "Notification"


class SessionType(StrEnum):
    """``sessionType`` of a device link."""

    AUTHENTICATION = "auth"
    SIGNATURE = "sign"
    CERTIFICATE_CHOICE = "cert"


class InteractionType(StrEnum):
    DISPLAY_TEXT_AND_PIN = "displayTextAndPIN"
    CONFIRMATION_MESSAGE = "confirmationMessage"
    CONFIRMATION_MESSAGE_AND_VERIFICATION_CODE_CHOICE = (
        "confirmationMessageAndVerificationCodeChoice"
    )
    VERIFICATION_CODE_CHOICE = "verificationCodeChoice"  # v2 only


@dataclass(frozen=True)
class Interaction:
    """One entry of ``interactions`` (v3) or ``allowedInteractionsOrder`` (v2). The app
    uses the first type it supports. ``displayTextAndPIN`` and ``verificationCodeChoice``
    take a text of ≤ 60 characters, the confirmation messages ≤ 200."""

    type: InteractionType
    text: str

    @classmethod
    def display_text_and_pin(cls, text: str) -> Interaction:
        return cls(InteractionType.DISPLAY_TEXT_AND_PIN, text)

    @classmethod
    def confirmation_message(cls, text: str) -> Interaction:
        return cls(InteractionType.CONFIRMATION_MESSAGE, text)

    @classmethod
    def confirmation_message_and_verification_code_choice(cls, text: str) -> Interaction:
        """Notification flows only."""
        return cls(InteractionType.CONFIRMATION_MESSAGE_AND_VERIFICATION_CODE_CHOICE, text)

    @classmethod
    def verification_code_choice(cls, text: str) -> Interaction:
        """RP API v2 only."""
        return cls(InteractionType.VERIFICATION_CODE_CHOICE, text)

    def to_json(self) -> dict[str, str]:
        short = self.type in (
            InteractionType.DISPLAY_TEXT_AND_PIN,
            InteractionType.VERIFICATION_CODE_CHOICE,
        )
        limit = 60 if short else 200
        if not self.text or len(self.text) > limit:
            raise ValueError(f"{self.type.value} takes a text of 1 to {limit} characters")
        return {"type": self.type.value, f"displayText{limit}": self.text}


def encode_interactions(interactions: Sequence[Interaction]) -> str:
    """v3 ``interactions``: the Base64 of the minified JSON array. Keep the string as sent:
    the authCode and the ACSP_V2 payload are computed over it, never over a re-encoding."""
    if not interactions:
        raise ValueError("at least one interaction")
    items = [i.to_json() for i in interactions]
    return b64(json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def decode_interaction_types(interactions: str) -> list[str]:
    """The ``type`` of each entry of a v3 ``interactions`` string."""
    items = json.loads(b64decode(interactions))
    return [str(item["type"]) for item in items]


# --- encodings ----------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard Base64 (``ValueError`` on anything else)."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not Base64: {text[:40]!r}") from exc


def b64url(data: bytes) -> str:
    """Base64URL without padding."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Base64URL with or without padding (``ValueError`` on other characters)."""
    if not text or any(c not in _B64URL for c in text.rstrip("=")):
        raise ValueError(f"not Base64URL: {text[:40]!r}")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except binascii.Error as exc:
        raise ValueError(f"not Base64URL: {text[:40]!r}") from exc


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64_text(text: str) -> str:
    """B64 of a UTF-8 string ("" stays "")."""
    return b64(text.encode("utf-8"))


# --- verification code ---------------------------------------------------------------------


def verification_code(raw: bytes) -> str:
    """§2: ``uint16_be(SHA256(raw)[-2:]) mod 10000``, four digits. ``raw`` is the v2 hash or
    the v3 notification authentication's rpChallenge bytes, never their Base64."""
    return f"{int.from_bytes(hashlib.sha256(raw).digest()[-2:], 'big') % 10000:04d}"


# --- device links --------------------------------------------------------------------------


def unprotected_device_link(
    device_link_base: str,
    link_type: DeviceLinkType,
    session_token: str,
    session_type: SessionType,
    *,
    lang: str = "eng",
    elapsed_seconds: int | None = None,
) -> str:
    """The link without its authCode; ``elapsedSeconds`` for QR only (required there)."""
    if link_type is DeviceLinkType.QR:
        if elapsed_seconds is None or elapsed_seconds < 0:
            raise ValueError("a QR link needs elapsed_seconds >= 0")
        elapsed = f"&elapsedSeconds={elapsed_seconds}"
    else:
        elapsed = ""
    return (
        f"{device_link_base}?deviceLinkType={link_type.value}{elapsed}"
        f"&sessionToken={session_token}&sessionType={session_type.value}"
        f"&version=1.0&lang={lang}"
    )


def auth_code_payload(
    *,
    scheme_name: str,
    signature_protocol: str,
    protocol_value: str,
    relying_party_name: str,
    brokered_rp_name: str,
    interactions: str,
    initial_callback_url: str,
    unprotected_link: str,
) -> str:
    """``scheme|protocol|rpChallenge or digest|B64(rpName)|B64(brokeredRpName)|interactions|
    initialCallbackUrl|unprotectedDeviceLink``. A certificate choice leaves protocol, value
    and interactions empty; a QR link leaves the callback empty."""
    return "|".join(
        [
            scheme_name,
            signature_protocol,
            protocol_value,
            b64_text(relying_party_name),
            b64_text(brokered_rp_name),
            interactions,
            initial_callback_url,
            unprotected_link,
        ]
    )


def auth_code(session_secret: str, payload: str) -> str:
    """``BASE64URL_nopad(HMAC-SHA256(key=B64decode(sessionSecret), UTF-8(payload)))``."""
    key = b64decode(session_secret)
    return b64url(hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest())


# --- ACSP_V2 ----------------------------------------------------------------------------


def acsp_v2_payload(
    *,
    scheme_name: str,
    server_random: str,
    rp_challenge: str,
    user_challenge: str,
    relying_party_name: str,
    brokered_rp_name: str,
    interactions: str,
    interaction_type_used: str,
    initial_callback_url: str,
    flow_type: str,
) -> str:
    """The string an ACSP_V2 authentication signs (its hash, with RSASSA-PSS)."""
    return "|".join(
        [
            scheme_name,
            ACSP_V2,
            server_random,
            rp_challenge,
            user_challenge,
            b64_text(relying_party_name),
            b64_text(brokered_rp_name),
            b64(hashlib.sha256(interactions.encode("utf-8")).digest()),
            interaction_type_used,
            initial_callback_url,
            flow_type,
        ]
    )


def acsp_v2_digest(payload: str, hash_algorithm: HashAlgorithm) -> bytes:
    return hash_algorithm.digest(payload.encode("utf-8"))


# --- callbacks ----------------------------------------------------------------------------


def session_secret_digest(session_secret: str) -> str:
    """The callback's ``sessionSecretDigest``: ``B64URL(SHA256(B64decode(sessionSecret)))``."""
    return b64url(hashlib.sha256(b64decode(session_secret)).digest())


def user_challenge_of(verifier: str) -> str:
    """``B64URL(SHA256(ASCII(userChallengeVerifier)))``: equals ``signature.userChallenge``
    of the authentication the callback belongs to."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def pss_parameters(hash_algorithm: HashAlgorithm) -> dict[str, object]:
    """The ``signatureAlgorithmParameters`` an RSASSA-PSS signature reports."""
    return {
        "hashAlgorithm": hash_algorithm.value,
        "maskGenAlgorithm": {
            "algorithm": "id-mgf1",
            "parameters": {"hashAlgorithm": hash_algorithm.value},
        },
        "saltLength": hash_algorithm.algorithm().digest_size,
        "trailerField": "0xbc",
    }
