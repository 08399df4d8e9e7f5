"""The app's readers of the service's answers: every off-contract field is a ProtocolError."""

from __future__ import annotations

import base64

import pytest

from device.errors import ProtocolError, StateError
from device.state import unb64
from device.wire import (
    TOKEN_BYTES,
    base64_field,
    document_number,
    field,
    lower_uuid,
    optional_int,
    string,
    to_json,
    token,
)


def test_base64_fields_are_strict_and_canonical() -> None:
    assert base64_field({"x": base64.b64encode(b"abc").decode()}, "x") == b"abc"
    for bad in ["AB==", "AA=", "AA===", "A A=", "ÄA==", 12, None]:
        with pytest.raises(ProtocolError, match="'x'"):
            base64_field({"x": bad}, "x")
    with pytest.raises(ProtocolError, match="lacks 'x'"):
        base64_field({}, "x")


def test_a_sized_field_must_have_its_size() -> None:
    assert base64_field({"x": "AAAA"}, "x", 3) == b"\0\0\0"
    for other_size in ["AA==", "AAA=", "AAAAAA=="]:
        with pytest.raises(ProtocolError, match="3 bytes"):
            base64_field({"x": other_size}, "x", 3)


def test_tokens_are_sixteen_bytes() -> None:
    assert token({}) is None and token({"token": None}) is None
    assert token({"token": base64.b64encode(b"t" * TOKEN_BYTES).decode()}) == b"t" * TOKEN_BYTES
    for size in (15, 17, 18):  # 16, 17 and 18 bytes share the 24-character length
        with pytest.raises(ProtocolError):
            token({"token": base64.b64encode(b"t" * size).decode()})


def test_field_readers() -> None:
    assert field({"a": 1}, "a") == 1
    assert string({}, "a", optional=True) is None
    with pytest.raises(ProtocolError, match="string"):
        string({"a": "x" * 5000}, "a")
    assert optional_int({"a": 3}, "a") == 3 and optional_int({}, "a") is None
    with pytest.raises(ProtocolError, match="integer"):
        optional_int({"a": True}, "a")
    uid = "0b2d6a52-4c5e-4a63-9d3f-2f9e8f1c0a11"
    assert lower_uuid(uid, "id") == uid
    with pytest.raises(ProtocolError, match="lower-case UUID"):
        lower_uuid(uid.upper(), "id")
    assert document_number("PNOEE-30303039914-MOCK-Q") == "PNOEE-30303039914-MOCK-Q"
    with pytest.raises(ProtocolError, match="documentNumber"):
        document_number("../x")
    assert to_json({"a": [1, "b"]}) == b'{"a":[1,"b"]}'


def test_the_state_decodes_strictly_too() -> None:
    assert unb64("AAAA", "blob") == b"\0\0\0"
    for bad in ["AB==", "AAA", 5]:
        with pytest.raises(StateError, match="blob"):
            unb64(bad, "blob")
