"""RP API v3 request bodies (docs/spec/rp-api.md §5), checked field by field.

Strings are taken exactly as sent (a number is not text, whitespace is kept). Errors name
the field with a JSON Pointer (api.rp.v3.problems). ``interactions`` is kept as the very
Base64 string received: the authCode and the ACSP_V2 payload are computed over it.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

from rest_framework import serializers

from api import wireinput
from api.rp.v3 import problems
from api.rp.v3.transactions import ACSP_V2, LEGACY_ALGORITHMS, PSS, RAW_DIGEST_SIGNATURE
from api.rp.views import RelyingPartyName, WireString
from signing.engine import InvalidBase64, b64decode_strict
from signing.engine.acsp import V3_HASHES
from signing.engine.encoding import HashAlgorithm, hash_spec

HASH_ALGORITHMS = tuple(V3_HASHES)  # SHA-256 … SHA3-512
DIGEST_LENGTHS = {name: hash_spec(HashAlgorithm(V3_HASHES[name])).digest_size for name in V3_HASHES}
ALGORITHMS = (PSS, *LEGACY_ALGORITHMS)
# SK's pattern ^https://[^|#]+$, in printable ASCII: a URL has no whitespace or control
# characters (a NUL would not even fit in a PostgreSQL text column), and anything else
# must be percent-encoded. The OpenAPI document says the same (api/rp/v3/schema.py).
CALLBACK_CHARACTERS = '[!"$-{}~]'  # U+0021..U+007E but '#' and '|'
CALLBACK_URL = re.compile(f"https://{CALLBACK_CHARACTERS}+")  # fullmatch: no "\n" before $
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_CALLBACK_CHARS = 1800
RP_CHALLENGE_CHARS = (44, 88)
MAX_INTERACTIONS_CHARS = 4096  # a few interactions of at most 200 characters each
MAX_INTERACTIONS = 10
TEXT60 = ("displayTextAndPIN",)
TEXT200 = ("confirmationMessage", "confirmationMessageAndVerificationCodeChoice")
DEVICE_LINK_INTERACTIONS = ("displayTextAndPIN", "confirmationMessage")
NOTIFICATION_INTERACTIONS = (
    *DEVICE_LINK_INTERACTIONS,
    "confirmationMessageAndVerificationCodeChoice",
)


class CommonInput(serializers.Serializer[Any]):
    """relyingPartyUUID/Name, certificateLevel (``context["levels"]``), requestProperties,
    capabilities."""

    relyingPartyUUID = WireString(max_length=64)  # noqa: N815 -- wire name
    relyingPartyName = RelyingPartyName(max_length=32)  # noqa: N815
    certificateLevel = WireString(max_length=10, required=False)  # noqa: N815
    requestProperties = serializers.DictField(required=False)  # noqa: N815
    capabilities = serializers.ListField(
        child=WireString(max_length=64), max_length=20, required=False
    )

    def validate_certificateLevel(self, value: str) -> str:  # noqa: N802
        levels = self.context["levels"]
        if value not in levels:
            raise serializers.ValidationError(f"One of {', '.join(levels)}.")
        return value

    def validate_requestProperties(self, value: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if any("\x00" in str(k) or len(str(k)) > 100 for k in value) or len(value) > 20:
            raise serializers.ValidationError("At most 20 names of at most 100 characters.")
        share = value.get("shareMdClientIpAddress", False)
        if not isinstance(share, bool):
            raise serializers.ValidationError({"shareMdClientIpAddress": "Must be a boolean."})
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("certificateLevel", "QUALIFIED")
        properties = attrs.get("requestProperties") or {}
        attrs["shareMdClientIpAddress"] = bool(properties.get("shareMdClientIpAddress"))
        attrs["ignoredProperties"] = sorted(
            str(k) for k in properties if k != "shareMdClientIpAddress"
        )
        attrs.setdefault("capabilities", [])
        return attrs


def forbid(data: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in data:
            raise problems.invalid([name], f"{name} is not allowed in this request.")


def _hash_algorithm(params: dict[str, Any], algorithm: str) -> str:
    """The v3 hash name of the request's algorithm (PSS: from its parameters)."""
    path = ["signatureProtocolParameters", "signatureAlgorithmParameters"]
    given = params.get("signatureAlgorithmParameters")
    if "signatureAlgorithmParameters" in params and not isinstance(given, dict):
        raise problems.invalid(path, "Must be an object.")  # null too: absent is absent
    name = (given or {}).get("hashAlgorithm")
    if algorithm in LEGACY_ALGORITHMS:
        if "hashAlgorithm" in (given or {}) and name != LEGACY_ALGORITHMS[algorithm]:
            raise problems.invalid(
                [*path, "hashAlgorithm"], f"{algorithm} hashes with {LEGACY_ALGORITHMS[algorithm]}."
            )
        return LEGACY_ALGORITHMS[algorithm]
    if given is None:
        raise problems.invalid(path, "Required for rsassa-pss.")
    if name is None:
        raise problems.invalid([*path, "hashAlgorithm"], "This field is required.")
    if name not in HASH_ALGORITHMS:
        raise problems.invalid([*path, "hashAlgorithm"], f"One of {', '.join(HASH_ALGORITHMS)}.")
    return str(name)


def protocol_parameters(data: dict[str, Any], protocol: str) -> dict[str, str]:
    """``signatureProtocol`` and its parameters; the value to store on the session."""
    if "signatureProtocol" not in data:
        raise problems.invalid(["signatureProtocol"], "This field is required.")
    if data["signatureProtocol"] != protocol:
        raise problems.invalid(["signatureProtocol"], f"Must be {protocol}.")
    params = data.get("signatureProtocolParameters")
    if params is None:
        raise problems.invalid(["signatureProtocolParameters"], "This field is required.")
    if not isinstance(params, dict):
        raise problems.invalid(["signatureProtocolParameters"], "Must be an object.")
    algorithm = params.get("signatureAlgorithm")
    if algorithm is None:
        raise problems.invalid(
            ["signatureProtocolParameters", "signatureAlgorithm"], "This field is required."
        )
    # ACSP_V2 signs with PSS only; the legacy PKCS#1 v1.5 names are for RAW_DIGEST (3.2.1).
    allowed = ALGORITHMS if protocol == RAW_DIGEST_SIGNATURE else (PSS,)
    if algorithm not in allowed:
        raise problems.invalid_algorithm()
    hash_name = _hash_algorithm(params, algorithm)
    stored = {"signatureAlgorithm": str(algorithm), "hashAlgorithm": hash_name}
    field = "rpChallenge" if protocol == ACSP_V2 else "digest"
    path = ["signatureProtocolParameters", field]
    value = params.get(field)
    if value is None:
        raise problems.invalid(path, "This field is required.")
    if not isinstance(value, str):
        raise problems.invalid(path, "Must be a string.")
    if len(value) > 200:
        raise problems.invalid(path, "Too long.")
    try:
        raw = b64decode_strict(value, what=field)
    except InvalidBase64:
        raise problems.invalid(path, "Not valid Base64.") from None
    if protocol == ACSP_V2:
        low, high = RP_CHALLENGE_CHARS
        if not low <= len(value) <= high or not 32 <= len(raw) <= 64:
            raise problems.invalid(path, f"Base64 of 32 to 64 bytes ({low} to {high} characters).")
    elif len(raw) != DIGEST_LENGTHS[hash_name]:
        raise problems.invalid(path, f"The length does not match {hash_name}.")
    stored[field] = value
    return stored


def interactions(data: dict[str, Any], allowed: tuple[str, ...]) -> str:
    """The ``interactions`` string as received, once it is known to hold a valid list."""
    path = ["interactions"]
    raw = data.get("interactions")
    if raw is None:
        raise problems.invalid(path, "This field is required.")
    if not isinstance(raw, str):
        raise problems.invalid(path, "Must be a Base64 string.")
    if len(raw) > MAX_INTERACTIONS_CHARS:
        raise problems.invalid(path, f"At most {MAX_INTERACTIONS_CHARS} characters.")
    try:
        decoded = b64decode_strict(raw, what="interactions")
        items = json.loads(decoded.decode("utf-8"))
    except (InvalidBase64, binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise problems.invalid(path, "Must be the Base64 of a JSON array.") from None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_INTERACTIONS:
        raise problems.invalid(
            path, f"Must be the Base64 of a JSON array of 1..{MAX_INTERACTIONS}."
        )
    seen: set[str] = set()
    for index, item in enumerate(items):
        here = [*path, str(index)]
        problem = _interaction_problem(item, allowed, seen)
        if problem:
            raise problems.invalid(here, problem)
    return raw


def _interaction_problem(item: Any, allowed: tuple[str, ...], seen: set[str]) -> str:
    if not isinstance(item, dict):
        return "Each interaction must be an object."
    kind = item.get("type")
    if kind not in allowed:
        return f"type must be one of {', '.join(allowed)}."
    if kind in seen:
        return f"{kind} is listed twice."
    seen.add(kind)
    text_field, limit = ("displayText60", 60) if kind in TEXT60 else ("displayText200", 200)
    if set(item) - {"type", text_field}:
        return f"{kind} takes type and {text_field} only."
    text = item.get(text_field)
    if text is None:
        return f"{kind} needs {text_field}." if kind in TEXT200 else ""
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        return f"{text_field} must be text of 1..{limit} characters."
    if wireinput.unsafe_display_text(text):
        return f"{text_field}: {wireinput.UNSAFE_DISPLAY_MESSAGE}"
    return ""


def callback_url(data: dict[str, Any]) -> str:
    """``initialCallbackUrl`` ("" when absent or null: QR only)."""
    value = data.get("initialCallbackUrl")
    if value is None:
        return ""
    path = ["initialCallbackUrl"]
    if not isinstance(value, str):
        raise problems.invalid(path, "Must be a string.")
    if len(value) > MAX_CALLBACK_CHARS:
        raise problems.invalid(path, f"At most {MAX_CALLBACK_CHARS} characters.")
    if not CALLBACK_URL.fullmatch(value):
        raise problems.invalid(path, "Must be an https:// URL without '|' or '#'.")
    return value


def nonce(data: dict[str, Any]) -> str:
    value = data.get("nonce")
    if value is None:
        return ""
    if not isinstance(value, str) or not 1 <= len(value) <= 30 or CONTROL.search(value):
        raise problems.invalid(["nonce"], "Text of 1..30 characters (no control characters).")
    return value


def common(data: Any, *, levels: tuple[str, ...]) -> dict[str, Any]:
    """The common fields, or a 400 problem naming the first bad one."""
    if not isinstance(data, dict):
        raise problems.Problem(400, "The body must be a JSON object.")
    serializer = CommonInput(data=data, context={"levels": levels})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def vc_type(data: dict[str, Any]) -> None:
    if "vcType" not in data:
        raise problems.invalid(["vcType"], "This field is required.")
    if data["vcType"] != "numeric4":
        raise problems.invalid(["vcType"], "Must be numeric4.")


def linked_session_id(data: dict[str, Any]) -> str:
    value = data.get("linkedSessionID")
    if value is None:
        raise problems.invalid(["linkedSessionID"], "This field is required.")
    if not isinstance(value, str) or not re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value
    ):
        raise problems.invalid(["linkedSessionID"], "Must be a session ID (a UUID).")
    return value
