"""Fuzz the data group parsers (DG1, DG2, DG14, DG15): only EmrtdError may leave.

The first byte is the data group's tag, as in a file read from the chip; a tag of no
data group picks one by its value, so that the outer tag check is fuzzed too.
"""

from __future__ import annotations

import _harness
import atheris

with atheris.instrument_imports(include=["enrolment.emrtd"]):
    from enrolment.emrtd import EmrtdError
    from enrolment.emrtd.datagroups import DG_TAGS, parse_dg1, parse_dg2, parse_dg14, parse_dg15
    from enrolment.emrtd.passive import check_data_group

NUMBERS = {tag: number for number, tag in DG_TAGS.items()}
PARSERS = {
    1: lambda data: parse_dg1(data, today=_harness.NOW.date()),
    2: parse_dg2,
    14: parse_dg14,
    15: parse_dg15,
}


def test_one_input(data: bytes) -> None:
    number = NUMBERS.get(data[0], (1, 2, 14, 15)[data[0] % 4]) if data else 1
    try:
        check_data_group(number, data)
        parser = PARSERS.get(number)
        if parser is not None:
            parser(data)
    except EmrtdError:
        pass


if __name__ == "__main__":
    _harness.fuzz(test_one_input)
