"""Authentication round trips through the running server (not a test).

Starts the platform in one uvicorn process on a free loopback port (a scratch SQLite file,
or a scratch PostgreSQL database when ``DATABASE_URL`` is set), with production-size keys
(``SMARTID_SPLITKEY_BITS=3072``: |n| = 6144). It registers ONE reference-app device
(``device.app.DeviceApp``), then runs N authentication round trips:

    transaction created (``signing.services.transactions.transaction_create`` in this
    process; it publishes the wake-up on Redis, which the server's long poll listens to)
    → the app, waiting in its long poll (``pending()``), is woken
    → ``approve()``: s1′ (scrypt + exponentiation), encrypted to the transport key
    → the server completes the signature
    → this process reads the signature and verifies it with ``cryptography``.

Redis carries the wake-ups between the two processes: the in-process event bus would not
reach the server from here. ``REDIS_URL`` (default ``redis://127.0.0.1:6379/14``) is
used by both processes; Celery runs eagerly.

Measured in the same run and printed as one table:

* end-to-end latency per flow (created → verified signature), p50 and p99 (nearest rank),
  and where the time goes (wake-up, the app's approve, the read-back and verification);
* the pure cryptography on the very same key, timed in this process between the flows
  (while the app waits in its next long poll and the server is idle): the app's
  ``client_partial_for_digest`` (scrypt included, with the KDF the blob was registered
  with, and with the production KDF for comparison) and the engine's
  ``server_complete_digest`` alone;
* the server's CPU time per completed signature (utime + stime of the uvicorn process from
  ``/proc/<pid>/stat`` around the N flows, divided by N) against the engine's completion.

The ratio e2e p50 / (client partial + server completion) is the figure we track; target ≤ 2.

Run: ``.venv/bin/python benchmarks/device_flow.py [--flows 30] [--kdf cheap|production]``.
The registration uses a cheap KDF by default (``--kdf production`` registers with the
app's default scrypt 2^15, so every flow pays it).
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY_BITS = 3072
PIN1, PIN2 = "1234", "12345"
WARM_UP = 3
IDLE_SECONDS = 3.0
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all its threads) in seconds, from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces; the fields after its ")" are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads)."""
    return sum(_cpu_times(pid))


@contextmanager
def _scratch_postgres(url: str) -> Iterator[str]:
    """A fresh database next to the one in ``url``, dropped afterwards."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = f"bench_device_flow_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(env: dict[str, str], base_url: str) -> str:
    """Migrate, create the CA hierarchy and two pooled server halves; return a ticket."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.services import person_get_or_create
    from enrolment.models import RegistrationTicket
    from enrolment.services import ticket_create
    from pki import services
    from signing import keys

    services.ca_hierarchy_create(actor="benchmark", base_url=base_url)
    keys.pool_fill(bits=KEY_BITS, target=2)  # registration then takes no prime generation
    person = person_get_or_create(
        semantics_identifier="PNOEE-40504040001",
        given_name="OK",
        surname="TESTNUMBER",
        actor="benchmark",
    )
    _, code = ticket_create(
        person=person,
        identity_source=RegistrationTicket.Source.ADMIN,
        level="QUALIFIED",
        created_by="benchmark",
    )
    return code


def _start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    import httpx

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "smartid.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 30
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.terminate()
            raise RuntimeError("the server did not start in 30 s")
        time.sleep(0.1)


@dataclass
class Flow:
    created: float  # before transaction_create
    committed: float  # transaction_create returned (committed, wake-up published)
    woken: float  # pending() returned the transaction
    approved: float  # approve() returned OK
    verified: float  # signature read back and verified

    @property
    def total(self) -> float:
        return self.verified - self.created


def _nearest_rank(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n·p/100)
    return ordered[int(rank) - 1]


def run(flows: int, kdf_name: str, workdir: Path, database_url: str, redis_url: str) -> None:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "DJANGO_SETTINGS_MODULE": "smartid.settings",
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(workdir),
        "SMARTID_SPLITKEY_BITS": str(KEY_BITS),
        "SMARTID_CELERY_EAGER": "true",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SITE_URL": base_url,
        "LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    ticket = _prepare(env, base_url)
    prepared = time.perf_counter() - started

    import httpx
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    from django.db import connections

    from accounts.models import Account
    from device.app import DeviceApp
    from signing import engine, keys
    from signing.models import SplitKey, Transaction
    from signing.services.transactions import transaction_create

    cheap = engine.KdfParams(n=2**10, r=8, p=1)
    kdf = engine.DEFAULT_KDF if kdf_name == "production" else cheap
    connections.close_all()  # the server process opens its own
    server = _start_server(port, env)
    try:
        client = httpx.Client(base_url=base_url, timeout=60)
        app = DeviceApp(client, min_key_bits=KEY_BITS, kdf=kdf)
        start = time.perf_counter()
        registration = app.register(ticket, PIN1, PIN2)
        registered = time.perf_counter() - start
        account = Account.objects.get(document_number=registration.document_number)
        split_key = SplitKey.objects.get(account=account, purpose="AUTH")
        assert split_key.certificate is not None
        public = x509.load_der_x509_certificate(bytes(split_key.certificate.der)).public_key()
        assert isinstance(public, rsa.RSAPublicKey)

        # The pure cryptography on the very same key, timed in this process between the
        # flows (interleaved, so a busy machine skews both sides alike).
        record = app.local_accounts()[0].keys["AUTH"]
        assert record.n is not None
        n = record.n
        material = keys.key_material(split_key)
        share = int.from_bytes(engine.decrypt_share(record.blob, PIN1), "big")
        production_blob = engine.seal_client_share(record.blob.n1, share, PIN1)
        common: dict[str, Any] = {
            "digest": secrets.token_bytes(32),
            "hash_alg": "SHA256",
            "padding": "PKCS1v15",
        }

        def partial(blob: engine.ClientKeyBlob) -> int:
            return engine.client_partial_for_digest(blob, PIN1, n=n, **common)

        s1_prime = partial(record.blob)

        def complete() -> bytes:
            return engine.server_complete_digest(
                material.composite,
                material.d1_double_prime,
                material.server_half,
                s1_prime=s1_prime,
                **common,
            )

        crypto: dict[str, list[float]] = {"partial": [], "production": [], "complete": []}
        operations: dict[str, Callable[[], object]] = {
            "partial": lambda: partial(record.blob),
            "production": lambda: partial(production_blob),
            "complete": complete,
        }

        def time_crypto() -> None:
            for name, operation in operations.items():
                start = time.perf_counter()
                operation()
                crypto[name].append(time.perf_counter() - start)

        # The app: one long poll after another, approving what arrives.
        answers: queue.Queue[tuple[str, float, float] | BaseException] = queue.Queue()
        stop = threading.Event()

        def device_loop() -> None:
            try:
                while not stop.is_set():
                    for tx in app.pending(timeout_ms=2000):
                        woken = time.perf_counter()
                        result = app.approve(tx, PIN1)
                        if not result.ok:
                            raise RuntimeError(f"approve answered {result.status}")
                        answers.put((tx.id, woken, time.perf_counter()))
            except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
                answers.put(exc)

        device = threading.Thread(target=device_loop, daemon=True)
        device.start()

        def one_flow() -> Flow:
            digest = secrets.token_bytes(32)
            created = time.perf_counter()
            tx = transaction_create(
                account=account,
                kind=Transaction.Kind.AUTHENTICATION,
                rp_name="BENCH",
                interactions=[{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
                digest=digest,
                hash_type="SHA256",
            )
            committed = time.perf_counter()
            answer = answers.get(timeout=30)
            if isinstance(answer, BaseException):
                raise answer
            tx_id, woken, approved = answer
            if tx_id != str(tx.pk):
                raise RuntimeError("the app answered another transaction")
            tx.refresh_from_db(fields=["state", "result", "signature"])
            if tx.result != Transaction.Result.OK or tx.signature is None:
                raise RuntimeError(f"transaction ended {tx.result}")
            public.verify(
                bytes(tx.signature), digest, padding.PKCS1v15(), Prehashed(hashes.SHA256())
            )
            return Flow(created, committed, woken, approved, time.perf_counter())

        for _ in range(WARM_UP):  # imports, the transport key, the Redis subscriber
            one_flow()
        cpu_before = _cpu_times(server.pid)
        results = []
        for _ in range(flows):
            results.append(one_flow())
            time_crypto()  # the server is idle meanwhile (the app waits in its long poll)
        cpu_after = _cpu_times(server.pid)
        server_cpu = sum(cpu_after) - sum(cpu_before)
        server_user = cpu_after[0] - cpu_before[0]
        # What the server burns while nothing happens (the app waits in its long poll):
        # part of every flow's CPU above, since the crypto is timed between the flows.
        idle_before, idle_start = _cpu_seconds(server.pid), time.perf_counter()
        time.sleep(IDLE_SECONDS)
        idle_cpu_per_s = (_cpu_seconds(server.pid) - idle_before) / (
            time.perf_counter() - idle_start
        )
        stop.set()
        device.join(timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=30)

    connections.close_all()
    partial_ms = statistics.median(crypto["partial"]) * 1000
    partial_prod_ms = statistics.median(crypto["production"]) * 1000
    complete_ms = statistics.median(crypto["complete"]) * 1000
    e2e = [f.total * 1000 for f in results]
    wall = sum(f.total for f in results)
    p50, p99 = statistics.median(e2e), _nearest_rank(e2e, 99)
    create = statistics.median([(f.committed - f.created) * 1000 for f in results])
    wake = statistics.median([(f.woken - f.committed) * 1000 for f in results])
    approve = statistics.median([(f.approved - f.woken) * 1000 for f in results])
    verify = statistics.median([(f.verified - f.approved) * 1000 for f in results])
    cpu_per_flow = server_cpu / flows * 1000
    crypto_ms = partial_ms + complete_ms
    ratio = p50 / crypto_ms
    prod_p50 = p50 - partial_ms + partial_prod_ms
    kdf_label = f"scrypt n=2^{kdf.n.bit_length() - 1} r={kdf.r}"
    n_bits = material.composite.n.bit_length()
    database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"

    print(
        f"\nDevice flow: {flows} authentications (SHA-256, PKCS#1 v1.5), |n1| = |n2| = {KEY_BITS}, "
        f"|n| = {n_bits}; one uvicorn process, {database}, Redis event bus; "
        f"{os.cpu_count()} cores; modexp backend {engine.SECRET_BACKEND}"
    )
    print(
        f"prepare (migrate, CA, 2 pooled halves) {prepared:.1f} s; "
        f"registration (2 × {KEY_BITS}-bit app keys, 2 CSR signatures) {registered:.2f} s; "
        f"{flows} flows {wall:.2f} s (+ the crypto timed between them)"
    )
    rows: list[tuple[str, str, str]] = [
        ("end to end: created → verified signature, p50", f"{p50:.1f}", ""),
        ("end to end: p99 (nearest rank)", f"{p99:.1f}", f"max {max(e2e):.1f}"),
        ("  transaction_create (this process, committed)", f"{create:.1f}", "median"),
        ("  committed → app woken from its long poll", f"{wake:.1f}", "median, Redis pub/sub"),
        ("  woken → approve() answered OK", f"{approve:.1f}", "median, s1′ + HTTP + server"),
        ("  answered → signature read and verified", f"{verify:.1f}", "median"),
        (f"app: client_partial_for_digest ({kdf_label})", f"{partial_ms:.1f}", "as registered"),
        (
            "app: client_partial_for_digest (scrypt n=2^15 r=8)",
            f"{partial_prod_ms:.1f}",
            "production KDF",
        ),
        ("engine: server_complete_digest alone", f"{complete_ms:.1f}", "same key"),
        ("server CPU per completed signature", f"{cpu_per_flow:.1f}", "uvicorn utime+stime / N"),
        ("  of which user time", f"{server_user / flows * 1000:.1f}", "utime / N"),
        ("server CPU while idle, ms per s", f"{idle_cpu_per_s * 1000:.1f}", "the app in its poll"),
        (
            "ratio server CPU / engine completion",
            f"{cpu_per_flow / complete_ms:.2f}",
            "the framework's share",
        ),
        (
            "ratio e2e p50 / (client partial + completion)",
            f"{ratio:.2f}",
            "target ≤ 2: " + ("OK" if ratio <= 2 else "MISSED"),
        ),
        (
            "  same with the production KDF (projected)",
            f"{prod_p50 / (partial_prod_ms + complete_ms):.2f}",
            f"e2e p50 ≈ {prod_p50:.1f} ms",
        ),
    ]
    print(f"{'measure':<52}{'ms / ratio':>12}  note")
    for name, value, note in rows:
        print(f"{name:<52}{value:>12}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=30)
    parser.add_argument(
        "--kdf",
        choices=("cheap", "production"),
        default="cheap",
        help="scrypt cost of the registered shares (default cheap: n=2^10)",
    )
    options = parser.parse_args()
    if options.flows < 1:
        parser.error("--flows must be at least 1")
    if not Path("/proc/self/stat").exists():
        sys.exit("benchmarks/device_flow.py reads /proc/<pid>/stat (Linux only)")
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        sys.exit(f"benchmarks/device_flow.py needs Redis for the wake-ups ({redis_url}): {exc}")
    workdir = Path(tempfile.mkdtemp(prefix="device-flow-bench-"))
    try:
        given = os.environ.get("DATABASE_URL", "")
        if given.startswith("postgres"):
            with _scratch_postgres(given) as url:
                run(options.flows, options.kdf, workdir, url, redis_url)
        else:
            run(
                options.flows,
                options.kdf,
                workdir,
                f"sqlite:///{workdir / 'db.sqlite3'}",
                redis_url,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
