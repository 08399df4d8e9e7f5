"""What the relying parties' SDK (sdk/python, ``smartid_client``) costs per login on the
client side, next to the HTTP round trips of the same logins (not a test).

One run against a live server: the demo as ``make demo`` builds it (``SMARTID_ENV=demo``,
``demo_setup``: the demo relying parties and accounts; ``demo_devices`` answering with no
delay; uvicorn), in a scratch data folder on a free loopback port. Then ``--logins`` logins
of each kind, each started, completed and validated by the SDK:

* ``v3 QR``: ``authentication/device-link/anonymous``, the QR link handed to the demo
  account's device by the mock service (``POST /mock/device-link``), ACSP_V2 RSASSA-PSS;
* ``v3 notif``: ``authentication/notification/etsi/…``, ACSP_V2;
* ``v2``: ``authentication/etsi/…``, PKCS#1 v1.5 over the RP's hash.

Per login the round trip (POST → mock → long polls → COMPLETE: the server's and the
device's work, which the RP waits for) and the SDK's validation, step by step with
``time.perf_counter``: the signature (payload rebuilt + RSA verification with the
certificate's key), the chain (key usage, validity, the path to the root with
``cryptography``'s verifier), OCSP (request with a nonce to the AIA responder over HTTP,
the answer's signature and status), the identity (subject, SAN, date of birth, level
policies), and ``Validator.authentication`` whole (OCSP on) as the sum a relying party
pays. The table shows medians (and p90) in ms.

Run: ``.venv/bin/python benchmarks/sdk_validation.py [--logins 20] [--key-bits 3072]``.
Every run registers the 54 demo accounts first (about 100 s at 3072 bits on two shared
cores). Only 127.0.0.1 is used.

Measured 2026-12-03 on the 2-core VM shared with another test run (load average ~1.4),
3072-bit key halves (user keys |n| = 6143 bits), one uvicorn worker, SQLite, 20 logins of
each kind, medians (p90) in ms:

=================  ===============  ===============  ===============
step               v3 QR            v3 notification  v2
=================  ===============  ===============  ===============
round trip         283.4 (329.3)    244.1 (361.0)    269.8 (392.2)
signature          0.45 (0.55)      0.43 (3.73)      0.40 (0.45)
chain              6.57 (13.67)     4.66 (6.68)      4.19 (12.30)
OCSP               22.6 (28.5)      27.4 (39.8)      28.5 (40.7)
identity           0.18 (0.24)      0.16 (0.20)      0.18 (0.64)
validate (all)     21.6 (25.2)      25.8 (41.2)      24.5 (33.5)
=================  ===============  ===============  ===============

Without OCSP the client-side validation is ~5-7 ms per login (the chain dominates: path
building with cryptography's verifier; the RSA-6144 verification is ~0.4 ms), i.e. 2-3 % of
the round trip. OCSP adds one more HTTP round trip to the platform's responder (~20-30 ms
here, mostly the server signing the answer), bringing validation to ~8-10 % of a login.
The medians of the steps do not add up to "validate (all)": each is measured separately
and the OCSP step varies with the server's load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sdk" / "python"))

import smartid_client as sc  # noqa: E402 -- after the path insert
from smartid_client.identity import identity_from_certificate  # noqa: E402
from smartid_client.protocol import acsp_v2_digest, acsp_v2_payload, b64decode  # noqa: E402
from smartid_client.validation import Purpose, certificate_level_of, verify_signature  # noqa: E402

from benchmarks._platform import free_port, start_server  # noqa: E402

DEMO_V3 = "00000000-0000-4000-8000-000000000000"
DEMO_V2 = "00000000-0000-0000-0000-000000000000"
OK_PERSON = "PNOEE-40504040001"
OK_DOCUMENT = "PNOEE-40504040001-MOCK-Q"
PIN = sc.Interaction.display_text_and_pin("Log in?")
T = TypeVar("T")
STEPS = ("round trip", "signature", "chain", "OCSP", "identity", "validate (all)")


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603 -- our own interpreter and manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return (time.perf_counter() - start) * 1000, value


def _steps(
    validator: sc.Validator,
    plain: sc.Validator,
    session: sc.Session,
    status: sc.SessionStatus,
) -> dict[str, float]:
    """The validation, step by step (the same checks Validator makes), and whole."""
    assert status.cert is not None and status.signature is not None
    assert status.signature.value is not None and session.hash_algorithm is not None
    cert = status.cert.certificate
    signature = status.signature
    hash_algorithm = session.hash_algorithm
    times: dict[str, float] = {}

    def check_signature() -> None:
        if session.api_version == 3:
            assert session.rp_challenge is not None and signature.flow_type is not None
            payload = acsp_v2_payload(
                scheme_name=session.scheme_name,
                server_random=signature.server_random or "",
                rp_challenge=session.rp_challenge,
                user_challenge=signature.user_challenge or "",
                relying_party_name=session.relying_party_name,
                brokered_rp_name="",
                interactions=session.interactions,
                interaction_type_used=status.interaction_used or "",
                initial_callback_url="",
                flow_type=signature.flow_type,
            )
            digest = acsp_v2_digest(payload, hash_algorithm)
            algorithm = sc.SignatureAlgorithm.RSASSA_PSS
        else:
            assert session.digest is not None
            digest = b64decode(session.digest)
            algorithm = sc.SignatureAlgorithm.SHA512_WITH_RSA
        assert signature.value is not None
        verify_signature(cert, signature.value, digest, algorithm, hash_algorithm)

    times["signature"], _ = _timed(check_signature)
    times["chain"], chain = _timed(lambda: plain.verify_certificate(cert, Purpose.AUTHENTICATION))
    times["OCSP"], _ = _timed(lambda: validator.check_revocation(cert, chain[1]))
    times["identity"], _ = _timed(
        lambda: (
            identity_from_certificate(cert),
            certificate_level_of(cert, Purpose.AUTHENTICATION),
        )
    )
    times["validate (all)"], _ = _timed(lambda: validator.authentication(session, status))
    return times


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--logins", type=int, default=20, help="logins of each kind")
    parser.add_argument("--key-bits", type=int, default=3072, help="each key half (|n| = 2x)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sdk-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SMARTID_ENV": "demo",
        "SMARTID_DATA_DIR": str(workdir),
        "SMARTID_SPLITKEY_BITS": str(args.key_bits),
        "SITE_URL": base,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):  # the embedded defaults: SQLite, in-process bus
        env.pop(name, None)
    server = devices = None
    try:
        started = time.monotonic()
        _manage(env, "migrate", "--no-input")
        _manage(env, "demo_setup")
        print(f"demo set up in {time.monotonic() - started:.0f} s", file=sys.stderr)
        server = start_server(port, 1, env)
        devices = subprocess.Popen(  # noqa: S603 -- our own interpreter and manage.py
            [sys.executable, "manage.py", "demo_devices", "--server", base, "--delay", "0",
             "--poll-ms", "10000"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        run(base, args.logins)
    finally:
        for process in (devices, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def run(base: str, logins: int) -> None:
    files = [httpx.get(f"{base}/ca/{slug}.crt", timeout=30) for slug in ("root", "eid-q", "eid-nq")]
    root, *issuing = sc.load_certificates(*(r.raise_for_status().content for r in files))
    ocsp_http = httpx.Client(timeout=30)  # a relying party keeps one connection pool
    validator = sc.Validator([root], issuing, ocsp=True, ocsp_http=ocsp_http)
    plain = sc.Validator([root], issuing)
    v3 = sc.SmartIdClient(f"{base}/v3", DEMO_V3, "DEMO", scheme_name=sc.SCHEME_DEMO)
    v2 = sc.SmartIdClientV2(f"{base}/v2", DEMO_V2, "DEMO")

    def qr() -> tuple[sc.Session, sc.SessionStatus]:
        session = v3.authentication_device_link([PIN])
        httpx.post(
            f"{base}/mock/device-link",
            json={"documentNumber": OK_DOCUMENT, "deviceLink": session.qr_link(), "flowType": "QR"},
            timeout=30,
        ).raise_for_status()
        return session, v3.wait(session, timeout_ms=10_000)

    def notification() -> tuple[sc.Session, sc.SessionStatus]:
        session = v3.authentication_notification([PIN], semantics_identifier=OK_PERSON)
        return session, v3.wait(session, timeout_ms=10_000)

    def legacy() -> tuple[sc.Session, sc.SessionStatus]:
        session = v2.authentication([PIN], semantics_identifier=OK_PERSON)
        return session, v2.wait(session, timeout_ms=10_000)

    kinds = {"v3 QR": qr, "v3 notif": notification, "v2": legacy}
    # warm-up: the devices start polling, the connections open, OCSP's issuer index loads
    deadline = time.monotonic() + 120
    while True:
        try:
            for flow in kinds.values():
                validator.authentication(*flow())
            break
        except (sc.SmartIdError, httpx.HTTPError) as exc:
            if time.monotonic() > deadline:
                raise
            print(f"waiting for the devices: {type(exc).__name__}", file=sys.stderr)
            time.sleep(1)

    results: dict[str, dict[str, list[float]]] = {}
    for name, flow in kinds.items():
        rows: dict[str, list[float]] = {step: [] for step in STEPS}
        for _ in range(logins):
            elapsed, (session, status) = _timed(flow)
            rows["round trip"].append(elapsed)
            for step, ms in _steps(validator, plain, session, status).items():
                rows[step].append(ms)
        results[name] = rows

    key = status.cert.certificate.public_key() if status.cert else None  # the last login's
    bits = key.key_size if isinstance(key, rsa.RSAPublicKey) else 0
    print(f"\n{logins} logins of each kind; user key |n| = {bits} bits; medians (p90), ms\n")
    header = f"{'step':<16}" + "".join(f"{name:>20}" for name in results)
    print(header)
    print("-" * len(header))
    for step in STEPS:
        cells = "".join(
            f"{statistics.median(rows[step]):>11.2f} ({_percentile(rows[step], 90):>6.2f})"
            for rows in results.values()
        )
        print(f"{step:<16}{cells}")
    ocsp_http.close()
    v3.close()
    v2.close()


if __name__ == "__main__":
    main()
