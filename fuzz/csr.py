"""Fuzz the CA's PKCS#10 check (pki.services.csr_public_key): only CsrRejected may leave.

The key sizes allowed are those of the seed requests (1024 and 2048 bits) and of real
split keys (6143 and 6144 bits), so that a request can get past the size check.
"""

from __future__ import annotations

import _harness
import atheris

with atheris.instrument_imports(include=["pki"]):
    _harness.django_setup()
    from pki.services import CsrRejected, csr_public_key

ALLOWED_BITS = frozenset({1024, 2048, 6143, 6144})


def test_one_input(data: bytes) -> None:
    try:
        csr_public_key(data, allowed_key_bits=ALLOWED_BITS)
    except CsrRejected:
        pass


if __name__ == "__main__":
    _harness.fuzz(test_one_input)
