"""How many open RP long polls one uvicorn process holds with p99 wake-up ≤ 100 ms (not a test).

For each level N (default 1000, 2500, 5000, 7500; the scan stops at the first level that
fails or would not fit in the time budget):

1. N authentication sessions are started for one registered person (in this process,
   through ``api.rp.services.session_start``, the RP POST's service: the same rows and
   wake-ups, without N HTTP requests);
2. N concurrent ``GET /v2/session/{id}?timeoutMs=120000`` are opened from one asyncio httpx
   client, in batches, until the server holds N established connections and its CPU is
   idle again (every poll parked on the event bus);
3. a separate process (this script with ``--role completer``) completes ``--complete``
   of the sessions, spread over the open ones, at ``--rate`` per second — the device's
   refusal service, which commits and publishes on Redis exactly like a confirmation —
   and prints the CLOCK_MONOTONIC times just before each call and just after it returned
   (committed and published);
4. wake-up latency = the moment the poll's response arrived here − the completion's
   return (both CLOCK_MONOTONIC, which is system-wide). How long the completion itself took
   (its database write) is reported next to it.
   The level holds when every completed poll answered COMPLETE, p99 ≤ 100 ms, no poll
   failed, and the N − completed others are still open.

The server runs as README's production section says (``uvicorn smartid.asgi:application``,
one worker), with a scratch SQLite file (or a scratch PostgreSQL database next to
``DATABASE_URL``) and Redis (``REDIS_URL``, default ``redis://127.0.0.1:6379/13``) as the
event bus. The open-file limits of this process and of the server are raised to their
hard limits; a level that needs more descriptors than that is not tried. The load
generator shares the cores: its CPU and the server's are reported per level.

Run: ``.venv/bin/python benchmarks/rp_longpoll.py [--polls 1000,2500,5000,7500]
[--complete 1000] [--rate 100]``. Bounded (under 3 minutes); only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.rp_flow import (  # noqa: E402 -- after the path is set
    KEY_BITS,
    PIN1,
    PIN2,
    RP_UUID,
    cpu_seconds,
    django_setup,
    free_port,
    nearest_rank,
    people,
    platform_env,
    raise_fd_limit,
    relying_party_create,
    scratch_database,
    start_server,
    stop_process,
    tickets_create,
)

WAKE_TARGET_MS = 100.0
BUDGET_SECONDS = 170.0
BATCH = 500  # polls opened at a time (the listen backlog is 2048)
SHARD = 100  # polls per httpx client
INTERACTIONS = [{"type": "displayTextAndPIN", "displayText60": "Log in?"}]


# --- the completer (a separate process) -------------------------------------------------


def completer_main() -> None:
    """``--role completer``: refuse the given sessions' transactions at a steady rate.

    Reads ``{"sessions": [...], "rate": R}``; prints ``<session id> <t before> <t after>``
    per session (time.monotonic()), then ``done``.
    """
    config = json.loads(sys.stdin.readline())
    import django

    django.setup()
    from signing.models import Transaction
    from signing.services.answers import transaction_refuse

    rows = Transaction.objects.filter(group__in=config["sessions"]).select_related(
        "account__device"
    )
    by_session = {str(tx.group): tx for tx in rows}
    interval = 1.0 / config["rate"]
    next_at = time.monotonic()
    for session_id in config["sessions"]:
        tx = by_session[session_id]
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        next_at += interval
        before = time.monotonic()
        transaction_refuse(
            device=tx.account.device, transaction_id=tx.pk, interaction="displayTextAndPIN"
        )
        print(f"{session_id} {before:.6f} {time.monotonic():.6f}", flush=True)
    print("done", flush=True)


# --- helpers ----------------------------------------------------------------------------


def established(port: int) -> int:
    """Established TCP connections whose local port is ``port`` (the server's side)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def proc_status(pid: int, name: str) -> int:
    """A number from /proc/<pid>/status, e.g. ``VmRSS`` (KiB) or ``Threads``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return 0


def sessions_create(person: str, count: int) -> list[str]:
    """``count`` running authentication sessions of the benchmark RP for ``person``."""
    from django.db import transaction

    from api.rp import services as rp
    from api.rp.models import RelyingParty

    relying_party = RelyingParty.objects.get(uuid=RP_UUID)
    ids = []
    for start in range(0, count, 500):
        with transaction.atomic():
            for _ in range(min(500, count - start)):
                digest = secrets.token_bytes(32)
                session = rp.session_start(
                    rp=relying_party,
                    request=rp.SessionRequest(
                        version=2,
                        kind="AUTHENTICATION",
                        target_kind="etsi",
                        target=person,
                        certificate_level="QUALIFIED",
                        hash=digest,
                        hash_type="SHA256",
                        interactions=INTERACTIONS,
                        share_device_ip=False,
                        ignored_properties=[],
                        fingerprint_source=digest.hex(),
                    ),
                )
                ids.append(str(session.pk))
    return ids


@dataclass
class Level:
    polls: int
    created_s: float = 0.0
    opened_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    completed: int = 0
    commit_ms: list[float] = field(default_factory=list)  # the completions' own duration
    still_open: int = 0
    failures: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # cores, while completing
    client_cpu: float = 0.0
    rss_mib: float = 0.0
    threads: int = 0  # OS threads of the server with every poll parked
    fds: int = 0  # its open file descriptors then

    @property
    def p99_ms(self) -> float:
        return nearest_rank(self.latencies, 99) * 1000 if self.latencies else float("inf")

    @property
    def held(self) -> bool:
        return (
            not self.failures
            and self.completed > 0
            and len(self.latencies) == self.completed
            and self.still_open == self.polls - self.completed
            and self.p99_ms <= WAKE_TARGET_MS
        )


def _connected(port: int, target: int, failures: list[str]) -> Callable[[], bool]:
    return lambda: established(port) >= target or bool(failures)


async def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def _server_idle(pid: int, timeout: float) -> None:
    """Until the server used < 5 % of a core over half a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.025:
            return
    raise TimeoutError("the server did not become idle")


async def _level(
    base: str,
    port: int,
    server_pid: int,
    sessions: list[str],
    options: argparse.Namespace,
    deadline: float,
) -> Level:
    """One level; every wait also ends at ``deadline`` (the run's time budget)."""
    import httpx

    level = Level(polls=len(sessions))
    answers: dict[str, tuple[float, int, str]] = {}
    failures: list[str] = []
    # One httpx client per SHARD polls: httpcore's pool does work proportional to its
    # number of requests on every request and response, so one client for thousands of
    # polls would measure httpx, not the server.
    limits = httpx.Limits(max_connections=SHARD + 10, max_keepalive_connections=SHARD + 10)
    timeout = httpx.Timeout(150.0, connect=60.0)
    clients = [
        httpx.AsyncClient(base_url=f"{base}/v2/", limits=limits, timeout=timeout)
        for _ in range(0, len(sessions), SHARD)
    ]

    async def poll(index: int, session_id: str) -> None:
        try:
            response = await clients[index // SHARD].get(
                f"session/{session_id}", params={"timeoutMs": 120000}
            )
            state = response.json().get("state", "") if response.status_code == 200 else ""
            answers[session_id] = (time.monotonic(), response.status_code, state)
        except Exception as exc:  # noqa: BLE001 -- counted and reported
            failures.append(f"{type(exc).__name__}: {exc}")

    tasks: list[asyncio.Task[None]] = []
    try:
        began = time.monotonic()
        try:
            for start in range(0, len(sessions), BATCH):
                tasks += [
                    asyncio.create_task(poll(start + i, s))
                    for i, s in enumerate(sessions[start : start + BATCH])
                ]
                await _wait(
                    _connected(port, len(tasks), failures),
                    min(60.0, deadline - time.monotonic()),
                    f"{len(tasks)} polls",
                )
            await _server_idle(server_pid, min(60.0, deadline - time.monotonic()))
        except TimeoutError as exc:
            failures.append(f"opening stalled at {established(port)} connections ({exc})")
        level.opened_s = time.monotonic() - began
        level.rss_mib = proc_status(server_pid, "VmRSS") / 1024
        level.threads = proc_status(server_pid, "Threads")
        level.fds = len(os.listdir(f"/proc/{server_pid}/fd"))
        if answers:
            failures.append(f"{len(answers)} polls answered before any completion")
        if not failures:
            await _complete_sample(
                level, server_pid, sessions, answers, failures, options, deadline
            )
        level.still_open = sum(1 for task in tasks if not task.done())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.aclose()
    level.failures = failures
    return level


async def _complete_sample(
    level: Level,
    server_pid: int,
    sessions: list[str],
    answers: dict[str, tuple[float, int, str]],
    failures: list[str],
    options: argparse.Namespace,
    deadline: float,
) -> None:
    """Complete ``--complete`` of the open sessions from the completer process; record
    each one's wake-up latency in ``level``."""
    sample = random.sample(sessions, min(options.complete, len(sessions)))
    completer = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--role", "completer"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert completer.stdin is not None and completer.stdout is not None
    completer.stdin.write(json.dumps({"sessions": sample, "rate": options.rate}) + "\n")
    completer.stdin.close()
    completed: dict[str, tuple[float, float]] = {}

    def read(stream: Any) -> None:
        for line in stream:
            parts = line.split()
            if len(parts) == 3:
                completed[parts[0]] = (float(parts[1]), float(parts[2]))

    reader = threading.Thread(target=read, args=(completer.stdout,), daemon=True)
    reader.start()
    cpu_server, cpu_client, wall = cpu_seconds(server_pid), time.process_time(), time.monotonic()
    try:
        await _wait(
            lambda: (
                (not reader.is_alive() and all(s in answers for s in completed)) or bool(failures)
            ),
            min(len(sample) / options.rate + 30, deadline - time.monotonic()),
            "the completed sessions' answers",
        )
    except TimeoutError as exc:
        failures.append(f"timeout waiting for {exc}")
    wall = max(time.monotonic() - wall, 1.0)
    level.server_cpu = (cpu_seconds(server_pid) - cpu_server) / wall
    level.client_cpu = (time.process_time() - cpu_client) / wall
    stop_process(completer, timeout=10)
    level.completed = len(completed)
    for session_id, (before, at) in completed.items():
        level.commit_ms.append((at - before) * 1000)
        answer = answers.get(session_id)
        if answer is None:
            continue
        received, status, state = answer
        if status != 200 or state != "COMPLETE":
            failures.append(f"{session_id}: HTTP {status} {state}")
        else:
            level.latencies.append(received - at)


def run(options: argparse.Namespace) -> None:
    began = time.monotonic()
    fd_limit = raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="rp-longpoll-bench-"))
    levels: list[Level] = []
    notes: list[str] = []
    try:
        with scratch_database(workdir) as database_url:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = platform_env(workdir, database_url, base)
            django_setup(env)
            from django.db import connections

            from pki import services as pki
            from signing import keys

            pki.ca_hierarchy_create(actor="benchmark", base_url=base)
            relying_party_create()
            (person,) = people(1)
            (ticket,) = tickets_create([person])
            keys.pool_fill(bits=KEY_BITS, target=2)
            connections.close_all()
            server = start_server(port, env)
            try:
                import httpx

                from device.app import DeviceApp
                from signing.engine import KdfParams

                with httpx.Client(base_url=base, timeout=60) as http:
                    app = DeviceApp(http, min_key_bits=KEY_BITS, kdf=KdfParams(n=2**10, r=8, p=1))
                    app.register(ticket, PIN1, PIN2)
                per_poll = 0.0
                for count in sorted(set(options.polls)):
                    elapsed = time.monotonic() - began
                    guess = count * per_poll + options.complete / options.rate + 15
                    if elapsed + guess > BUDGET_SECONDS:
                        notes.append(f"{count} polls not tried: the run would pass 3 min")
                        break
                    if count + 200 > fd_limit:
                        notes.append(f"{count} polls not tried: open-file limit {fd_limit}")
                        break
                    started = time.monotonic()
                    sessions = sessions_create(person, count)
                    connections.close_all()
                    created = time.monotonic() - started
                    level = asyncio.run(
                        _level(base, port, server.pid, sessions, options, began + BUDGET_SECONDS)
                    )
                    level.created_s = created
                    levels.append(level)
                    per_poll = (
                        time.monotonic() - started - options.complete / options.rate
                    ) / count
                    if not level.held:
                        break
            finally:
                stop_process(server)
            database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"\nRP long polls held by ONE uvicorn process ({database}, Redis event bus, "
        f"{os.cpu_count()} cores; open-file limit {fd_limit}): GET /v2/session/{{id}}"
        f"?timeoutMs=120000, {options.complete} of them completed at {options.rate:.0f}/s "
        f"while all stay open; wake-up = response − completion (target p99 ≤ "
        f"{WAKE_TARGET_MS:.0f} ms)"
    )
    print(
        f"{'open polls':>10} {'sessions s':>10} {'opened s':>8} {'RSS MiB':>8} {'threads':>7} "
        f"{'fds':>6} "
        f"{'completed':>9} {'commit ms':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'still open':>10} "
        f"{'failed':>6} {'CPU server':>10} {'CPU client':>10}  held"
    )
    for level in levels:
        lat = sorted(level.latencies)
        p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
        top = lat[-1] * 1000 if lat else float("nan")
        commit = sorted(level.commit_ms)[len(level.commit_ms) // 2] if level.commit_ms else 0.0
        print(
            f"{level.polls:>10} {level.created_s:>10.1f} {level.opened_s:>8.1f} "
            f"{level.rss_mib:>8.0f} {level.threads:>7} {level.fds:>6} {level.completed:>9} "
            f"{commit:>9.1f} "
            f"{p50:>7.1f} {level.p99_ms:>7.1f} "
            f"{top:>7.1f} {level.still_open:>10} {len(level.failures):>6} "
            f"{level.server_cpu:>10.2f} {level.client_cpu:>10.2f}  "
            + ("yes" if level.held else "NO")
        )
    held = [level.polls for level in levels if level.held]
    largest = max(held, default=0)
    print(
        f"largest N that held: {largest} (target ≥ 5000: "
        + ("OK" if largest >= 5000 else "MISSED")
        + ")"
    )
    for note in notes:
        print(f"  {note}")
    for level in levels:
        for failure in level.failures[:3]:
            print(f"  {level.polls}: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--role", choices=("main", "completer"), default="main")
    parser.add_argument(
        "--polls",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, 2500, 5000, 7500],
        help="levels of concurrent polls, comma-separated",
    )
    parser.add_argument("--complete", type=int, default=1000, help="sessions completed per level")
    parser.add_argument("--rate", type=float, default=100.0, help="completions per second")
    options = parser.parse_args()
    if options.role == "completer":
        completer_main()
        return
    if min(options.polls) < 1 or options.complete < 1 or not 1 <= options.rate <= 1000:
        parser.error("--polls ≥ 1, --complete ≥ 1, 1 ≤ --rate ≤ 1000")
    if not Path("/proc/net/tcp").exists():
        sys.exit("benchmarks/rp_longpoll.py reads /proc (Linux only)")
    run(options)


if __name__ == "__main__":
    main()
