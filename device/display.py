"""What the reference app prints: never a control character raw.

Texts come from the service and, through it, from relying parties (the RP name, the
interaction texts, error messages). The service refuses control and bidirectional
formatting characters in display texts, but the app does not rely on that: printed raw,
an ANSI escape (ESC, U+001B) could rewrite the terminal's screen, a newline could forge a
line such as "verification code", and a bidirectional override could reorder what the
person reads. Such characters are shown as visible escapes instead.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional marks, embeddings, overrides and isolates.
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object) -> str:
    """One line of text as it may be printed: every unshowable character escaped."""
    return _UNSHOWN.sub(_escape, str(text))


def printable_lines(text: str) -> str:
    """Several lines (the app's own layout keeps its newlines), each made printable."""
    return "\n".join(printable(line) for line in text.split("\n"))
