"""Split-key RSA benchmark, 3072+3072 (run: ``.venv/bin/python benchmarks/splitkey.py``).

Prints one table: the app's partial signature, the server's completion (total and its
parts), a plain RSA-6144 PKCS#1 v1.5 signature by ``cryptography`` measured in the same
run (interleaved with the server completion, so VM noise hits both alike), their ratio
(DESIGN §3 target ≤ 0.70, theory 0.63), and the constant-time exponentiation backends on
one 3072-bit modulus with a full 3072-bit exponent. Medians of N runs, time.perf_counter.
Not part of the test suite.
"""

from __future__ import annotations

import hashlib
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gmpy2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signing.engine import (  # noqa: E402 - after the path setup above
    SECRET_BACKEND,
    client_keygen,
    client_partial_signature,
    combine,
    complete_client_share,
    composite_public_key,
    decrypt_share,
    encode_message,
    generate_server_half,
    modexp,  # noqa: E402
    server_complete,
    server_complete_digest,
    server_rsasp1,
    verify,
)
from signing.engine import server as server_module  # noqa: E402

N = 40
PIN = "13579"
Row = tuple[str, list[float], str]


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def sample(function: Callable[[], object], n: int = N) -> list[float]:
    function()  # warm-up
    return [timed(function) for _ in range(n)]


def main() -> None:
    started = time.perf_counter()
    print(f"setting up 3072-bit split key and RSA-6144 reference key; backend {SECRET_BACKEND}")
    blob, d1pp = client_keygen(PIN)
    half = generate_server_half(3072)
    key = composite_public_key(blob.n1, half.n2)
    reference = rsa.generate_private_key(public_exponent=65537, key_size=6144)

    digest = hashlib.sha256(b"benchmark document").digest()
    m = encode_message(key.n, digest, "SHA256", "PKCS1v15")
    s1_prime = client_partial_signature(blob, PIN, m)
    s1 = complete_client_share(key, d1pp, m, s1_prime)
    s2 = server_rsasp1(half, m % key.n2)
    signature = combine(key, s1, s2, m)
    verify(key.n, 65537, signature.to_bytes(key.k, "big"), digest, "SHA256", "PKCS1v15")

    rows: list[Row] = []
    rows.append(
        (
            "app: partial signature s1′ (scrypt 2^15 + exp)",
            sample(lambda: client_partial_signature(blob, PIN, m), 20),
            "phone does this",
        )
    )
    d_tilde = int.from_bytes(decrypt_share(blob, PIN), "big")
    rows.append(
        (
            "app: exponentiation only m1^d1′ mod n1",
            sample(lambda: modexp.powmod_secret(m % blob.n1, d_tilde, blob.n1)),
            "",
        )
    )

    server_times: list[float] = []
    rsa_times: list[float] = []
    message = b"benchmark document"
    server_complete(key, d1pp, half, m, s1_prime)
    reference.sign(message, padding.PKCS1v15(), hashes.SHA256())
    for _ in range(N):
        server_times.append(timed(lambda: server_complete(key, d1pp, half, m, s1_prime)))
        rsa_times.append(
            timed(lambda: reference.sign(message, padding.PKCS1v15(), hashes.SHA256()))
        )
    rows.append(
        (
            "server: completion total (s1, s2, S, all checks)",
            server_times,
            "ServerComplete arithmetic",
        )
    )
    rows.append(
        (
            "  s1 = s1′·m1^d1″ + check s1^e",
            sample(lambda: complete_client_share(key, d1pp, m, s1_prime)),
            "d1″ const-time",
        )
    )
    rows.append(
        (
            "  s2 = blinded CRT RSASP1(d2) + check",
            sample(lambda: server_rsasp1(half, m % key.n2)),
            "2 × 1536-bit const-time",
        )
    )
    rows.append(("  Garner S + check S^e mod n", sample(lambda: combine(key, s1, s2, m)), ""))
    salt = secrets.token_bytes(64)
    digest512 = hashlib.sha512(message).digest()
    m_pss = encode_message(key.n, digest512, "SHA512", "PSS", salt)
    s1_pss = client_partial_signature(blob, PIN, m_pss)
    rows.append(
        (
            "server: completion incl. PSS-SHA512 encode",
            sample(
                lambda: server_complete_digest(
                    key,
                    d1pp,
                    half,
                    digest=digest512,
                    hash_alg="SHA512",
                    padding="PSS",
                    s1_prime=s1_pss,
                    salt=salt,
                )
            ),
            "",
        )
    )
    # Swap the backend the server module uses (as the tests' monkeypatch does).
    namespace = vars(server_module)
    original = namespace["powmod_secret"]
    namespace["powmod_secret"] = modexp.powmod_secret_gmpy2
    try:
        rows.append(
            (
                "server: completion, gmpy2.powmod_sec backend",
                sample(lambda: server_complete(key, d1pp, half, m, s1_prime)),
                "portable fallback",
            )
        )
    finally:
        namespace["powmod_secret"] = original
    rows.append(
        ("reference: cryptography RSA-6144 PKCS#1 v1.5 sign", rsa_times, "interleaved with total")
    )

    n = gmpy2.mpz(secrets.randbits(3072) | (1 << 3071) | 1)
    x = secrets.randbits(3070)
    e = secrets.randbits(3072) | (1 << 3071)
    n_int = int(n)
    rows.append(
        (
            "modexp 3072/3072: OpenSSL BN_mod_exp_mont_consttime",
            sample(lambda: modexp.powmod_secret_openssl(x, e, n_int)),
            "powmod_secret default",
        )
    )
    rows.append(
        (
            "modexp 3072/3072: gmpy2.powmod_sec",
            sample(lambda: gmpy2.powmod_sec(x, e, n)),
            "constant time, portable",
        )
    )
    rows.append(
        (
            "modexp 3072/3072: gmpy2.powmod (variable time)",
            sample(lambda: gmpy2.powmod(x, e, n)),
            "public exponents only",
        )
    )

    width = max(len(name) for name, _, _ in rows)
    title = "operation (3072+3072, medians)"
    print()
    print(f"{title:<{width}}  {'median ms':>9}  {'min ms':>7}  {'ops/s':>6}  note")
    print("-" * (width + 44))
    for name, times, note in rows:
        median = statistics.median(times)
        low = min(times) * 1e3
        print(f"{name:<{width}}  {median * 1e3:9.2f}  {low:7.2f}  {1 / median:6.0f}  {note}")
    ratio = statistics.median(server_times) / statistics.median(rsa_times)
    verdict = "OK" if ratio <= 0.70 else "ABOVE TARGET"
    print("-" * (width + 44))
    label = "ratio server completion / RSA-6144 sign"
    print(f"{label:<{width}}  {ratio:9.2f}  {'':>16}  target ≤ 0.70, theory 0.63: {verdict}")
    print(f"\nN = {N} (app partial: 20); total run time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
