"""The multi-node test's driver; tests/cluster/cluster.sh runs it in the client namespace.

Starts the cluster — PostgreSQL (its own instance, initdb'd into the scratch folder),
Redis, two web nodes (uvicorn), two Celery workers, Celery beat, nginx balancing the two
web nodes, the demo world (``manage.py demo_setup``) and its virtual devices
(``manage.py demo_devices``, here in the client namespace, talking to nginx) — then runs
the relying party's load (tests/cluster/load.py) while it injects the faults:

1. steady load;
2. SIGKILL of every process of hosts web1 and worker1;
3. both restarted;
4. Redis frozen with SIGSTOP for ``--freeze`` seconds, then SIGCONT;
5. PostgreSQL restarted with ``pg_ctl restart -m fast``;
6. steady load again.

Then it checks the database (no session completed twice, no key revoked or flagged as a
clone, the audit chain intact), prints the figures (tests/cluster/report.py) and exits 0
only if every pass criterion holds. The settings are production's way of running —
PostgreSQL, Celery workers over Redis (no eager tasks), the Redis event bus and cache,
several web processes behind a proxy — in ``SMARTID_ENV=demo`` for the demo world (live
mode would refuse the file key store and the demo's stand-ins).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cluster import report  # noqa: E402 -- after the path
from tests.cluster.load import Account, Load, LoadResult  # noqa: E402
from tests.cluster.nodes import (  # noqa: E402
    ROOT,
    WEB_PORT,
    Node,
    address,
    in_namespace,
    wait_until,
)

LB = f"http://{address('lb')}"
NGINX_CONF = Path(__file__).with_name("nginx.conf")


@dataclass
class Plan:
    """Seconds of each phase of the load."""

    rate: float
    steady: float
    down: float
    phase: float
    freeze: float

    @property
    def total(self) -> float:
        return self.steady + self.down + self.phase + self.freeze + 3 * self.phase


@dataclass
class Cluster:
    workdir: Path
    logs: Path
    pg_bin: Path
    key_bits: int
    env: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = self.workdir / "data"
        data.mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TZ")},
            "DJANGO_SETTINGS_MODULE": "smartid.settings",
            "SMARTID_ENV": "demo",
            "SMARTID_DATA_DIR": str(data),
            "DATABASE_URL": f"postgresql://postgres@{address('db')}:5432/postgres",
            "REDIS_URL": f"redis://{address('cache')}:6379/0",
            "SITE_URL": LB,
            "ALLOWED_HOSTS": ",".join(address(h) for h in ("lb", "web1", "web2")),
            "SMARTID_TRUSTED_PROXIES": f"{address('lb')}/32",
            "SMARTID_SPLITKEY_BITS": str(self.key_bits),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        python = sys.executable
        web = [
            python, "-m", "uvicorn", "smartid.asgi:application", "--port", str(WEB_PORT),
            "--no-proxy-headers", "--lifespan", "off", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        celery = [python, "-m", "celery", "-A", "smartid"]
        worker = [*celery, "worker", "-c", "1", "-l", "WARNING", "-n"]
        specs: dict[str, tuple[str, list[str]]] = {
            "redis": ("cache", [
                "redis-server", "--bind", address("cache"), "--port", "6379", "--save", "",
                "--appendonly", "no", "--protected-mode", "no", "--dir", str(self.workdir),
            ]),
            "web1": ("web1", [*web, "--host", address("web1")]),
            "web2": ("web2", [*web, "--host", address("web2")]),
            "worker1": ("worker1", [*worker, "worker1@%h"]),
            "worker2": ("worker2", [*worker, "worker2@%h"]),
            "beat": ("beat", [
                *celery, "beat", "-l", "WARNING", "-s", str(self.workdir / "beat-schedule"),
                "--pidfile", str(self.workdir / "beat.pid"),
            ]),
            "nginx": ("lb", ["nginx", "-c", str(self.workdir / "nginx.conf"), "-g", "daemon off;"]),
            "devices": ("client", [
                python, "manage.py", "demo_devices", "--server", LB, "--delay", "0",
                "--poll-ms", "10000",
            ]),
        }  # fmt: skip
        for name, (host, argv) in specs.items():
            self.nodes[name] = Node(name, host, argv, self.env, self.logs / f"{name}.log")

    # --- PostgreSQL (pg_ctl as the postgres user, in the db namespace) -----------------

    @property
    def pgdata(self) -> Path:
        return self.workdir / "pgdata"

    def _pg(self, *argv: str, timeout: float = 120) -> float:
        began = time.monotonic()
        command = in_namespace(
            "db", ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]
        )
        with (self.logs / "postgres-ctl.log").open("ab") as out:
            subprocess.run(  # noqa: S603 -- fixed arguments
                command, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
                check=True, timeout=timeout,
            )  # fmt: skip
        return time.monotonic() - began

    def postgres_init(self) -> None:
        self.pgdata.mkdir(mode=0o700)
        shutil.chown(self.pgdata, "postgres", "postgres")
        self._pg(str(self.pg_bin / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                 "-A", "trust", "-E", "UTF8", "--no-sync")  # fmt: skip
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{address('db')}'\n"
                f"unix_socket_directories = '{self.pgdata}'\n"
                "max_connections = 300\n"
            )
        log = self.logs / "postgres.log"  # the server writes it as the postgres user
        log.touch()
        shutil.chown(log, "postgres", "postgres")
        with (self.pgdata / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {address('db').rsplit('.', 1)[0]}.0/24 trust\n")

    def pg_ctl(self, *argv: str) -> float:
        log = str(self.logs / "postgres.log")
        return self._pg(str(self.pg_bin / "pg_ctl"), "-D", str(self.pgdata), "-l", log,
                        "-w", "-t", "60", *argv)  # fmt: skip

    # --- the rest -------------------------------------------------------------------

    def manage(self, *argv: str, timeout: float = 600) -> str:
        """``manage.py`` in this (the client) namespace; returns its output."""
        done = subprocess.run(  # noqa: S603 -- our own interpreter and manage.py
            [sys.executable, "manage.py", *argv], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        with (self.logs / "manage.log").open("a") as log:
            log.write(f"$ manage.py {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {argv[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def write_nginx_conf(self) -> None:
        temp = self.workdir / "nginx-temp"
        temp.mkdir()
        text = NGINX_CONF.read_text()
        for key, value in {
            "@WORKDIR@": str(self.workdir),
            "@TEMP@": str(temp),
            "@LOGS@": str(self.logs),
            "@LB@": address("lb"),
            "@WEB1@": f"{address('web1')}:{WEB_PORT}",
            "@WEB2@": f"{address('web2')}:{WEB_PORT}",
        }.items():
            text = text.replace(key, value)
        (self.workdir / "nginx.conf").write_text(text)

    def start(self) -> None:
        step = time.monotonic()
        self.postgres_init()
        self.pg_ctl("start")
        self.nodes["redis"].start()
        wait_until("Redis", _redis_ready, 30, self.nodes["redis"])
        self.timings["PostgreSQL and Redis up"] = time.monotonic() - step

        step = time.monotonic()
        self.manage("migrate", "--no-input")
        for name in ("worker1", "worker2", "beat"):
            self.nodes[name].start()
        self.manage("demo_setup")
        self.timings["migrate + demo_setup (54 accounts)"] = time.monotonic() - step

        step = time.monotonic()
        for name in ("web1", "web2"):
            self.nodes[name].start()
        for name in ("web1", "web2"):
            url = f"http://{address(name)}:{WEB_PORT}/health"
            wait_until(f"{name} /health", lambda u=url: _healthy(u), 60, self.nodes[name])  # type: ignore[misc]
        self.write_nginx_conf()
        self.nodes["nginx"].start()
        wait_until("nginx", lambda: _healthy(f"{LB}/health"), 30, self.nodes["nginx"])
        self.nodes["devices"].start()
        wait_until("demo_devices", self._devices_ready, 120, self.nodes["devices"])
        self.timings["web nodes, nginx, devices up"] = time.monotonic() - step

    def _devices_ready(self) -> bool:
        return "demo devices answer on" in self.nodes["devices"].log.read_text(errors="replace")

    def stop(self) -> None:
        """Everything, politely (cluster.sh kills whatever is left and removes the hosts)."""
        redis = self.nodes["redis"]
        redis.signal(signal.SIGCONT)  # a frozen Redis cannot act on SIGTERM
        for name in ("devices", "nginx", "web1", "web2", "beat", "worker1", "worker2", "redis"):
            self.nodes[name].stop()
        try:
            self.pg_ctl("stop", "-m", "fast")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _redis_ready() -> bool:
    import redis

    try:
        return bool(
            redis.Redis(host=address("cache"), socket_timeout=1, socket_connect_timeout=1).ping()
        )
    except redis.RedisError:
        return False


# --- the load with its faults -----------------------------------------------------------


async def _sleep_until(instant: float) -> None:
    await asyncio.sleep(max(0.0, instant - time.time()))


async def inject_faults(cluster: Cluster, plan: Plan, t0: float) -> dict[str, float]:
    """The fault schedule; returns when each step happened (time.time())."""
    nodes, events = cluster.nodes, {"start": t0}
    await _sleep_until(t0 + plan.steady)
    events["kill"] = time.time()
    killed = [nodes["web1"].kill_host(), nodes["worker1"].kill_host()]
    events["killed processes"] = float(sum(killed))
    await _sleep_until(events["kill"] + plan.down)
    events["restart"] = time.time()
    nodes["web1"].start()
    nodes["worker1"].start()
    url = f"http://{address('web1')}:{WEB_PORT}/health"
    await asyncio.to_thread(wait_until, "web1 again", lambda: _healthy(url), 60, nodes["web1"])
    events["web1 ready"] = time.time()
    await _sleep_until(events["restart"] + plan.phase)
    events["freeze"] = time.time()
    nodes["redis"].signal(signal.SIGSTOP)
    await _sleep_until(events["freeze"] + plan.freeze)
    nodes["redis"].signal(signal.SIGCONT)
    events["thaw"] = time.time()
    await _sleep_until(events["thaw"] + plan.phase)
    events["pg restart"] = time.time()
    await asyncio.to_thread(cluster.pg_ctl, "restart", "-m", "fast")
    events["pg up"] = time.time()
    await _sleep_until(events["pg restart"] + plan.phase)
    events["steady again"] = time.time()
    return events


async def load_with_faults(
    cluster: Cluster, plan: Plan, accounts: list[Account]
) -> tuple[LoadResult, dict[str, float]]:
    validator = trust(LB)
    load = Load(LB, accounts, validator)
    t0 = time.time()
    faults = asyncio.create_task(inject_faults(cluster, plan, t0))
    result = await load.run(plan.rate, t0 + plan.total)
    events = await faults
    events["load end"] = t0 + plan.total
    events["drained"] = time.time()
    return result, events


def trust(base: str) -> Any:
    import smartid_client as sc  # on the path since tests.cluster.load put it there

    pems = [
        httpx.get(f"{base}/ca/{name}.crt", timeout=10).content
        for name in ("root", "eid-q", "eid-nq")
    ]
    root, *issuing = sc.load_certificates(*pems)
    return sc.Validator([root], issuing)


def demo_accounts() -> list[Account]:
    """The demo accounts the load uses: every qualified one-account person that answers
    OK, and the ones that refuse (an error the RP is told)."""
    from demo.world import DEMO_IDENTITIES

    people = [i.semantics_identifier for i in DEMO_IDENTITIES]
    chosen = [
        i
        for i in DEMO_IDENTITIES
        if i.outcome in ("OK", "USER_REFUSED")
        and i.level == "QUALIFIED"
        and people.count(i.semantics_identifier) == 1
    ]
    return [Account(i.semantics_identifier, i.document_number, i.outcome) for i in chosen]


# --- after the load: what the database says ---------------------------------------------


def database_checks(cluster: Cluster, session_ids: list[str]) -> dict[str, Any]:
    from django.db.models import Count, Q

    from signing.models import SplitKey, Transaction

    twice = (
        Transaction.objects.filter(group__in=session_ids)
        .values("group")
        .annotate(ok=Count("id", filter=Q(state="COMPLETE", result="OK")))
        .filter(ok__gt=1)
        .count()
    )
    flagged = SplitKey.objects.filter(Q(revoked=True) | Q(suspect=True)).count()
    audit = subprocess.run(  # noqa: S603 -- our own interpreter and manage.py
        [sys.executable, "manage.py", "verify_audit_chain"], cwd=ROOT, env=cluster.env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    ping = subprocess.run(  # noqa: S603 -- our own interpreter and Celery
        [sys.executable, "-m", "celery", "-A", "smartid", "inspect", "ping", "-t", "5", "-j"],
        cwd=ROOT, env=cluster.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return {
        "Celery workers answering": ping.stdout.count('"ok": "pong"'),
        "sessions completed twice (database)": twice,
        "keys revoked or flagged": flagged,
        "audit chain": "intact" if audit.returncode == 0 else audit.stdout + audit.stderr,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--logs", type=Path, required=True)
    parser.add_argument("--pg-bin", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=3.0, help="flows started per second")
    parser.add_argument("--steady", type=float, default=30.0, help="seconds of steady load first")
    parser.add_argument("--down", type=float, default=20.0, help="seconds web1+worker1 stay dead")
    parser.add_argument("--phase", type=float, default=20.0, help="seconds of the other phases")
    parser.add_argument("--freeze", type=float, default=30.0, help="seconds Redis stays frozen")
    parser.add_argument("--key-bits", type=int, default=3072, help="SMARTID_SPLITKEY_BITS")
    options = parser.parse_args()
    plan = Plan(options.rate, options.steady, options.down, options.phase, options.freeze)

    began = time.monotonic()
    cluster = Cluster(options.workdir, options.logs, options.pg_bin, options.key_bits)
    try:
        print("cluster-test: starting the cluster", flush=True)
        cluster.start()
        os.environ.update(cluster.env)
        import django

        django.setup()
        accounts = demo_accounts()
        print(
            f"cluster-test: cluster up in {time.monotonic() - began:.0f} s; load "
            f"{plan.rate:g} flows/s for {plan.total:.0f} s on {len(accounts)} accounts",
            flush=True,
        )
        result, events = asyncio.run(load_with_faults(cluster, plan, accounts))
        checks = database_checks(cluster, [f.session_id for f in result.flows if f.session_id])
    finally:
        cluster.stop()
    access_log = report.read_access_log(options.logs / "nginx-access.log")
    verdict = report.evaluate(result, events, access_log, checks)
    text = report.render(verdict, cluster.timings, plan.rate, time.monotonic() - began)
    print(text)
    (options.logs / "report.txt").write_text(text)
    (options.logs / "records.json").write_text(json.dumps(report.as_json(result, events), indent=1))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
