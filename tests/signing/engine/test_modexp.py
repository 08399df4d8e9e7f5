"""Both constant-time backends agree with each other and with gmpy2.powmod."""

from __future__ import annotations

import random

import gmpy2
import pytest

from signing.engine import modexp
from signing.engine.errors import BackendError, InvalidInteger

BACKENDS = [modexp.powmod_secret_openssl, modexp.powmod_secret_gmpy2, modexp.powmod_secret]


def test_openssl_backend_is_the_default_here() -> None:
    assert modexp.openssl_available()
    assert modexp.SECRET_BACKEND == "openssl"


@pytest.mark.parametrize("bits", [8, 64, 521, 1024, 3072])
def test_backends_agree_on_random_inputs(bits: int, rng: random.Random) -> None:
    for _ in range(12):
        mod = rng.getrandbits(bits) | 1 | (1 << (bits - 1))
        base = rng.getrandbits(bits + 40)  # usually ≥ mod: must be reduced first
        exp = rng.getrandbits(bits)
        expected = int(gmpy2.powmod(base, exp, mod))
        results = {backend(base, exp, mod) for backend in BACKENDS}
        assert results == {expected}
        assert modexp.powmod(base, exp, mod) == expected


@pytest.mark.parametrize(
    ("base", "exp", "mod", "expected"),
    [
        (0, 0, 7, 1),  # 0^0 = 1 by convention, as gmpy2
        (0, 5, 7, 0),
        (5, 0, 7, 1),
        (7, 3, 7, 0),  # base ≡ 0
        (9, 5, 7, 4),  # base ≥ mod reduced first
        (2**4000 + 3, 65537, 3, int(gmpy2.powmod(2**4000 + 3, 65537, 3))),
        (1, 2**3072 - 1, 2**3072 - 1, 1),
        (2**3072 - 2, 1, 2**3072 - 1, 2**3072 - 2),
    ],
)
def test_edge_cases(base: int, exp: int, mod: int, expected: int) -> None:
    assert int(gmpy2.powmod(base, exp, mod)) == expected
    for backend in [*BACKENDS, modexp.powmod]:
        assert backend(base, exp, mod) == expected


@pytest.mark.parametrize(
    ("base", "exp", "mod"),
    [
        (-1, 3, 7),
        (2, -1, 7),
        (2, 3, -7),
        (2, 3, 8),
        (2, 3, 1),
        (2, 3, 0),
        (2.0, 3, 7),
        (True, 3, 7),
    ],
)
def test_bad_arguments_raise_invalid_integer(base: object, exp: object, mod: object) -> None:
    for backend in [*BACKENDS, modexp.powmod]:
        with pytest.raises(InvalidInteger):
            backend(base, exp, mod)  # type: ignore[arg-type]


def test_openssl_failure_surfaces_as_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    binding = modexp._OPENSSL
    assert binding is not None
    monkeypatch.setattr(binding.lib, "BN_mod_exp_mont_consttime", lambda *args: 0)
    with pytest.raises(BackendError):
        modexp.powmod_secret_openssl(3, 5, 7)


@pytest.mark.parametrize(
    "function", ["BN_CTX_new", "BN_bin2bn", "BN_new", "BN_MONT_CTX_set", "BN_bn2binpad"]
)
def test_each_openssl_step_failure_is_reported(
    monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    binding = modexp._OPENSSL
    assert binding is not None
    monkeypatch.setattr(
        binding.lib, function, lambda *args: 0 if function != "BN_bn2binpad" else -1
    )
    with pytest.raises(BackendError):
        modexp.powmod_secret_openssl(3, 5, 7)
    monkeypatch.undo()
    assert modexp.powmod_secret_openssl(3, 5, 7) == 5
