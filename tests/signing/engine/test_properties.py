"""Hypothesis: split-and-combine equals the single-key signature of the same composite key.

The pool holds the fixed keys of data/keys.json at L = 1024 and 1536 (|n| = 2L and 2L − 1),
so Hypothesis varies messages, encodings and keys without generating primes per example.
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from signing.engine import (
    client_partial_for_digest,
    client_partial_signature,
    encode_message,
    os2ip,
    server_complete,
    server_complete_digest,
)
from tests.signing.engine.helpers import PIN, fixed_key

POOL = [(1024, 2048), (1024, 2047), (1536, 3072), (1536, 3071)]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(POOL), st.integers(min_value=0))
def test_split_equals_single_key_for_any_m(which: tuple[int, int], raw: int) -> None:
    key = fixed_key(*which)
    m = raw % key.n
    s1_prime = client_partial_signature(key.blob, PIN, m)
    signature = server_complete(key.composite, key.d1_double_prime, key.half, m, s1_prime)
    assert signature == key.oracle_sign(m)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(POOL),
    st.binary(max_size=200),
    st.sampled_from(["SHA256", "SHA384", "SHA512"]),
    st.sampled_from(["PKCS1v15", "PSS"]),
    st.integers(min_value=0, max_value=64),
)
def test_split_equals_single_key_for_encoded_messages(
    which: tuple[int, int], data: bytes, alg: str, padding: str, salt_len: int
) -> None:
    key = fixed_key(*which)
    digest = hashlib.new(alg.lower(), data).digest()
    salt = bytes(salt_len) if padding == "PSS" else None
    s1_prime = client_partial_for_digest(
        key.blob, PIN, n=key.n, digest=digest, hash_alg=alg, padding=padding, salt=salt
    )
    signature = server_complete_digest(
        key.composite,
        key.d1_double_prime,
        key.half,
        digest=digest,
        hash_alg=alg,
        padding=padding,
        s1_prime=s1_prime,
        salt=salt,
    )
    m = encode_message(key.n, digest, alg, padding, salt)
    assert os2ip(signature) == key.oracle_sign(m)
    assert len(signature) == key.composite.k
