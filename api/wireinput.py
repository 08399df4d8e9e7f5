"""Rules for text and numbers that arrive on the wire, shared by the RP and app APIs.

Texts a relying party sends are shown on the person's phone (``displayText``,
``displayText60``, ``displayText200``): a control character there could move the cursor,
recolour or hide parts of a terminal app's screen (ANSI escapes start with ESC, U+001B),
and a bidirectional override could make "Pay 100 EUR to A" read as something else. They
are refused, not stripped: the relying party learns at once, and what the person sees is
exactly what was sent.
"""

from __future__ import annotations

import re
from typing import Any

#: C0 and C1 control characters, DEL, and the bidirectional embeddings, overrides and
#: isolates (U+202A..U+202E, U+2066..U+2069).
UNSAFE_DISPLAY = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The same as a JSON Schema pattern (the OpenAPI documents use it).
SAFE_DISPLAY_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*$"
UNSAFE_DISPLAY_MESSAGE = (
    "Must not contain control characters or bidirectional formatting characters."
)
#: More digits than any timeout needs, and far below int()'s 4300-digit limit.
MAX_TIMEOUT_DIGITS = 9


def unsafe_display_text(value: str) -> bool:
    """Whether a text for the phone's screen holds a character it must not show."""
    return UNSAFE_DISPLAY.search(value) is not None


def display_text_schema(limit: int) -> dict[str, Any]:
    """The JSON Schema of a display text of at most ``limit`` characters (OpenAPI)."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": limit,
        "pattern": SAFE_DISPLAY_PATTERN,
        "description": "No control or bidirectional formatting characters.",
    }


def timeout_ms(raw: str, *, low: int, high: int) -> int | None:
    """``timeoutMs`` from a query string: ASCII digits only, in low..high; None otherwise.

    ``str.isdigit`` alone takes "²" or Arabic-Indic digits (which ``int`` then parses or
    refuses), and ``int`` refuses more than 4300 digits with an exception, so the length
    and the alphabet are checked first.
    """
    if not raw or len(raw) > MAX_TIMEOUT_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if low <= value <= high else None
