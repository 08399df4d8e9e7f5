"""Strict Base64: the one decoder every boundary of the platform uses (server and app).

Python's ``base64.b64decode`` is lenient by default — it skips characters outside the
alphabet, accepts excess padding ("AA==="), and accepts non-zero bits in the last
character — so one value can have many spellings. Here a text is accepted only when it is
the canonical standard (RFC 4648 §4, padded) encoding of its bytes: exactly one spelling
per value, which keeps replay caches, cache keys and length checks honest. Sizes are
checked on the text *before* decoding, so an oversized value costs nothing.
"""

from __future__ import annotations

import base64
import binascii

from signing.engine.errors import InvalidBase64


def encoded_length(size: int) -> int:
    """Characters of the padded Base64 of ``size`` bytes: 4·⌈size/3⌉."""
    return 4 * -(-size // 3)


def b64decode_strict(
    value: object,
    *,
    what: str = "value",
    max_bytes: int | None = None,
    exact_bytes: int | None = None,
) -> bytes:
    """Decode canonical padded Base64 text (``str`` or ASCII ``bytes``).

    Raises :class:`InvalidBase64` (an ``InvalidInput``, also a ``ValueError``) naming
    ``what`` for a non-text value, a character outside the alphabet, wrong or excess
    padding, a non-canonical spelling, more than ``max_bytes`` or other than
    ``exact_bytes`` decoded bytes.
    """
    if isinstance(value, bytes):
        text = value
    elif isinstance(value, str):
        try:
            text = value.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidBase64(f"{what} is not valid Base64") from None
    else:
        raise InvalidBase64(f"{what} must be a Base64 string")
    if exact_bytes is not None and len(text) != encoded_length(exact_bytes):
        raise InvalidBase64(f"{what} must be Base64 of {exact_bytes} bytes")
    if max_bytes is not None and len(text) > encoded_length(max_bytes):
        raise InvalidBase64(f"{what} is longer than {max_bytes} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64(f"{what} is not valid Base64") from None
    if base64.b64encode(raw) != text:
        raise InvalidBase64(f"{what} is not canonical Base64")
    # The text length leaves up to two bytes open (Base64 of 16, 17 and 18 bytes all has
    # 24 characters): the decoded size is checked as well.
    if exact_bytes is not None and len(raw) != exact_bytes:
        raise InvalidBase64(f"{what} must be Base64 of {exact_bytes} bytes")
    if max_bytes is not None and len(raw) > max_bytes:
        raise InvalidBase64(f"{what} is longer than {max_bytes} bytes")
    return raw
