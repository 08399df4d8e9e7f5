"""The verification code formula (docs/spec/rp-api.md §2) and the server's choice list."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.engine import decoy_codes, is_verification_code, random_code, verification_code
from signing.engine.errors import InvalidInteger, InvalidLength
from tests.signing.engine.test_purity import MODULES

HELLO = b"Hello World!"
SMART_ID_SHA512 = (
    "snlTGncJvPNHOXknuOuxOhZDdrQMyW3FCixcyuMS2MSMAJrXAMwczp6O+1Ysn35FXQQylWBSaARVNjSwoD347w=="
)


@pytest.mark.parametrize(
    ("digest", "code"),
    [
        (bytes([0x1B, 0xBB]), "4555"),
        (hashlib.sha256(HELLO).digest(), "7712"),
        (hashlib.sha384(HELLO).digest(), "3486"),
        (hashlib.sha512(HELLO).digest(), "4664"),
        (hashlib.sha256(b"You broke it, didn't you.").digest(), "3404"),
        (hashlib.sha256(b"Go ahead, make my day.").digest(), "7782"),
        (hashlib.sha512(b"Hello SMART-ID").digest(), "7180"),
        (base64.b64decode(SMART_ID_SHA512), "7180"),
    ],
)
def test_published_vectors(digest: bytes, code: str) -> None:
    assert verification_code(digest) == code


def test_the_input_is_the_raw_digest_not_its_base64_text() -> None:
    digest = hashlib.sha512(b"Hello SMART-ID").digest()
    assert digest == base64.b64decode(SMART_ID_SHA512)
    assert verification_code(SMART_ID_SHA512.encode()) != "7180"


@given(st.binary(min_size=1, max_size=512))
def test_always_four_digits_and_deterministic(digest: bytes) -> None:
    code = verification_code(digest)
    assert len(code) == 4 and code.isdigit() and is_verification_code(code)
    assert verification_code(bytes(digest)) == code


@pytest.mark.parametrize("bad", [b"", b"x" * 513, "1BBB", bytearray(b"\x1b\xbb"), None, 7])
def test_bad_input(bad: object) -> None:
    with pytest.raises(InvalidLength):
        verification_code(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0000", True),
        ("4555", True),
        ("455", False),
        ("45555", False),
        ("45a5", False),
        ("४५५५", False),
        (4555, False),
        (None, False),
    ],
)
def test_is_verification_code(value: object, ok: bool) -> None:
    assert is_verification_code(value) is ok


@given(st.integers(0, 9999), st.integers(2, 10))
def test_choices_are_distinct_and_contain_the_correct_code(value: int, count: int) -> None:
    correct = f"{value:04d}"
    codes = decoy_codes(correct, count)
    assert len(codes) == count == len(set(codes))
    assert correct in codes
    assert all(is_verification_code(c) for c in codes)


def test_choices_default_to_three_and_are_shuffled() -> None:
    positions = {decoy_codes("4555").index("4555") for _ in range(200)}
    assert len(decoy_codes("4555")) == 3
    assert positions == {0, 1, 2}  # P(miss a position in 200 draws) ≈ 3·(2/3)^200


@pytest.mark.parametrize(
    ("correct", "count", "error"),
    [
        ("455", 3, InvalidLength),
        ("4555", 1, InvalidInteger),
        ("4555", 11, InvalidInteger),
        ("4555", True, InvalidInteger),
        (4555, 3, InvalidLength),
    ],
)
def test_choice_arguments(correct: object, count: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        decoy_codes(correct, count)  # type: ignore[arg-type]


def test_the_purity_test_covers_the_device_api_modules() -> None:
    assert {"vc", "transport", "appauth"} <= set(MODULES)


def test_a_random_collision_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([4555, 4555, 1, 1, 2, 0, 0])
    monkeypatch.setattr("signing.engine.vc.secrets.randbelow", lambda _bound: next(draws))
    codes = decoy_codes("4555")
    assert sorted(codes) == ["0001", "0002", "4555"]


def test_a_random_code_is_four_digits_uniform_over_all_10000(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bounds: list[int] = []

    def randbelow(bound: int) -> int:
        bounds.append(bound)
        return 7

    monkeypatch.setattr("signing.engine.vc.secrets.randbelow", randbelow)
    assert random_code() == "0007" and bounds == [10_000]
    monkeypatch.undo()
    assert all(is_verification_code(random_code()) for _ in range(100))
