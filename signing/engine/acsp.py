"""RP API v3 authentication: the ACSP_V2 signature protocol and its challenges.

The app signs, with RSASSA-PSS, HASH(UTF-8 of the ACSP_V2 payload): eleven fields joined
by ``|`` (docs/spec/rp-api.md §5)::

    scheme|ACSP_V2|serverRandom|rpChallenge|userChallenge|B64(rpName)|B64(brokeredRpName)|
    B64(SHA-256(interactions))|interactionTypeUsed|initialCallbackUrl|flowType

Names enter Base64-encoded (UTF-8 first), the interactions as the Base64 of the SHA-256 of
the Base64 text the RP sent (never re-serialised), an absent broker name or callback URL as
an empty field. The user challenge is the Base64URL SHA-256 of a verifier the app keeps and
hands to the RP only through the callback URL, so a callback proves the same app signed.

Both sides use this module: the app builds the payload it displayed and signs it, the
server rebuilds it from its stored parameters and the app's answer and checks the result.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from signing.engine.b64 import b64decode_strict
from signing.engine.encoding import HashAlgorithm, hash_message, hash_spec
from signing.engine.errors import InvalidInput, UnsupportedAlgorithm
from signing.engine.vc import MAX_INPUT_BYTES, verification_code

PROTOCOL = "ACSP_V2"

#: RP API v3 ``hashAlgorithm`` values → the engine's hash names.
V3_HASHES: dict[str, str] = {
    "SHA-256": HashAlgorithm.SHA256.value,
    "SHA-384": HashAlgorithm.SHA384.value,
    "SHA-512": HashAlgorithm.SHA512.value,
    "SHA3-256": HashAlgorithm.SHA3_256.value,
    "SHA3-384": HashAlgorithm.SHA3_384.value,
    "SHA3-512": HashAlgorithm.SHA3_512.value,
}

#: Random bytes behind a user challenge verifier (43 Base64URL characters).
VERIFIER_BYTES = 32
#: A verifier is 43-128 Base64URL characters (the range of an RFC 7636 code verifier).
VERIFIER_MIN_CHARS = 43
VERIFIER_MAX_CHARS = 128
#: The user challenge: Base64URL (no padding) of a SHA-256, 43 characters.
USER_CHALLENGE_CHARS = 43
#: Random bytes behind serverRandom: 18 gives 24 Base64 characters, the v3 minimum.
SERVER_RANDOM_BYTES = 18

_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url_nopad(data: bytes) -> str:
    """Base64URL of ``data`` without ``=`` padding (RFC 4648 §5, §3.2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not encodable as UTF-8") from None


def _field(value: object, what: str, *, required: bool = True, encoded: bool = False) -> str:
    """A payload field: a string, non-empty unless optional; one that enters the payload as
    it is (not ``encoded``: Base64 or hashed) must not contain the separator ``|``.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    if not encoded and "|" in value:
        raise InvalidInput(f"{what} must not contain '|'")
    if required and not value:
        raise InvalidInput(f"{what} must not be empty")
    _utf8(value, what)
    return value


def v3_hash(name: object) -> HashAlgorithm:
    """The engine hash of an RP API v3 ``hashAlgorithm`` (``"SHA3-512"`` → SHA3_512)."""
    if not isinstance(name, str) or name not in V3_HASHES:
        raise UnsupportedAlgorithm(f"unsupported v3 hash algorithm {name!r}")
    return HashAlgorithm(V3_HASHES[name])


def acsp_v2_payload(
    *,
    scheme: str,
    server_random: str,
    rp_challenge: str,
    user_challenge: str,
    rp_name: str,
    brokered_rp_name: str,
    interactions: str,
    interaction_type_used: str,
    initial_callback_url: str,
    flow_type: str,
) -> str:
    """The ACSP_V2 payload text. Names are given as they are (Base64 is applied here), the
    interactions as the raw Base64 string of the request; ``brokered_rp_name`` and
    ``initial_callback_url`` may be empty (no broker; QR and notification flows).
    """
    interactions = _field(interactions, "interactions", encoded=True)
    parts = [
        _field(scheme, "scheme"),
        PROTOCOL,
        _field(server_random, "serverRandom"),
        _field(rp_challenge, "rpChallenge"),
        _field(user_challenge, "userChallenge"),
        _b64_text(_field(rp_name, "rpName", encoded=True)),
        _b64_text(_field(brokered_rp_name, "brokeredRpName", required=False, encoded=True)),
        base64.b64encode(hashlib.sha256(interactions.encode("utf-8")).digest()).decode("ascii"),
        _field(interaction_type_used, "interactionTypeUsed"),
        _field(initial_callback_url, "initialCallbackUrl", required=False),
        _field(flow_type, "flowType"),
    ]
    return "|".join(parts)


def acsp_v2_digest(payload: str, hash_alg: str) -> bytes:
    """HASH(UTF-8(payload)) with an engine hash name (``"SHA512"``, ``"SHA3_256"`` …)."""
    hash_spec(hash_alg)
    if not isinstance(payload, str):
        raise InvalidInput("payload must be a string")
    return hash_message(_utf8(payload, "payload"), hash_alg)


def new_user_challenge_verifier() -> str:
    """A fresh verifier: Base64URL (no padding) of 32 random bytes, 43 characters."""
    return b64url_nopad(secrets.token_bytes(VERIFIER_BYTES))


def check_verifier(verifier: object) -> str:
    """Return ``verifier`` if it is 43-128 Base64URL characters; raise :class:`InvalidInput`."""
    if (
        not isinstance(verifier, str)
        or not VERIFIER_MIN_CHARS <= len(verifier) <= VERIFIER_MAX_CHARS
        or not set(verifier) <= _B64URL_ALPHABET
    ):
        raise InvalidInput(
            f"userChallengeVerifier must be {VERIFIER_MIN_CHARS}-{VERIFIER_MAX_CHARS} "
            "Base64URL characters"
        )
    return verifier


def user_challenge(verifier: str) -> str:
    """userChallenge = Base64URL (no padding) of SHA-256(ASCII of the verifier text)."""
    text = check_verifier(verifier)
    return b64url_nopad(hashlib.sha256(text.encode("ascii")).digest())


def is_user_challenge(value: object) -> bool:
    """True when ``value`` has the form of a user challenge: 43 Base64URL characters."""
    return (
        isinstance(value, str)
        and len(value) == USER_CHALLENGE_CHARS
        and set(value) <= _B64URL_ALPHABET
        # 43 characters carry 258 bits for 256: the last one ends in two zero bits.
        and value[-1] in "AEIMQUYcgkosw048"
    )


def user_challenge_matches(verifier: object, challenge: object) -> bool:
    """Constant-time check that ``verifier`` (from a callback URL) gives ``challenge``."""
    if not isinstance(challenge, str) or not challenge.isascii():
        return False
    try:
        text = check_verifier(verifier)
    except InvalidInput:
        return False
    expected = b64url_nopad(hashlib.sha256(text.encode("ascii")).digest())
    return hmac.compare_digest(expected.encode("ascii"), challenge.encode("ascii"))


def new_server_random() -> str:
    """serverRandom: the Base64 of 18 random bytes (24 characters)."""
    return base64.b64encode(secrets.token_bytes(SERVER_RANDOM_BYTES)).decode("ascii")


def vc_for_rp_challenge(rp_challenge_b64: str) -> str:
    """The verification code of a v3 notification authentication: the VC formula applied
    to the RAW rpChallenge bytes (decoded from canonical Base64), never to its text.
    """
    raw = b64decode_strict(rp_challenge_b64, what="rpChallenge", max_bytes=MAX_INPUT_BYTES)
    return verification_code(raw)


def pss_parameters(hash_name_v3: str) -> dict[str, object]:
    """The status response's ``signatureAlgorithmParameters`` for RSASSA-PSS: MGF1 with the
    same hash, a salt as long as the hash, trailer field 0xbc.
    """
    spec = hash_spec(v3_hash(hash_name_v3))
    return {
        "hashAlgorithm": hash_name_v3,
        "maskGenAlgorithm": {
            "algorithm": "id-mgf1",
            "parameters": {"hashAlgorithm": hash_name_v3},
        },
        "saltLength": spec.digest_size,
        "trailerField": "0xbc",
    }
