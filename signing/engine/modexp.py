"""Modular exponentiation backends: the only place the engine exponentiates.

* :func:`powmod` — public exponents (e = 65537, verification): ``gmpy2.powmod``.
* :func:`powmod_secret` — secret exponents (d1′, d1″, the CRT halves of d2): constant-time
  Montgomery ladder-style exponentiation. Two backends:

  - ``"openssl"``: OpenSSL's ``BN_mod_exp_mont_consttime`` from the system libcrypto,
    called through :mod:`ctypes` (which releases the GIL during the call, so threads scale);
  - ``"gmpy2"``: ``gmpy2.powmod_sec`` (GMP's ``mpz_powm_sec``), portable but slower.

  OpenSSL is chosen when libcrypto loads, gmpy2 otherwise (see :data:`SECRET_BACKEND`).
  Both compute base^exp mod mod; tests check them against each other.

Python's builtin ``pow`` is never used for exponentiation: it is an order of magnitude
slower and not constant time. Converting Python ints to bytes is not constant time
either; only the exponentiation itself is hardened, and the operands' word length is
visible. The modulus must be odd (all RSA moduli and primes are).
"""

from __future__ import annotations

import ctypes
import ctypes.util

import gmpy2

from signing.engine.errors import BackendError, InvalidInteger

_BN_FLG_CONSTTIME = 0x04


def _check(base: int, exp: int, mod: int) -> None:
    for name, value in (("base", base), ("exponent", exp), ("modulus", mod)):
        if type(value) is not int:
            raise InvalidInteger(f"{name} must be an int")
        if value < 0:
            raise InvalidInteger(f"{name} must not be negative")
    if mod < 3 or mod % 2 == 0:
        raise InvalidInteger("modulus must be odd and at least 3")


def powmod(base: int, exp: int, mod: int) -> int:
    """Return base^exp mod mod for a PUBLIC exponent (variable time, gmpy2)."""
    _check(base, exp, mod)
    return int(gmpy2.powmod(base, exp, mod))


def powmod_secret_gmpy2(base: int, exp: int, mod: int) -> int:
    """Return base^exp mod mod in constant time with ``gmpy2.powmod_sec``.

    ``powmod_sec`` refuses exp = 0; x^0 = 1 for every odd mod ≥ 3, so that case is answered
    directly (it only reveals that the exponent is zero).
    """
    _check(base, exp, mod)
    if exp == 0:
        return 1
    return int(gmpy2.powmod_sec(base % mod, exp, mod))


class _OpenSSL:
    """Thin ctypes binding of the few BIGNUM functions we need."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        vp = ctypes.c_void_p
        self.lib = lib
        lib.BN_CTX_new.restype = vp
        lib.BN_CTX_new.argtypes = []
        lib.BN_CTX_free.restype = None
        lib.BN_CTX_free.argtypes = [vp]
        lib.BN_new.restype = vp
        lib.BN_new.argtypes = []
        lib.BN_bin2bn.restype = vp
        lib.BN_bin2bn.argtypes = [ctypes.c_char_p, ctypes.c_int, vp]
        lib.BN_bn2binpad.restype = ctypes.c_int
        lib.BN_bn2binpad.argtypes = [vp, ctypes.c_void_p, ctypes.c_int]
        lib.BN_clear_free.restype = None
        lib.BN_clear_free.argtypes = [vp]
        lib.BN_set_flags.restype = None
        lib.BN_set_flags.argtypes = [vp, ctypes.c_int]
        lib.BN_MONT_CTX_new.restype = vp
        lib.BN_MONT_CTX_new.argtypes = []
        lib.BN_MONT_CTX_set.restype = ctypes.c_int
        lib.BN_MONT_CTX_set.argtypes = [vp, vp, vp]
        lib.BN_MONT_CTX_free.restype = None
        lib.BN_MONT_CTX_free.argtypes = [vp]
        lib.BN_mod_exp_mont_consttime.restype = ctypes.c_int
        lib.BN_mod_exp_mont_consttime.argtypes = [vp, vp, vp, vp, vp, vp]

    def _bn(self, value: int, length: int) -> int:
        raw = value.to_bytes(length, "big")
        bn = self.lib.BN_bin2bn(raw, length, None)
        if not bn:
            raise BackendError("BN_bin2bn failed")
        self.lib.BN_set_flags(bn, _BN_FLG_CONSTTIME)
        return int(bn)

    def powmod(self, base: int, exp: int, mod: int) -> int:
        lib = self.lib
        mod_len = (mod.bit_length() + 7) // 8
        exp_len = max(1, (exp.bit_length() + 7) // 8)
        ctx = lib.BN_CTX_new()
        mont = lib.BN_MONT_CTX_new()
        bns: list[int] = []
        out = ctypes.create_string_buffer(mod_len)
        try:
            if not ctx or not mont:
                raise BackendError("BN_CTX_new/BN_MONT_CTX_new failed")
            a = self._bn(base % mod, mod_len)
            bns.append(a)
            p = self._bn(exp, exp_len)
            bns.append(p)
            m = self._bn(mod, mod_len)
            bns.append(m)
            r = lib.BN_new()
            if not r:
                raise BackendError("BN_new failed")
            bns.append(int(r))
            if lib.BN_MONT_CTX_set(mont, m, ctx) != 1:
                raise BackendError("BN_MONT_CTX_set failed")
            if lib.BN_mod_exp_mont_consttime(r, a, p, m, ctx, mont) != 1:
                raise BackendError("BN_mod_exp_mont_consttime failed")
            if lib.BN_bn2binpad(r, out, mod_len) != mod_len:
                raise BackendError("BN_bn2binpad failed")
            return int.from_bytes(out.raw, "big")
        finally:
            ctypes.memset(out, 0, mod_len)
            for bn in bns:
                lib.BN_clear_free(bn)
            if mont:
                lib.BN_MONT_CTX_free(mont)
            if ctx:
                lib.BN_CTX_free(ctx)


def _load_openssl() -> _OpenSSL | None:
    name = ctypes.util.find_library("crypto")
    if name is None:  # pragma: no cover - libcrypto is present wherever we deploy
        return None
    try:
        return _OpenSSL(ctypes.CDLL(name))
    except (OSError, AttributeError):  # pragma: no cover - too old or unusual libcrypto
        return None


_OPENSSL = _load_openssl()

#: Name of the backend :func:`powmod_secret` uses: ``"openssl"`` or ``"gmpy2"``.
SECRET_BACKEND: str = "openssl" if _OPENSSL is not None else "gmpy2"


def openssl_available() -> bool:
    """True when the OpenSSL constant-time backend loaded."""
    return _OPENSSL is not None


def powmod_secret_openssl(base: int, exp: int, mod: int) -> int:
    """Return base^exp mod mod with OpenSSL ``BN_mod_exp_mont_consttime`` (constant time).

    The base is reduced mod mod first; every BIGNUM is flagged ``BN_FLG_CONSTTIME`` and
    cleared with ``BN_clear_free`` afterwards. Raises :class:`BackendError` when libcrypto
    is unavailable.
    """
    _check(base, exp, mod)
    if _OPENSSL is None:  # pragma: no cover - see _load_openssl
        raise BackendError("OpenSSL libcrypto is not available")
    return _OPENSSL.powmod(base, exp, mod)


def powmod_secret(base: int, exp: int, mod: int) -> int:
    """Return base^exp mod mod for a SECRET exponent, in constant time.

    Uses OpenSSL when available (faster, releases the GIL), ``gmpy2.powmod_sec`` otherwise.
    """
    if _OPENSSL is not None:
        return powmod_secret_openssl(base, exp, mod)
    return powmod_secret_gmpy2(base, exp, mod)  # pragma: no cover - no libcrypto
