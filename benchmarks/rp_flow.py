"""Full RP API authentication flows per second through the running platform (not a test).

One flow is what a relying party and a phone do for one login. ``--api`` picks the flows,
run one after the other at each concurrency level (default ``v2,v3``):

``v2``, a v2 notification::

    RP: POST /v2/authentication/etsi/<person>      (the load generator, this process)
    → the person's virtual device, waiting in its long poll, is woken (Redis pub/sub)
    → it computes s1′ with its PIN-sealed share and confirms (app API)
    → the server completes the split-key signature
    → RP: GET /v2/session/<id>?timeoutMs=30000 returns COMPLETE; the RP verifies the
      RSA PKCS#1 v1.5 signature over the hash it sent with the certificate's key.

``v3``, a v3 device link (docs/spec/rp-api.md §5; Web2App, or QR with ``--link-type``)::

    RP: POST /v3/authentication/device-link/etsi/<person>   (ACSP_V2, rpChallenge, SHA-512)
    → the RP builds the link from sessionToken, sessionSecret and deviceLinkBase
      (``signing.engine``'s devicelink helpers: unprotected link, authCode)
    → it hands the link to the person's virtual device (its process's control port, as a
      browser or a camera hands it to the phone), which opens it (``DeviceApp.open_link``,
      ``POST /app/v1/device-links``) and confirms with ACSP_V2 (its own user challenge)
    → RP: GET /v3/session/<id>?timeoutMs=30000 returns COMPLETE; the RP rebuilds the
      ACSP_V2 payload (serverRandom, userChallenge, interactionTypeUsed, flowType from the
      status) and verifies the RSASSA-PSS signature over its SHA-512 with the certificate's
      key; for Web2App it also checks the callback URL the device answered
      (sessionSecretDigest, userChallengeVerifier → userChallenge).

``v3-notification``: POST /v3/authentication/notification/etsi/<person>; the device's long
poll wakes as in v2; the same ACSP_V2 check (flowType Notification).

A device link's transaction is also pending for its device, so during ``v3`` levels the
devices' long polls are parked (``set_polling``): the link's opener answers it, as on a
phone that the link opened.

Processes, all on this machine's cores (the load generator shares them, as the targets
say; its CPU is reported):

* the platform: one uvicorn process (``--workers`` for more), production key size
  (``SMARTID_SPLITKEY_BITS=3072``: |n| = 6144; ``--key-bits`` for less), Celery eager,
  Redis event bus
  (``REDIS_URL``, default ``redis://127.0.0.1:6379/13``), a scratch SQLite file in a temp
  folder, or a scratch PostgreSQL database next to ``DATABASE_URL`` when that is set;
* the virtual devices: ``--device-procs`` separate processes (this script with
  ``--role devices``) running one ``device.app.DeviceApp`` thread per person; they register
  through the real app API at start (a few seconds), then approve every transaction; a
  small HTTP control port per process takes the v3 links;
* the load generator: this process, one asyncio task per concurrent flow (httpx).

The reference, measured in the same run before anything else starts: the crypto-bound
ceiling ``cores ÷ (client partial + server completion)`` — ``signing.engine``'s
``client_partial_for_digest`` (the devices' scrypt included) and ``server_complete_digest``
on a fresh key of the run's size, as CPU time of the measuring thread (so that other processes on a
shared machine do not inflate it). It is printed for the KDF the devices use (``--kdf``;
default ``production``: the app's real scrypt n=2^15, r=8) and for the other one, plus the
ceiling of the server's share alone (``cores ÷ completion``: what the cores could do if the
phones' work ran on phones). The same ceiling serves v2 and v3: PSS and PKCS#1 v1.5
padding cost nothing next to the exponentiations.

Per concurrency level and API the table shows flows/s, end-to-end latency (POST → verified
signature) p50/p99, the POST alone, errors, the share of the ceiling, the CPU time our
processes spent per flow, and the cores used by the server, the devices, the load generator
and — read from /proc/stat — every other process of the machine (a shared machine gives
us less than ``cores``; the CPU per flow does not depend on that).

Targets: flows/s ≥ 70 % of the ceiling of the devices' KDF, and ≥ 60 flows/s.

``--sqlite-immediate`` is an experiment, not the product's configuration: the server runs
with SQLite in WAL mode and Django's ``transaction_mode = "IMMEDIATE"`` (see
``SQLITE_IMMEDIATE_BOOT``), to measure that change without editing the settings.

Run: ``.venv/bin/python benchmarks/rp_flow.py [--concurrency 8,16] [--seconds 15]
[--api v2,v3,v3-notification] [--link-type Web2App|QR] [--key-bits 3072]
[--kdf production|cheap] [--workers 1] [--device-procs 2] [--sqlite-immediate]``. Bounded:
every phase has a deadline and the whole run stays under 3 minutes (levels that would pass
it are skipped and said so); only 127.0.0.1 is used.

Measured 2026-12-03 on a 2-core VM shared with other jobs (load average 1.9-2.6 before
the runs; other processes took 0.0-0.04 cores in the measured windows of the rows below,
up to 0.7 in lower levels not shown; our own server, devices and load generator share the
2 cores, so the one server process got ~0.8 core at 3072 bits), one uvicorn worker,
SQLite, 15 s per level:

=========================================  =====  =======  =======  ========  ===========
run                                        API    flows/s  p50 ms   p99 ms    CPU ms/flow
=========================================  =====  =======  =======  ========  ===========
defaults: 3072 bits, app's scrypt, c=8     v2     7.7      920      2650      231
                                           v3 W   7.0      1015     2551      249
defaults, c=16                             v2     8.1      1688     5846      223
                                           v3 W   8.3      1567     5858      218
3072 bits, app's scrypt, c=4               v2     8.9      432      755       204
                                           v3 W   7.5      525      809       229
                                           v3 N   8.5      457      673       215
1024 bits, cheap scrypt, c=4               v2     15.4     251      481       79
                                           v3 W   13.2     294      466       93
                                           v3 N   16.3     244      450       75
=========================================  =====  =======  =======  ========  ===========

(v3 W: Web2App device link; v3 N: v3 notification.) Ceiling at 3072 bits with the app's
scrypt: 17.8-18.7 flows/s (v2 and v3 at 40-48 % of it, the 70 % target missed on this
machine, as the ≥ 60 flows/s one); at 1024 bits with the cheap KDF the crypto is 5 % of
the CPU per flow and the single server process (~1 core) is the limit. A v3 device link
costs ~10-15 % more CPU per flow than a v2 notification at low concurrency (one more app
request: opening the link) and the same at c=16; a v3 notification costs what v2 costs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY_BITS = 3072
PIN1, PIN2 = "1234", "12345"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
RP_UUID = "0bec4a0e-6d0f-4c57-9b3b-5e0d6f7a8b90"
RP_NAME = "BENCH"
CHEAP_KDF = {"n": 2**10, "r": 8, "p": 1}
HARD_LIMIT_SECONDS = 170  # the whole run, whatever the options


# --- helpers shared with rp_longpoll.py -------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), from /proc/<pid>/stat."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (uvicorn --workers forks its workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have spent (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in process_tree(pid))


def nearest_rank(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n·p/100)
    return ordered[int(rank) - 1]


@contextmanager
def scratch_database(workdir: Path) -> Iterator[str]:
    """SQLite in ``workdir``; or a fresh PostgreSQL database next to ``DATABASE_URL``."""
    given = os.environ.get("DATABASE_URL", "")
    if not given.startswith("postgres"):
        yield f"sqlite:///{workdir / 'db.sqlite3'}"
        return
    import psycopg

    parts = urllib.parse.urlsplit(given)
    name = f"bench_rp_{secrets.token_hex(4)}"
    with psycopg.connect(given, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(given, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def platform_env(
    workdir: Path, database_url: str, base_url: str, *, bits: int = KEY_BITS, **extra: str
) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "smartid.settings",
        "SMARTID_ENV": "test",
        "SMARTID_DATA_DIR": str(workdir),
        "SMARTID_SPLITKEY_BITS": str(bits),
        "SMARTID_CELERY_EAGER": "true",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS,
        "SITE_URL": base_url,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def relying_party_create(allowed: list[str] | None = None) -> None:
    from api.rp.models import RelyingParty

    RelyingParty.objects.get_or_create(
        uuid=RP_UUID,
        defaults={
            "name": RP_NAME,
            "display_name": "Benchmark bank",
            "allowed_networks": allowed or ["127.0.0.1/32"],
        },
    )


def tickets_create(people: list[str]) -> list[str]:
    """One registration ticket per person (each registers one device)."""
    from accounts.services import person_get_or_create
    from enrolment.models import RegistrationTicket
    from enrolment.services import ticket_create

    codes = []
    for semantics_identifier in people:
        person = person_get_or_create(
            semantics_identifier=semantics_identifier,
            given_name="BENCH",
            surname="TESTNUMBER",
            actor="benchmark",
        )
        _, code = ticket_create(
            person=person,
            identity_source=RegistrationTicket.Source.ADMIN,
            level="QUALIFIED",
            created_by="benchmark",
        )
        codes.append(code)
    return codes


def people(count: int) -> list[str]:
    """Valid Estonian personal codes (born 1980-01-01, EE check digit), one per person."""
    if not 1 <= count <= 999:
        raise ValueError("1..999 people")
    result: list[str] = []
    for serial in range(1, count + 1):
        digits = [int(c) for c in f"3800101{serial:03d}"]
        check = sum(d * w for d, w in zip(digits, [1, 2, 3, 4, 5, 6, 7, 8, 9, 1], strict=True))
        if check % 11 == 10:
            check = sum(d * w for d, w in zip(digits, [3, 4, 5, 6, 7, 8, 9, 1, 2, 3], strict=True))
        result.append(f"PNOEE-3800101{serial:03d}{check % 11 % 10}")
    return result


# An experiment, not the product's configuration: start uvicorn after setting Django's
# SQLite transaction_mode to IMMEDIATE (Django >= 5.1), so that a write transaction takes
# the write lock at BEGIN and waits for it (the busy timeout) instead of failing at once
# with "database is locked" when two transactions both read and then try to write.
SQLITE_IMMEDIATE_BOOT = (
    "import sys, smartid.settings as s; "
    "s.DATABASES['default'].setdefault('OPTIONS', {})['transaction_mode'] = 'IMMEDIATE'; "
    "from uvicorn.main import main; sys.argv[0] = 'uvicorn'; main()"
)


def start_server(
    port: int,
    env: dict[str, str],
    *,
    workers: int = 1,
    extra: list[str] | None = None,
    sqlite_immediate: bool = False,
) -> subprocess.Popen[bytes]:
    """uvicorn on 127.0.0.1:port, as README's "Running in production" starts it."""
    import httpx

    boot = ["-c", SQLITE_IMMEDIATE_BOOT] if sqlite_immediate else ["-m", "uvicorn"]
    command = [
        sys.executable,
        *boot,
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
        "--workers",
        str(workers),
        *(extra or []),
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, preexec_fn=raise_fd_limit
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
            stop_process(server)
            raise RuntimeError("the server did not start in 30 s")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit; return the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


# --- the crypto-bound reference -------------------------------------------------------


@dataclass
class Crypto:
    partial_production_ms: float
    partial_cheap_ms: float
    complete_ms: float
    backend: str

    def partial_ms(self, kdf: str) -> float:
        return self.partial_production_ms if kdf == "production" else self.partial_cheap_ms

    def ceiling(self, kdf: str, cores: int) -> float:
        return cores / ((self.partial_ms(kdf) + self.complete_ms) / 1000)


def _median_cpu_ms(fn: Callable[[], object], reps: int) -> float:
    """Median CPU time of ``fn`` in this thread: unlike wall time, other processes on a
    shared machine do not inflate it (only cache effects remain)."""
    times = []
    for _ in range(reps):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return statistics.median(times) * 1000


def measure_crypto(reps: int = 15, bits: int = KEY_BITS) -> Crypto:
    """The engine alone on a fresh bits+bits key (3072+3072 by default): client partial
    (both KDFs), completion. v2 (PKCS#1 v1.5) and v3 (PSS) cost the same here: the
    modular exponentiations are the work, the padding is not."""
    from signing import engine

    half = engine.generate_server_half(bits)
    blob, d1pp = engine.client_keygen(PIN1, bits=bits, kdf=engine.DEFAULT_KDF)
    cheap = engine.seal_client_share(
        blob.n1,
        int.from_bytes(engine.decrypt_share(blob, PIN1), "big"),
        PIN1,
        kdf=engine.KdfParams(**CHEAP_KDF),
    )
    key = engine.composite_public_key(blob.n1, half.n2)
    digest = secrets.token_bytes(64)
    common: dict[str, Any] = {"digest": digest, "hash_alg": "SHA512", "padding": "PKCS1v15"}

    def partial(sealed: engine.ClientKeyBlob) -> int:
        return engine.client_partial_for_digest(sealed, PIN1, n=key.n, **common)

    s1_prime = partial(blob)  # also warms scrypt's allocation up

    def complete() -> bytes:
        return engine.server_complete_digest(key, d1pp, half, s1_prime=s1_prime, **common)

    return Crypto(
        partial_production_ms=_median_cpu_ms(lambda: partial(blob), reps),
        partial_cheap_ms=_median_cpu_ms(lambda: partial(cheap), reps),
        complete_ms=_median_cpu_ms(complete, 2 * reps),
        backend=engine.SECRET_BACKEND,
    )


# --- the virtual devices (a separate process) -----------------------------------------


def devices_main() -> None:
    """``--role devices``: register one DeviceApp per ticket, then approve until stdin closes.

    Reads one JSON line ``{"server", "tickets", "kdf", "bits", "threads"}``; prints
    ``{"ready": [document numbers], "seconds": registration time, "port": control port}``,
    and at the end ``{"approved", "errors", ...}``.

    Each app long-polls for its transactions (v2 and v3 notification flows) and approves
    them. The control port (127.0.0.1, :class:`_Control`) is where the load generator
    hands over v3 device links, as a browser or a QR scanner hands one to the phone:
    ``POST /open`` opens the link with the app named by its document number and approves
    its transaction; ``POST /poll`` with ``{"on": false}`` parks the long polls (a device
    link's transaction is also pending for the device: the poll would race the opener).
    """
    import httpx

    from device.app import DeviceApp
    from device.errors import DeviceError
    from signing.engine import DEFAULT_KDF, KdfParams

    config = json.loads(sys.stdin.readline())
    kdf = DEFAULT_KDF if config["kdf"] == "production" else KdfParams(**CHEAP_KDF)
    clients: list[httpx.Client] = []
    confirms: list[float] = []  # seconds of each confirm request (the server's part)
    approves: list[float] = []  # seconds of each approve() (s1′ + confirm)

    def mark(request: httpx.Request) -> None:
        request.extensions["began"] = time.monotonic()

    def record(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/confirm"):
            confirms.append(time.monotonic() - response.request.extensions["began"])

    def register(ticket: str) -> DeviceApp:
        client = httpx.Client(
            base_url=config["server"],
            timeout=60,
            event_hooks={"request": [mark], "response": [record]},
        )
        clients.append(client)
        app = DeviceApp(client, min_key_bits=config["bits"], kdf=kdf, name="benchmark device")
        app.register(ticket, PIN1, PIN2)
        return app

    started = time.perf_counter()
    with ThreadPoolExecutor(config["threads"]) as pool:
        apps = list(pool.map(register, config["tickets"]))
    documents = [app.local_accounts()[0].document_number for app in apps]
    registration = time.perf_counter() - started
    confirms.clear()

    stop = threading.Event()
    polling = threading.Event()
    polling.set()
    lock = threading.Lock()
    counts = {"approved": 0}
    errors: list[str] = []

    def approve(app: DeviceApp, tx: Any) -> bool:
        began = time.monotonic()
        result = app.approve(tx, PIN1)
        approves.append(time.monotonic() - began)
        with lock:
            if result.ok:
                counts["approved"] += 1
            else:
                errors.append(result.status)
        return bool(result.ok)

    def answer(app: DeviceApp) -> None:
        while not stop.is_set():
            if not polling.wait(0.5):
                continue
            try:
                for tx in app.pending(timeout_ms=2000):
                    if polling.is_set():  # parked meanwhile: the opener answers it
                        approve(app, tx)
            except DeviceError as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                stop.wait(0.1)

    def open_link(document: str, link: str) -> dict[str, Any]:
        """Open ``link`` with the app of ``document``, approve, answer the callback URL."""
        app = by_document[document]
        try:
            opened = app.open_link(link)
            began = time.monotonic()
            result = app.approve(opened.transaction, PIN1)
            approves.append(time.monotonic() - began)
        except DeviceError as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            return {"error": f"{type(exc).__name__}: {exc}"}
        with lock:
            if result.ok:
                counts["approved"] += 1
            else:
                errors.append(result.status)
        callback = opened.callback_url(result.user_challenge_verifier) if result.ok else None
        return {"status": result.status, "callback": callback}

    def park(body: dict[str, Any]) -> dict[str, Any]:
        if body["on"]:
            polling.set()
        else:
            polling.clear()
        return {}

    by_document = dict(zip(documents, apps, strict=True))
    control = _Control(("127.0.0.1", 0), _ControlHandler)
    control.actions = {
        "/open": lambda body: open_link(body["document"], body["link"]),
        "/poll": park,
    }
    threading.Thread(target=control.serve_forever, daemon=True).start()
    ready = {"ready": documents, "seconds": registration, "port": control.server_address[1]}
    print(json.dumps(ready), flush=True)

    threads = [threading.Thread(target=answer, args=(app,), daemon=True) for app in apps]
    for thread in threads:
        thread.start()
    sys.stdin.read()  # the main process closes our stdin to stop us
    stop.set()
    polling.set()
    control.shutdown()
    for thread in threads:
        thread.join(timeout=5)
    for client in clients:
        client.close()
    final = {"approved": counts["approved"], "errors": errors}
    final["approve_ms"] = statistics.median(approves) * 1000 if approves else None
    final["confirm_ms"] = statistics.median(confirms) * 1000 if confirms else None
    print(json.dumps(final), flush=True)


class _Control(ThreadingHTTPServer):
    """The device process's control port: JSON in, JSON out, one thread per request."""

    daemon_threads = True
    actions: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]


class _ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the load generator reuses its connections

    def do_POST(self) -> None:  # noqa: N802 -- the name http.server calls
        assert isinstance(self.server, _Control)
        action = self.server.actions.get(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        answer = json.dumps(action(body) if action else {"error": "no such action"}).encode()
        self.send_response(200 if action else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the base's name
        """Quiet: the benchmark prints one table."""


@dataclass
class DeviceProcess:
    process: subprocess.Popen[str]
    documents: list[str] = field(default_factory=list)
    seconds: float = 0.0
    port: int = 0  # the control port (device links, parking the long polls)
    final: dict[str, Any] = field(default_factory=dict)

    @property
    def stdout(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout


def start_devices(
    server: str, tickets: list[str], kdf: str, procs: int, *, serial: bool, bits: int = KEY_BITS
) -> list[DeviceProcess]:
    """Start the device processes; each registers its share of ``tickets`` and says ready.

    ``serial``: one registration at a time over all processes (SQLite: see the notes of
    ``run``), else four at a time per process.
    """
    started = []
    for index in range(procs):
        share = tickets[index::procs]
        if not share:
            continue
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--role", "devices"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None
        config = {
            "server": server,
            "tickets": share,
            "kdf": kdf,
            "bits": bits,
            "threads": 1 if serial else 4,
        }
        process.stdin.write(json.dumps(config) + "\n")
        process.stdin.flush()
        device = DeviceProcess(process)
        started.append(device)
        if serial:
            _ready(device)
    if not serial:
        for device in started:
            _ready(device)
    return started


def _ready(device: DeviceProcess) -> None:
    ready = read_line(device.stdout, 60)
    device.documents, device.seconds = ready["ready"], ready["seconds"]
    device.port = ready["port"]


def set_polling(devices: list[DeviceProcess], on: bool) -> None:
    """Start or park the devices' long polls (parked: only device links are answered).

    Parking waits out a poll in flight (2 s), so that none of them answers a v3 link's
    transaction before the opener does."""
    import httpx

    for device in devices:
        url = f"http://127.0.0.1:{device.port}/poll"
        httpx.post(url, json={"on": on}, timeout=10).raise_for_status()
    if not on:
        time.sleep(2.5)


def read_line(stream: IO[str], timeout: float) -> dict[str, Any]:
    """One JSON line from a child, or RuntimeError after ``timeout`` seconds."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        raise RuntimeError("a device process did not answer in time")
    answer: dict[str, Any] = json.loads(box[0])
    return answer


def stop_devices(devices: list[DeviceProcess]) -> None:
    for device in devices:
        if device.process.stdin is not None:
            device.process.stdin.close()
    for device in devices:
        try:
            device.final = read_line(device.stdout, 15)
        except (RuntimeError, ValueError):
            device.final = {}
        stop_process(device.process, timeout=5)


# --- the load generator (this process) ------------------------------------------------

#: What ``--api`` can run: ``v2`` the v2 notification flow; ``v3`` the v3 device-link
#: authentication (ACSP_V2; Web2App or QR, ``--link-type``); ``v3-notification`` the v3
#: notification authentication (ACSP_V2, the device's long poll wakes as in v2).
APIS = ("v2", "v3", "v3-notification")
LINK_TYPES = ("Web2App", "QR")
CALLBACK = "https://rp.example/callback"
#: The RP's v3 ``interactions``: the Base64 of the minified JSON array (what is signed).
V3_INTERACTIONS = base64.b64encode(
    json.dumps(
        [{"type": "displayTextAndPIN", "displayText60": "Log in?"}], separators=(",", ":")
    ).encode()
).decode()


@dataclass
class Level:
    concurrency: int
    seconds: float
    latencies: list[float]
    posts: list[float]  # the POST alone
    errors: list[str]
    cpu: dict[str, float]  # seconds of CPU in the window, per party
    api: str = "v2"

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


@dataclass(frozen=True)
class Target:
    """One person: the RP addresses ``person``; a v3 link goes to ``control`` (the device
    process holding the person's app) for ``document``."""

    person: str
    document: str
    control: str


def targets_of(persons: list[str], devices: list[DeviceProcess]) -> list[Target]:
    """The persons in their order with their devices (``start_devices`` deals the tickets
    out as ``tickets[index::procs]``)."""
    found: dict[str, Target] = {}
    for index, device in enumerate(devices):
        control = f"http://127.0.0.1:{device.port}"
        for offset, document in enumerate(device.documents):
            person = persons[index + offset * len(devices)]
            found[person] = Target(person, document, control)
    return [found[person] for person in persons]


class RpFlows:
    """The relying party's side of one flow per API, ending with the cheap check a real RP
    makes: the signature verifies with the certificate's key over what the RP expects."""

    def __init__(self, client: Any, base: str, link_type: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.client, self.base, self.link_type = client, base, link_type
        self.keys: dict[str, rsa.RSAPublicKey] = {}

    async def v2(self, target: Target) -> float:
        """POST /v2/authentication/etsi; the device's long poll wakes; PKCS#1 v1.5."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        digest = secrets.token_bytes(64)
        body = {
            "relyingPartyUUID": RP_UUID,
            "relyingPartyName": RP_NAME,
            "hash": base64.b64encode(digest).decode(),
            "hashType": "SHA512",
            "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
        }
        session_id = (await self._start(f"v2/authentication/etsi/{target.person}", body))[
            "sessionID"
        ]
        posted = time.monotonic()
        status = await self._poll("v2", session_id)
        self._key(status).verify(
            base64.b64decode(status["signature"]["value"]),
            digest,
            padding.PKCS1v15(),
            Prehashed(hashes.SHA512()),
        )
        return posted

    async def v3(self, target: Target) -> float:
        """POST /v3/authentication/device-link/etsi; build the link from the session's token
        and secret; the person's device opens it and approves; ACSP_V2 (RSASSA-PSS)."""
        from signing import engine

        challenge = base64.b64encode(secrets.token_bytes(32)).decode()
        body = self._v3_body(challenge)
        qr = self.link_type == "QR"
        callback = "" if qr else f"{CALLBACK}?state={secrets.token_urlsafe(12)}"
        if callback:
            body["initialCallbackUrl"] = callback
        started = await self._start(f"v3/authentication/device-link/etsi/{target.person}", body)
        posted = time.monotonic()
        secret = base64.b64decode(started["sessionSecret"])
        unprotected = engine.unprotected_link(
            base=started["deviceLinkBase"],
            link_type=self.link_type,
            session_token=started["sessionToken"],
            session_type="auth",
            lang="eng",
            elapsed_seconds=int(time.monotonic() - posted) if qr else None,
        )
        payload = engine.authcode_payload(
            scheme=engine.SCHEME_DEMO,
            signature_protocol="ACSP_V2",
            protocol_value=challenge,
            rp_name=RP_NAME,
            brokered_rp_name="",
            interactions=V3_INTERACTIONS,
            initial_callback_url=callback,
            unprotected_link=unprotected,
        )
        link = engine.device_link(unprotected, engine.auth_code(secret, payload))
        opened = await self.client.post(
            f"{target.control}/open", json={"document": target.document, "link": link}
        )
        reply = opened.json()
        if opened.status_code != 200 or reply.get("status") != "OK":
            raise RuntimeError(f"device: {reply.get('error') or reply.get('status')}")
        status = await self._poll("v3", started["sessionID"])
        self._verify_acsp(status, challenge, self.link_type, callback)
        if callback:  # the RP's callback endpoint: the same app signed, for this session
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(reply["callback"]).query)
            verifier = query["userChallengeVerifier"][0]
            if query["sessionSecretDigest"][0] != engine.session_secret_digest(secret) or (
                engine.user_challenge(verifier) != status["signature"]["userChallenge"]
            ):
                raise RuntimeError("the callback does not match the session")
        return posted

    async def v3_notification(self, target: Target) -> float:
        """POST /v3/authentication/notification/etsi; the device's long poll wakes."""
        challenge = base64.b64encode(secrets.token_bytes(32)).decode()
        body = {**self._v3_body(challenge), "vcType": "numeric4"}
        path = f"v3/authentication/notification/etsi/{target.person}"
        session_id = (await self._start(path, body))["sessionID"]
        posted = time.monotonic()
        status = await self._poll("v3", session_id)
        self._verify_acsp(status, challenge, "Notification", "")
        return posted

    @staticmethod
    def _v3_body(challenge: str) -> dict[str, Any]:
        return {
            "relyingPartyUUID": RP_UUID,
            "relyingPartyName": RP_NAME,
            "certificateLevel": "QUALIFIED",
            "signatureProtocol": "ACSP_V2",
            "signatureProtocolParameters": {
                "rpChallenge": challenge,
                "signatureAlgorithm": "rsassa-pss",
                "signatureAlgorithmParameters": {"hashAlgorithm": "SHA-512"},
            },
            "interactions": V3_INTERACTIONS,
        }

    async def _start(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.client.post(f"{self.base}/{path}", json=body)
        if answer.status_code != 200:
            raise RuntimeError(f"POST {answer.status_code} {answer.text[:80]}")
        started: dict[str, Any] = answer.json()
        return started

    async def _poll(self, version: str, session_id: str) -> dict[str, Any]:
        url = f"{self.base}/{version}/session/{session_id}"
        while True:
            answer = await self.client.get(url, params={"timeoutMs": 30000})
            if answer.status_code != 200:
                raise RuntimeError(f"GET {answer.status_code} {answer.text[:80]}")
            status: dict[str, Any] = answer.json()
            if status["state"] == "COMPLETE":
                break
        if status["result"]["endResult"] != "OK":
            raise RuntimeError(status["result"]["endResult"])
        return status

    def _key(self, status: dict[str, Any]) -> Any:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import rsa

        cert = status["cert"]["value"]
        key = self.keys.get(cert)
        if key is None:
            public = x509.load_der_x509_certificate(base64.b64decode(cert)).public_key()
            assert isinstance(public, rsa.RSAPublicKey)
            key = self.keys[cert] = public
        return key

    def _verify_acsp(
        self, status: dict[str, Any], challenge: str, flow_type: str, callback: str
    ) -> None:
        """RSASSA-PSS (SHA-512, MGF1, salt 64) over HASH(the ACSP_V2 payload the RP
        rebuilds from its own values and the status's serverRandom, userChallenge,
        interactionTypeUsed and flowType)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        from signing import engine

        signature = status["signature"]
        if status["signatureProtocol"] != "ACSP_V2" or signature["flowType"] != flow_type:
            raise RuntimeError(f"{status['signatureProtocol']} {signature['flowType']}")
        payload = engine.acsp_v2_payload(
            scheme=engine.SCHEME_DEMO,
            server_random=signature["serverRandom"],
            rp_challenge=challenge,
            user_challenge=signature["userChallenge"],
            rp_name=RP_NAME,
            brokered_rp_name="",
            interactions=V3_INTERACTIONS,
            interaction_type_used=status["interactionTypeUsed"],
            initial_callback_url=callback,
            flow_type=flow_type,
        )
        self._key(status).verify(
            base64.b64decode(signature["value"]),
            engine.acsp_v2_digest(payload, "SHA512"),
            padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
            Prehashed(hashes.SHA512()),
        )


async def _flows(
    base: str,
    api: str,
    targets: list[Target],
    *,
    link_type: str,
    warmup: float,
    seconds: float,
    pids: dict[str, list[int]],
) -> Level:
    import httpx

    done: list[tuple[float, float, float]] = []  # began, POST answered, verified
    errors: list[str] = []
    limits = httpx.Limits(max_connections=4 * len(targets) + 10)
    start = time.monotonic()
    t0, t1 = start + warmup, start + warmup + seconds
    cpu: dict[str, float] = {}

    def sample(sign: int) -> None:
        for party, party_pids in pids.items():
            cpu[party] = cpu.get(party, 0.0) + sign * sum(cpu_seconds(p) for p in party_pids)
        cpu["load generator"] = cpu.get("load generator", 0.0) + sign * time.process_time()
        cpu["machine"] = cpu.get("machine", 0.0) + sign * machine_busy_seconds()

    async def sampler() -> None:
        await asyncio.sleep(t0 - time.monotonic())
        sample(-1)
        await asyncio.sleep(t1 - time.monotonic())
        sample(+1)

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        rp = RpFlows(client, base, link_type)
        one = {"v2": rp.v2, "v3": rp.v3, "v3-notification": rp.v3_notification}[api]

        async def worker(target: Target) -> None:
            while time.monotonic() < t1:
                began = time.monotonic()
                try:
                    posted = await one(target)
                except Exception as exc:  # noqa: BLE001 -- counted and reported
                    errors.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.1)
                    continue
                done.append((began, posted, time.monotonic()))

        await asyncio.gather(sampler(), *(worker(t) for t in targets))
    window = [flow for flow in done if t0 <= flow[2] <= t1]
    latencies = [end - began for began, _, end in window]
    posts = [posted - began for began, posted, _ in window]
    return Level(len(targets), seconds, latencies, posts, errors, cpu, api)


def run_level(
    base: str,
    api: str,
    targets: list[Target],
    warmup: float,
    seconds: float,
    pids: dict[str, list[int]],
    link_type: str = "Web2App",
) -> Level:
    return asyncio.run(
        _flows(base, api, targets, link_type=link_type, warmup=warmup, seconds=seconds, pids=pids)
    )


# --- main -----------------------------------------------------------------------------


def run(options: argparse.Namespace) -> None:
    began = time.monotonic()
    cores = os.cpu_count() or 1
    crypto = measure_crypto(bits=options.key_bits)  # first, on a quiet machine
    levels = sorted(set(options.concurrency))
    device_count = max(levels)
    workdir = Path(tempfile.mkdtemp(prefix="rp-flow-bench-"))
    try:
        with scratch_database(workdir) as database_url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = platform_env(workdir, database_url, base, bits=options.key_bits)
            django_setup(env)
            from django.db import connections

            from pki import services as pki
            from signing import keys

            prepared = time.monotonic()
            pki.ca_hierarchy_create(actor="benchmark", base_url=base)
            relying_party_create()
            persons = people(device_count)
            tickets = tickets_create(persons)
            keys.pool_fill(bits=options.key_bits, target=2 * device_count)
            prepared = time.monotonic() - prepared
            connections.close_all()  # the server opens its own
            if options.sqlite_immediate and database_url.startswith("sqlite"):
                connections["default"].cursor().execute("PRAGMA journal_mode=WAL")
                connections.close_all()  # WAL is a property of the file: it stays
            server = start_server(
                port,
                env,
                workers=options.workers,
                sqlite_immediate=options.sqlite_immediate,
            )
            devices: list[DeviceProcess] = []
            try:
                serial = database_url.startswith("sqlite")
                devices = start_devices(
                    base,
                    tickets,
                    options.kdf,
                    options.device_procs,
                    serial=serial,
                    bits=options.key_bits,
                )
                registered = (
                    sum(d.seconds for d in devices) if serial else max(d.seconds for d in devices)
                )
                pids = {
                    "server": process_tree(server.pid),
                    "devices": [d.process.pid for d in devices],
                }
                targets = targets_of(persons, devices)
                results = []
                polling = True
                for concurrency in levels:
                    for api in options.api:  # the APIs side by side, level by level
                        if time.monotonic() - began + options.seconds + 8 > HARD_LIMIT_SECONDS:
                            print(f"(skipping {api} at {concurrency}: the run would pass 3 min)")
                            continue
                        if polling != (api != "v3"):  # device links: no long polls
                            polling = api != "v3"
                            set_polling(devices, polling)
                        level = run_level(
                            base,
                            api,
                            targets[:concurrency],
                            3.0,
                            options.seconds,
                            pids,
                            link_type=options.link_type,
                        )
                        results.append(level)
            finally:
                stop_devices(devices)
                stop_process(server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    report(options, crypto, cores, database_url, prepared, registered, results, devices)


def report(
    options: argparse.Namespace,
    crypto: Crypto,
    cores: int,
    database_url: str,
    prepared: float,
    registered: float,
    results: list[Level],
    devices: list[DeviceProcess],
) -> None:
    database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    if options.sqlite_immediate and database == "SQLite":
        database += " (experiment: WAL, transaction_mode=IMMEDIATE)"
    device_errors = sum(len(d.final.get("errors", [])) for d in devices)
    ceiling = crypto.ceiling(options.kdf, cores)
    crypto_ms = crypto.partial_ms(options.kdf) + crypto.complete_ms
    other = "cheap" if options.kdf == "production" else "production"
    kdf_label = {"production": "scrypt n=2^15 r=8 (the app's)", "cheap": "scrypt n=2^10 r=8"}
    device_count = sum(len(d.documents) for d in devices)
    flows_label = {
        "v2": "v2 notification (SHA-512, PKCS#1 v1.5)",
        "v3": f"v3 {options.link_type} device link (ACSP_V2, RSASSA-PSS SHA-512)",
        "v3-notification": "v3 notification (ACSP_V2, RSASSA-PSS SHA-512)",
    }
    print(
        "\nRP authentication flows: "
        + "; ".join(flows_label[api] for api in options.api)
        + f"\n|n1| = |n2| = {options.key_bits}: "
        f"uvicorn ×{options.workers}, {database}, Redis event bus; {device_count} "
        f"virtual devices in {len(devices)} process(es), KDF {kdf_label[options.kdf]}; "
        f"{cores} cores; modexp {crypto.backend}"
    )
    print(
        f"prepare {prepared:.1f} s (CA, server halves); device registration {registered:.1f} s; "
        f"per level 3 s warm-up + {options.seconds:.0f} s measured; device-side errors "
        f"{device_errors}"
    )
    api_label = {"v2": "v2", "v3": f"v3 {options.link_type}", "v3-notification": "v3 notif."}
    print(
        f"{'concurrency':>11} {'API':<11} {'flows/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'POST p50':>8} "
        f"{'errors':>6} {'of ceiling':>10} {'CPU ms/flow':>11}  "
        "cores used: server / devices / load gen / other processes"
    )
    for level in results:
        window = level.seconds
        ours = {p: level.cpu.get(p, 0.0) for p in ("server", "devices", "load generator")}
        others = max(level.cpu.get("machine", 0.0) - sum(ours.values()), 0.0)
        flows = len(level.latencies)
        if flows:
            p50 = statistics.median(level.latencies) * 1000
            p99 = nearest_rank(level.latencies, 99) * 1000
            post = statistics.median(level.posts) * 1000
            per_flow = sum(ours.values()) / flows * 1000
        else:
            p50 = p99 = post = per_flow = float("nan")
        print(
            f"{level.concurrency:>11} {api_label[level.api]:<11} {level.rate:>7.1f} {p50:>7.1f} "
            f"{p99:>7.1f} {post:>8.1f} "
            f"{len(level.errors):>6} {level.rate / ceiling:>10.0%} {per_flow:>11.1f}  "
            + " / ".join(f"{v / window:.2f}" for v in (*ours.values(), others))
        )
    best = max(results, key=lambda level: level.rate, default=None)
    bests = {
        api: max((level.rate for level in results if level.api == api), default=0.0)
        for api in options.api
    }
    of_ceiling = ", ".join(
        f"{api_label[api]} {rate:.1f} = {rate / ceiling:.0%}" for api, rate in bests.items()
    )
    rows = [
        (
            f"engine: client partial, {kdf_label[options.kdf]}",
            f"{crypto.partial_ms(options.kdf):.1f} ms",
            "CPU time; the devices' work per flow",
        ),
        (f"engine: client partial, {kdf_label[other]}", f"{crypto.partial_ms(other):.1f} ms", ""),
        ("engine: server_complete_digest", f"{crypto.complete_ms:.1f} ms", "the server's"),
        (
            f"ceiling: {cores} cores ÷ (partial + completion), devices' KDF",
            f"{ceiling:.1f} /s",
            f"best {of_ceiling}: target ≥ 70 % "
            + ("OK" if min(bests.values()) >= 0.7 * ceiling else "MISSED"),
        ),
        ("ceiling with the other KDF", f"{crypto.ceiling(other, cores):.1f} /s", ""),
        (
            f"ceiling of the server's share alone ({cores} cores ÷ completion)",
            f"{cores / (crypto.complete_ms / 1000):.0f} /s",
            "if the phones' work ran on phones",
        ),
        (
            "target ≥ 60 flows/s (every API)",
            f"{min(bests.values()):.1f} /s",
            "OK" if min(bests.values()) >= 60 else "MISSED",
        ),
    ]
    if best and best.latencies:
        per_flow = sum(best.cpu.get(p, 0.0) for p in ("server", "devices", "load generator"))
        per_flow = per_flow / len(best.latencies) * 1000
        rows.append(
            (
                f"crypto share of our CPU per flow (best level, {api_label[best.api]})",
                f"{crypto_ms / per_flow:.0%}",
                f"{crypto_ms:.1f} of {per_flow:.1f} ms; the rest is HTTP, DB, framework",
            )
        )
    for name, value, note in rows:
        print(f"{name:<66}{value:>11}  {note}")
    approve = [d.final["approve_ms"] for d in devices if d.final.get("approve_ms")]
    confirm = [d.final["confirm_ms"] for d in devices if d.final.get("confirm_ms")]
    if approve and confirm:
        print(
            f"devices, all levels: approve() p50 {statistics.mean(approve):.1f} ms, of which "
            f"the confirm request (server) {statistics.mean(confirm):.1f} ms"
        )
    errors = [e for level in results for e in level.errors][:3]
    device_samples = [e for d in devices for e in d.final.get("errors", [])][:3]
    for sample in errors + device_samples:
        print(f"  error: {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--role", choices=("main", "devices"), default="main")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[8, 16],
        help="concurrent flows per level, comma-separated (default 8,16)",
    )
    parser.add_argument(
        "--seconds",
        "--duration",
        type=float,
        default=15.0,
        help="measured seconds per level and API",
    )
    parser.add_argument(
        "--api",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=["v2", "v3"],
        help="flows per level, comma-separated, in this order: v2 (notification), v3 (device "
        "link), v3-notification (default v2,v3)",
    )
    parser.add_argument(
        "--link-type", choices=LINK_TYPES, default="Web2App", help="the v3 device link's type"
    )
    parser.add_argument(
        "--key-bits",
        type=int,
        choices=(1024, 2048, 3072),
        default=KEY_BITS,
        help="|n1| = |n2| (default 3072, production; 1024 is the tests' size)",
    )
    parser.add_argument("--kdf", choices=("production", "cheap"), default="production")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--device-procs", type=int, default=2)
    parser.add_argument(
        "--sqlite-immediate",
        action="store_true",
        help="experiment: SQLite in WAL mode with transaction_mode=IMMEDIATE (one worker)",
    )
    options = parser.parse_args()
    if options.role == "devices":
        devices_main()
        return
    if min(options.concurrency) < 1 or not 1 <= options.seconds <= 60:
        parser.error("--concurrency ≥ 1 and 1 ≤ --seconds ≤ 60")
    unknown = set(options.api) - set(APIS)
    if unknown or not options.api or len(set(options.api)) != len(options.api):
        parser.error(f"--api: distinct values of {', '.join(APIS)}")
    if options.sqlite_immediate and options.workers != 1:
        parser.error("--sqlite-immediate patches the settings of one process: --workers 1")
    if not Path("/proc/self/stat").exists():
        sys.exit("benchmarks/rp_flow.py reads /proc/<pid>/stat (Linux only)")
    run(options)


if __name__ == "__main__":
    main()
