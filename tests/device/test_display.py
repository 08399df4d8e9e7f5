"""The reference app prints no control or bidirectional formatting character raw, even if
one reaches it (the service refuses them in display texts; the app does not rely on it)."""

from __future__ import annotations

import re

from device.__main__ import _print_transaction
from device.answers import parse_transaction
from device.display import printable, printable_lines
from tests.device.test_v3_checks import _tx

RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE = "Pay\x1b[2J\x1b[31m 100\u202eRUE 01\u2066\x9b\x00\nverification code: 1234"


def test_unshowable_characters_are_escaped_visibly() -> None:
    assert printable("a\x1bb") == "a\\x1bb"
    assert printable("\u202eabc") == "\\u202eabc"
    assert printable("x\ny") == "x\\x0ay"  # a newline could forge a line
    assert printable("Tere, Õun! €") == "Tere, Õun! €"
    assert printable_lines("one\ntwo\x07") == "one\ntwo\\x07"


def test_a_transaction_with_hostile_texts_prints_no_raw_control_character() -> None:
    shown = [{"type": "displayTextAndPIN", "displayText60": HOSTILE[:60]}]
    body = _tx(interactions=shown, rpName="Bank\x1b]0;owned\x07\u202e")
    tx = parse_transaction(body)
    lines: list[str] = []
    _print_transaction(tx, lines.append)
    output = "\n".join(lines)
    assert not RAW.search(output), output
    assert "Bank\\x1b]0;owned\\x07\\u202e" in output
    assert "\\x1b[2J" in output and "\\u202e" in output
    # The forged line stays inside the text line: no line starts with the forgery.
    assert not any(line.startswith("verification code") for line in output.split("\n"))
