"""Strict Base64 (signing.engine.b64): one canonical spelling per value, sizes on the text."""

from __future__ import annotations

import base64

import pytest

from signing.engine import InvalidBase64, b64decode_strict, encoded_length
from signing.engine.errors import EngineError, InvalidInput


@pytest.mark.parametrize("raw", [b"", b"\x00", b"ab", b"abc", b"\xff" * 16, bytes(range(256))])
def test_canonical_text_decodes(raw: bytes) -> None:
    text = base64.b64encode(raw).decode("ascii")
    assert b64decode_strict(text) == raw
    assert b64decode_strict(text.encode("ascii")) == raw  # ASCII bytes are text too


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("AA", "missing padding"),
        ("AAA", "missing padding"),
        ("A===", "padding where data must be"),
        ("AA===", "excess padding"),
        ("AA==AA==", "padding inside"),
        ("AAA=\n", "a newline"),
        (" AAA=", "a space"),
        ("AA-_", "the URL-safe alphabet"),
        ("AB==", "non-zero bits in the last character (non-canonical)"),
        ("AAB=", "non-zero bits in the last character (non-canonical)"),
        ("AAAAAAAAAAAAAAAAAAAAAB==", "a non-canonical spelling of 16 zero bytes"),
        ("ÄÄÄÄ", "non-ASCII text"),
        ("AAA\u0660", "a non-ASCII digit"),
    ],
)
def test_refused_spellings(text: str, why: str) -> None:
    with pytest.raises(InvalidBase64):
        b64decode_strict(text)


def test_non_ascii_bytes_are_refused() -> None:
    with pytest.raises(InvalidBase64, match="not valid Base64"):
        b64decode_strict(b"AAA\xc4")


@pytest.mark.parametrize("value", [None, 42, ["AAAA"], bytearray(b"AAAA"), memoryview(b"AAAA")])
def test_only_str_and_bytes_are_text(value: object) -> None:
    with pytest.raises(InvalidBase64, match="must be a Base64 string"):
        b64decode_strict(value)


def test_the_message_names_the_value_and_the_errors_are_engine_errors() -> None:
    with pytest.raises(InvalidBase64, match="^salt is not canonical Base64$") as caught:
        b64decode_strict("AB==", what="salt")
    assert isinstance(caught.value, InvalidInput)
    assert isinstance(caught.value, EngineError)
    assert isinstance(caught.value, ValueError)


def test_max_bytes_is_checked_on_the_text_before_decoding() -> None:
    assert b64decode_strict(base64.b64encode(b"x" * 16).decode(), max_bytes=16) == b"x" * 16
    # 19 bytes: a longer text than Base64 of 16 bytes can be, refused before decoding.
    with pytest.raises(InvalidBase64, match="longer than 16 bytes"):
        b64decode_strict(base64.b64encode(b"x" * 19).decode(), max_bytes=16)
    # A long text is refused for its length, whatever it contains.
    with pytest.raises(InvalidBase64, match="longer than 16 bytes"):
        b64decode_strict("!" * 10_000, max_bytes=16)


def test_max_bytes_also_counts_the_decoded_bytes() -> None:
    # Base64 of 17 bytes and of 16 bytes have the same length (24 characters): the
    # text passes the length check, the decoded size does not.
    assert encoded_length(16) == encoded_length(17) == 24
    with pytest.raises(InvalidBase64, match="longer than 16 bytes"):
        b64decode_strict(base64.b64encode(b"x" * 17).decode(), max_bytes=16, what="value")
    assert b64decode_strict(base64.b64encode(b"x" * 15).decode(), max_bytes=16) == b"x" * 15


def test_exact_bytes() -> None:
    text = base64.b64encode(b"\x01" * 16).decode()
    assert b64decode_strict(text, exact_bytes=16) == b"\x01" * 16
    for wrong in (b"\x01" * 15, b"\x01" * 19, b""):
        with pytest.raises(InvalidBase64, match="must be Base64 of 16 bytes"):
            b64decode_strict(base64.b64encode(wrong).decode(), exact_bytes=16)
    # Base64 of 17 and 18 bytes is as long as Base64 of 16: the decoded size decides.
    for longer in (b"\x01" * 17, b"\x01" * 18):
        assert len(base64.b64encode(longer)) == len(text)
        with pytest.raises(InvalidBase64, match="must be Base64 of 16 bytes"):
            b64decode_strict(base64.b64encode(longer).decode(), exact_bytes=16)


@pytest.mark.parametrize(("size", "length"), [(0, 0), (1, 4), (2, 4), (3, 4), (4, 8), (16, 24)])
def test_encoded_length(size: int, length: int) -> None:
    assert encoded_length(size) == length == len(base64.b64encode(b"\x00" * size))
