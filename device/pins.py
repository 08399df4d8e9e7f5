"""The PIN rule of the app: PIN1 (AUTH) is 4-12 digits, PIN2 (SIGN) 5-12 digits."""

from __future__ import annotations

from device.errors import InputError
from signing.engine import InvalidPin, validate_pin

#: Shortest PIN per key: PIN1 (AUTH) 4-12 digits, PIN2 (SIGN) 5-12 digits.
PIN_MIN_LENGTH = {"AUTH": 4, "SIGN": 5}


def check_pin(pin: object, purpose: str) -> str:
    """``pin`` when it fits the rule of the ``purpose`` key; InputError naming PIN1/PIN2."""
    try:
        validate_pin(pin, min_length=PIN_MIN_LENGTH[purpose])  # type: ignore[arg-type]
    except InvalidPin:
        low = PIN_MIN_LENGTH[purpose]
        label = "PIN1" if purpose == "AUTH" else "PIN2"
        raise InputError(f"{label} must be {low}-12 digits") from None
    assert isinstance(pin, str)  # noqa: S101 - validated above
    return pin
