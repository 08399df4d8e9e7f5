"""RP API v3 device links: building, strict parsing, the authCode and the callback URL.

A device link (QR code, Web2App or App2App link) is built by the relying party from the
session's token and secret; the app opens it and the server recomputes its authCode and
compares bit for bit (docs/spec/rp-api.md §5)::

    {base}?deviceLinkType={QR|Web2App|App2App}[&elapsedSeconds={n}, QR only]
          &sessionToken={token}&sessionType={auth|sign|cert}&version=1.0&lang={xxx}
          &authCode=B64URL(HMAC-SHA256(sessionSecret, authCodePayload))

    authCodePayload = scheme|protocol|rpChallenge or digest|B64(rpName)|B64(brokeredRpName)|
                      interactions|initialCallbackUrl|unprotectedDeviceLink

Parsing is strict because the comparison is: one spelling per link — the parameters in
their order, each exactly once, no percent-encoding, no fragment, nothing else, bounded
sizes. The URL library is not used (the engine is pure, and a lenient parser would accept
spellings the authCode does not cover).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from signing.engine.acsp import PROTOCOL as ACSP_V2
from signing.engine.acsp import b64url_nopad, check_verifier
from signing.engine.errors import InvalidInput

SCHEME_LIVE = "smart-id"
SCHEME_DEMO = "smart-id-demo"
RAW_DIGEST_SIGNATURE = "RAW_DIGEST_SIGNATURE"

#: Longest device link accepted (the base, six parameters and a 43-character authCode).
MAX_LINK_CHARS = 2048
MAX_BASE_CHARS = 1024
#: A session token: 24 to 64 ASCII letters and digits (ours have 24).
TOKEN_MIN_CHARS = 24
TOKEN_MAX_CHARS = 64
#: elapsedSeconds: a plain non-negative decimal of at most 9 digits, no leading zero.
MAX_ELAPSED_DIGITS = 9
#: An authCode and a sessionSecretDigest: Base64URL of a SHA-256 output, 43 characters.
DIGEST_B64URL_CHARS = 43
#: The session secret's accepted size in bytes (ours have 18; SK's example 32).
SECRET_MIN_BYTES = 16
SECRET_MAX_BYTES = 64
#: The longest initialCallbackUrl of the RP API.
MAX_CALLBACK_CHARS = 1800

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_B64URL = _ALNUM | frozenset("-_")
_DIGITS = frozenset("0123456789")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


class InvalidDeviceLink(InvalidInput):
    """A device link that is not in the one accepted form (or too long)."""


class DeviceLinkType(StrEnum):
    """How the link reaches the app: a QR code (cross-device) or a same-device link."""

    QR = "QR"
    WEB2APP = "Web2App"
    APP2APP = "App2App"


class SessionType(StrEnum):
    """The session a link opens."""

    AUTH = "auth"
    SIGN = "sign"
    CERT = "cert"


#: The signature protocol each session type's authCode payload names.
PROTOCOLS = {
    SessionType.AUTH: ACSP_V2,
    SessionType.SIGN: RAW_DIGEST_SIGNATURE,
    SessionType.CERT: "",
}


@dataclass(frozen=True)
class DeviceLink:
    """A parsed device link; ``unprotected`` is the link without ``&authCode=…``."""

    base: str
    link_type: DeviceLinkType
    session_token: str
    session_type: SessionType
    version: str
    lang: str
    elapsed_seconds: int | None
    auth_code: str
    unprotected: str


def _bad(message: str) -> InvalidDeviceLink:
    return InvalidDeviceLink(f"invalid device link: {message}")


def _printable(value: str) -> bool:
    return all("\x21" <= c <= "\x7e" for c in value)


def _check_base(base: object) -> str:
    if not isinstance(base, str) or not 1 <= len(base) <= MAX_BASE_CHARS:
        raise _bad(f"the base must be a string of 1-{MAX_BASE_CHARS} characters")
    host = base.partition("://")[2]
    if not base.startswith(("https://", "http://")) or not host or host.startswith("/"):
        raise _bad("the base must be an http(s) URL with a host")
    if not _printable(base) or any(c in base for c in "?#%&|"):
        raise _bad("the base must be printable ASCII without '?', '#', '%', '&' or '|'")
    return base


def _check_token(token: object) -> str:
    if (
        not isinstance(token, str)
        or not TOKEN_MIN_CHARS <= len(token) <= TOKEN_MAX_CHARS
        or not set(token) <= _ALNUM
    ):
        raise _bad(f"sessionToken must be {TOKEN_MIN_CHARS}-{TOKEN_MAX_CHARS} letters and digits")
    return token


def _check_version(version: object) -> str:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 2 or not all(p and len(p) <= 3 and set(p) <= _DIGITS for p in parts):
        raise _bad("version must be like 1.0")
    return str(version)


def _check_lang(lang: object) -> str:
    if not isinstance(lang, str) or len(lang) != 3 or not set(lang) <= _LOWER:
        raise _bad("lang must be a three-letter ISO 639-2 code in lower case")
    return lang


def _check_elapsed(link_type: DeviceLinkType, elapsed: object) -> int | None:
    if link_type is not DeviceLinkType.QR:
        if elapsed is not None:
            raise _bad("elapsedSeconds belongs to QR links only")
        return None
    if type(elapsed) is not int or not 0 <= elapsed < 10**MAX_ELAPSED_DIGITS:
        raise _bad(f"a QR link needs elapsedSeconds, an int of at most {MAX_ELAPSED_DIGITS} digits")
    return elapsed


def _is_digest_b64url(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == DIGEST_B64URL_CHARS
        and set(value) <= _B64URL
        and value[-1] in "AEIMQUYcgkosw048"  # 258 bits for 256: the last two are zero
    )


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: object, what: str) -> _E:
    if not isinstance(value, str):
        raise _bad(f"{what} must be a string")
    try:
        return kind(value)
    except ValueError:
        raise _bad(f"unknown {what} {value!r}") from None


def unprotected_link(
    *,
    base: str,
    link_type: str,
    session_token: str,
    session_type: str,
    lang: str,
    elapsed_seconds: int | None,
    version: str = "1.0",
) -> str:
    """The link without its authCode; ``elapsed_seconds`` is required for QR and must be
    None for Web2App and App2App. Raises :class:`InvalidDeviceLink`.
    """
    kind = _enum(DeviceLinkType, link_type, "deviceLinkType")
    elapsed = _check_elapsed(kind, elapsed_seconds)
    params = [f"deviceLinkType={kind.value}"]
    if elapsed is not None:
        params.append(f"elapsedSeconds={elapsed}")
    params += [
        f"sessionToken={_check_token(session_token)}",
        f"sessionType={_enum(SessionType, session_type, 'sessionType').value}",
        f"version={_check_version(version)}",
        f"lang={_check_lang(lang)}",
    ]
    return f"{_check_base(base)}?{'&'.join(params)}"


def _payload_field(value: object, what: str, *, encoded: bool = False) -> None:
    """A string, encodable as UTF-8, and, unless it enters Base64-encoded, without '|'."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    if not encoded and "|" in value:
        raise InvalidInput(f"{what} must not contain '|'")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not encodable as UTF-8") from None


def authcode_payload(
    *,
    scheme: str,
    signature_protocol: str,
    protocol_value: str,
    rp_name: str,
    brokered_rp_name: str,
    interactions: str,
    initial_callback_url: str,
    unprotected_link: str,
) -> str:
    """The authCode payload. By session type: auth "ACSP_V2" and the rpChallenge, sign
    "RAW_DIGEST_SIGNATURE" and the digest's Base64, cert "" and "" and no interactions;
    QR links take an empty ``initial_callback_url``, same-device links a non-empty one.
    Names are given as they are (Base64 of their UTF-8 is applied here). Raises
    :class:`InvalidInput` when the parts do not fit together.
    """
    link = _parse(unprotected_link, with_auth_code=False)
    for value, what in (
        (scheme, "scheme"),
        (signature_protocol, "signatureProtocol"),
        (protocol_value, "protocolValue"),
        (interactions, "interactions"),
        (initial_callback_url, "initialCallbackUrl"),
    ):
        _payload_field(value, what)
    for value, what in ((rp_name, "rpName"), (brokered_rp_name, "brokeredRpName")):
        _payload_field(value, what, encoded=True)
    if not scheme or not rp_name:
        raise InvalidInput("scheme and rpName must not be empty")
    expected = PROTOCOLS[link.session_type]
    if signature_protocol != expected:
        raise InvalidInput(f"a {link.session_type.value} link needs protocol {expected!r}")
    uses_protocol = bool(signature_protocol)
    if bool(protocol_value) != uses_protocol or bool(interactions) != uses_protocol:
        raise InvalidInput(
            "the rpChallenge or digest and the interactions are required for auth and sign, "
            "and empty for cert"
        )
    if (link.link_type is DeviceLinkType.QR) == bool(initial_callback_url):
        raise InvalidInput("initialCallbackUrl is empty for QR links and required otherwise")
    return "|".join(
        [
            scheme,
            signature_protocol,
            protocol_value,
            base64.b64encode(rp_name.encode("utf-8")).decode("ascii"),
            base64.b64encode(brokered_rp_name.encode("utf-8")).decode("ascii"),
            interactions,
            initial_callback_url,
            unprotected_link,
        ]
    )


def _check_secret(secret: object) -> bytes:
    if not isinstance(secret, bytes) or not SECRET_MIN_BYTES <= len(secret) <= SECRET_MAX_BYTES:
        raise InvalidInput(
            f"the session secret must be {SECRET_MIN_BYTES}-{SECRET_MAX_BYTES} bytes"
        )
    return secret


def auth_code(session_secret: bytes, payload: str) -> str:
    """authCode = Base64URL (no padding) of HMAC-SHA256(key = the raw secret, UTF-8 payload)."""
    key = _check_secret(session_secret)
    if not isinstance(payload, str):
        raise InvalidInput("payload must be a string")
    try:
        data = payload.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("payload is not encodable as UTF-8") from None
    return b64url_nopad(hmac.new(key, data, hashlib.sha256).digest())


def device_link(unprotected: str, auth_code: str) -> str:
    """The link to show or open: ``unprotected`` + ``&authCode=`` + the code (checked)."""
    if not _is_digest_b64url(auth_code):
        raise _bad("authCode must be 43 Base64URL characters")
    if not isinstance(unprotected, str):
        raise _bad("the link must be a string")
    link = f"{unprotected}&authCode={auth_code}"
    parse_device_link(link)
    return link


def _parse(url: object, *, with_auth_code: bool) -> DeviceLink:
    if not isinstance(url, str):
        raise _bad("must be a string")
    if len(url) > MAX_LINK_CHARS:
        raise _bad(f"longer than {MAX_LINK_CHARS} characters")
    if not _printable(url):
        raise _bad("only printable ASCII, no spaces")
    if "#" in url:
        raise _bad("no fragment")
    if "%" in url:
        raise _bad("no percent-encoding")
    base, sep, query = url.partition("?")
    if not sep:
        raise _bad("no query")
    _check_base(base)
    pairs = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        if not eq or not name or not value or "=" in value:
            raise _bad(f"every parameter is name=value, non-empty: {item[:40]!r}")
        pairs.append((name, value))
    if pairs[0][0] != "deviceLinkType":
        raise _bad("deviceLinkType comes first")
    link_type = _enum(DeviceLinkType, pairs[0][1], "deviceLinkType")
    names = ["deviceLinkType"]
    if link_type is DeviceLinkType.QR:
        names.append("elapsedSeconds")
    names += ["sessionToken", "sessionType", "version", "lang"]
    if with_auth_code:
        names.append("authCode")
    if [name for name, _ in pairs] != names:
        raise _bad("the parameters must be exactly " + ", ".join(names) + " in this order")
    values = dict(pairs)
    elapsed: int | None = None
    if link_type is DeviceLinkType.QR:
        text = values["elapsedSeconds"]
        if not set(text) <= _DIGITS or len(text) > MAX_ELAPSED_DIGITS or text != str(int(text)):
            raise _bad("elapsedSeconds must be a plain decimal number without leading zeros")
        elapsed = int(text)
    code = values.get("authCode", "")
    if with_auth_code and not _is_digest_b64url(code):
        raise _bad("authCode must be 43 Base64URL characters")
    # Rebuilding checks every part; the parameters' order and spelling were checked above,
    # so the rebuilt text is the link's own (without its authCode).
    unprotected = unprotected_link(
        base=base,
        link_type=link_type,
        session_token=values["sessionToken"],
        session_type=values["sessionType"],
        lang=values["lang"],
        elapsed_seconds=elapsed,
        version=values["version"],
    )
    return DeviceLink(
        base=base,
        link_type=link_type,
        session_token=values["sessionToken"],
        session_type=SessionType(values["sessionType"]),
        version=values["version"],
        lang=values["lang"],
        elapsed_seconds=elapsed,
        auth_code=code,
        unprotected=unprotected,
    )


def parse_device_link(url: str) -> DeviceLink:
    """Parse a device link in its one accepted form; raise :class:`InvalidDeviceLink`."""
    return _parse(url, with_auth_code=True)


def auth_code_matches(expected: str, presented: str) -> bool:
    """Constant-time comparison of authCodes (False for anything that is not ASCII text)."""
    if not isinstance(expected, str) or not isinstance(presented, str):
        return False
    if not expected.isascii() or not presented.isascii():
        return False
    return hmac.compare_digest(expected.encode("ascii"), presented.encode("ascii"))


def session_secret_digest(secret: bytes) -> str:
    """The callback's sessionSecretDigest: Base64URL (no padding) SHA-256 of the raw secret."""
    return b64url_nopad(hashlib.sha256(_check_secret(secret)).digest())


def callback_url(
    initial: str, *, session_secret_digest: str, user_challenge_verifier: str | None = None
) -> str:
    """The URL the app opens when done: ``initial`` + ``sessionSecretDigest`` (+ for
    authentication ``userChallengeVerifier``), joined with ``?`` or ``&`` as ``initial``
    needs. Neither value needs URL encoding (Base64URL).
    """
    if (
        not isinstance(initial, str)
        or not initial.startswith("https://")
        or len(initial) > MAX_CALLBACK_CHARS
        or not _printable(initial)
        or "#" in initial
        or "|" in initial
    ):
        raise InvalidInput(
            f"initialCallbackUrl must be an https:// URL of at most {MAX_CALLBACK_CHARS} "
            "printable characters without '#' or '|'"
        )
    if not _is_digest_b64url(session_secret_digest):
        raise InvalidInput("sessionSecretDigest must be 43 Base64URL characters")
    params = f"sessionSecretDigest={session_secret_digest}"
    if user_challenge_verifier is not None:
        params += f"&userChallengeVerifier={check_verifier(user_challenge_verifier)}"
    if "?" not in initial:
        joiner = "?"
    elif initial.endswith(("?", "&")):
        joiner = ""
    else:
        joiner = "&"
    return f"{initial}{joiner}{params}"
