"""Fuzz the MRZ parser (TD1, TD2, TD3): only EmrtdError may leave.

Bytes are read as Latin-1 text. An input whose first byte is odd is first mapped into
the MRZ alphabet (A-Z, 0-9, <), so that most inputs get past the alphabet check and
reach the check digits, names and dates.
"""

from __future__ import annotations

import _harness
import atheris

with atheris.instrument_imports(include=["enrolment.emrtd"]):
    from enrolment.emrtd import EmrtdError
    from enrolment.emrtd.mrz import parse_mrz

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"


def test_one_input(data: bytes) -> None:
    if data[:1] and data[0] & 1:
        text = "".join(ALPHABET[b % len(ALPHABET)] for b in data[1:])
    else:
        text = data[1:].decode("latin-1")
    try:
        mrz = parse_mrz(text, today=_harness.NOW.date())
        _ = (mrz.personal_code, mrz.issuing_country)
    except EmrtdError:
        pass


if __name__ == "__main__":
    _harness.fuzz(test_one_input)
