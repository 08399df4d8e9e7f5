"""The App API's wire format as the app reads it: JSON field readers that raise
:class:`~device.errors.ProtocolError` on anything off-contract (docs/app-api.md).

The service's answers are untrusted input: every field is checked for presence, type and
size before the flows use it. Base64 goes through the engine's one strict decoder.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from device.errors import ProtocolError
from signing.engine import InvalidBase64, b64decode_strict

#: The App API's prefix on the service.
API = "/app/v1"
#: Longest string field the app accepts from the service.
MAX_STRING = 4096
#: Size of a key's one-time clone-detection token.
TOKEN_BYTES = 16
_DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9-]{1,64}")


def field(obj: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` (ProtocolError when the answer lacks it)."""
    if name not in obj:
        raise ProtocolError(f"the answer lacks {name!r}")
    return obj[name]


def string(obj: Mapping[str, Any], name: str, *, optional: bool = False) -> str | None:
    """A string field; None for an absent or null ``optional`` one."""
    if optional and obj.get(name) is None:
        return None
    value = field(obj, name)
    if not isinstance(value, str) or len(value) > MAX_STRING:
        raise ProtocolError(f"{name!r} must be a string")
    return value


def required_string(obj: Mapping[str, Any], name: str) -> str:
    value = string(obj, name)
    assert value is not None  # noqa: S101 - not optional
    return value


def json_object(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{name!r} must be an object")
    return value


def base64_field(obj: Mapping[str, Any], name: str, size: int | None = None) -> bytes:
    """A strict (canonical) Base64 field, of exactly ``size`` bytes when given."""
    try:
        raw = b64decode_strict(field(obj, name), what=repr(name), exact_bytes=size)
    except InvalidBase64 as exc:
        raise ProtocolError(str(exc)) from None
    # exact_bytes checks the text's length, which 4 characters share for 1-3 bytes
    # ("AA==" and "AAAA"): the decoded size is what counts.
    if size is not None and len(raw) != size:
        raise ProtocolError(f"{name!r} must be {size} bytes")
    return raw


def lower_uuid(value: object, name: str) -> str:
    """A canonical (lower-case) UUID: ids go into URL paths and AADs, so no other form."""
    try:
        if isinstance(value, str) and str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise ProtocolError(f"{name!r} must be a lower-case UUID")


def document_number(value: object) -> str:
    if not isinstance(value, str) or not _DOCUMENT_NUMBER.fullmatch(value):
        raise ProtocolError("documentNumber has an unexpected form")
    return value


def optional_int(obj: Mapping[str, Any], name: str) -> int | None:
    value = obj.get(name)
    if value is not None and type(value) is not int:
        raise ProtocolError(f"{name!r} must be an integer")
    return value


def token(obj: Mapping[str, Any]) -> bytes | None:
    """The new one-time token of an answer, if it carries one."""
    return None if obj.get("token") is None else base64_field(obj, "token", TOKEN_BYTES)


def to_json(payload: Mapping[str, object]) -> bytes:
    """A request body: compact JSON (what the request signature covers, byte for byte)."""
    return json.dumps(payload, separators=(",", ":")).encode()
