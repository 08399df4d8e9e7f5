"""The platform a load scenario runs against, started and stopped by ``loadtests/run.py``.

What ``benchmarks/rp_flow.py`` starts, reused through its helpers: the server in uvicorn
(README's production command) on a free 127.0.0.1 port, a scratch PostgreSQL database
named ``lt_<scenario>_<random>`` next to ``DATABASE_URL`` (created here, dropped at the
end), Redis as the event bus (``REDIS_URL``, default db 8), Celery eager, the CA hierarchy,
one relying party, and the virtual devices: reference apps (``device.app.DeviceApp``)
registered through the real app API in separate processes, which then answer every
transaction from their long polls, or are parked (``silent``) so that sessions stay open.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import rp_flow  # noqa: E402 -- after the path is set

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"


@contextmanager
def scratch_database(scenario: str) -> Iterator[str]:
    """A fresh PostgreSQL database next to ``DATABASE_URL``, dropped on the way out."""
    import psycopg

    given = os.environ.get("DATABASE_URL", "")
    if not given.startswith("postgres"):
        given = DEFAULT_DATABASE
    parts = urllib.parse.urlsplit(given)
    name = f"lt_{scenario.lower()}_{secrets.token_hex(4)}"
    with psycopg.connect(given, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(given, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Running:
    base: str
    server: subprocess.Popen[bytes]
    devices: list[rp_flow.DeviceProcess]
    #: Semantics identifiers of the persons whose devices answer, then of the silent ones.
    answering: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    prepare_seconds: float = 0.0

    def pids(self) -> dict[str, list[int]]:
        return {
            "server": rp_flow.process_tree(self.server.pid),
            "devices": [d.process.pid for d in self.devices],
        }


@contextmanager
def platform(
    scenario: str,
    *,
    workdir: Path,
    answering: int,
    silent: int,
    bits: int,
    kdf: str,
    workers: int,
    device_procs: int,
) -> Iterator[Running]:
    """The server and ``answering`` + ``silent`` registered virtual devices (one person
    each); everything is stopped and the database dropped when the block ends."""
    began = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS)
    with scratch_database(scenario) as database_url:
        port = rp_flow.free_port()
        base = f"http://127.0.0.1:{port}"
        env = rp_flow.platform_env(data, database_url, base, bits=bits)
        rp_flow.django_setup(env)
        from django.db import connections

        from pki import services as pki
        from signing import keys

        pki.ca_hierarchy_create(actor="loadtest", base_url=base)
        rp_flow.relying_party_create()
        persons = rp_flow.people(answering + silent)
        tickets = rp_flow.tickets_create(persons)
        keys.pool_fill(bits=bits, target=2 * len(persons) + 4)
        connections.close_all()  # the server opens its own
        server = rp_flow.start_server(port, env, workers=workers)
        running = Running(base, server, [])
        try:
            # The silent devices live in their own process(es), parked after registering.
            loud = rp_flow.start_devices(
                base, tickets[:answering], kdf, device_procs, serial=False, bits=bits
            )
            quiet = (
                rp_flow.start_devices(base, tickets[answering:], kdf, 1, serial=False, bits=bits)
                if silent
                else []
            )
            running.devices = loud + quiet
            if quiet:
                rp_flow.set_polling(quiet, False)
            running.answering = _order(persons[:answering], loud)
            running.silent = persons[answering:]
            running.prepare_seconds = time.monotonic() - began
            yield running
        finally:
            rp_flow.stop_devices(running.devices)
            rp_flow.stop_process(server)
    shutil.rmtree(data, ignore_errors=True)


def _order(persons: list[str], devices: list[rp_flow.DeviceProcess]) -> list[str]:
    """The persons whose devices registered (all of them, or the run fails before)."""
    registered = sum(len(d.documents) for d in devices)
    if registered != len(persons):
        raise RuntimeError(f"{registered} of {len(persons)} devices registered")
    return persons


def rss_bytes(pid: int) -> int:
    """Resident set size of one process, from /proc/<pid>/status (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def describe(running: Running) -> dict[str, Any]:
    return {
        "base": running.base,
        "answering": len(running.answering),
        "silent": len(running.silent),
        "prepare_seconds": round(running.prepare_seconds, 1),
    }
