"""Run one load scenario of docs/spec/security-targets.md §4 with locust; bounded, loopback.

    .venv/bin/python loadtests/run.py L1|L2|L6 [--minutes M] [--rate R] [--key-bits B]

Scenarios (targets from the spec; ``--minutes`` shortens or lengthens a run):

====  ===============================================================  ==========================
L1    full RP authentication flows, v2 and v3 notification alternated   20 flows/s for 5 min; POST
      (POST, the virtual device signs, long poll to COMPLETE, the RP     p99 ≤ 300 ms, GET of a
      verifies the signature), constant arrival (``--rate``)             complete session p99 ≤ 200
                                                                         ms, 0 errors
L2    200 open long polls (``timeoutMs=30000``) on sessions whose        no 5xx; the new POSTs p99
      devices never answer, held for 10 min, while new POSTs arrive      ≤ 500 ms
      (``--post-rate``, default 5/s)
L6    soak: L1's flows at 50 % of L1's rate (10 flows/s) for 30 min     server RSS growth ≤ 10 %
                                                                         (mean of the first 5 min
                                                                         vs the last 5), 0 errors
====  ===============================================================  ==========================

What runs (``loadtests/stack.py``): the platform in uvicorn (one worker, ``--workers``)
on a free 127.0.0.1 port with a scratch PostgreSQL database ``lt_<scenario>_<random>`` next
to ``DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``), Redis
(``REDIS_URL``, default db 8), Celery eager; virtual devices (reference apps) in separate
processes; locust headless in its own process (``loadtests/locustfile.py``), bounded by
``--run-time``. Everything shares the machine's cores: the CPU of the server, the devices,
locust and all other processes is reported next to the figures.

Key size: ``--key-bits`` (default 3072, production: |n| = 6144); ``--key-bits 1024`` is
the tests' size and takes the split-key arithmetic mostly out of the picture. The devices
use the cheap scrypt (``--kdf cheap``) by default: the app's scrypt runs on phones, not on
the server, and here it would take the server's cores.

Output in ``var/loadtests/<scenario>-<UTC time>/``: locust's CSV files (``locust_*.csv``)
and HTML report, ``latency.png`` (p50/p95/p99 over time, throughput, RSS, connections),
``samples.csv`` (every 5 s: RSS, CPU seconds, established connections), ``summary.txt``.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import rp_flow  # noqa: E402 -- after the path is set
from loadtests import report, stack  # noqa: E402

SAMPLE_SECONDS = 5.0


@dataclass(frozen=True)
class Scenario:
    name: str
    minutes: float
    answering: int  # devices that answer (one FlowUser each)
    silent: int  # devices that never answer (L2)
    rate: float  # flows/s over all FlowUsers (L1, L6)
    poll_users: int = 0
    post_users: int = 0
    warmup: int = 0  # seconds before the measured minutes (L2: the polls are opened)


SCENARIOS = {
    "L1": Scenario("L1", 5, answering=40, silent=0, rate=20),
    "L2": Scenario(
        "L2", 10, answering=0, silent=20, rate=0, poll_users=200, post_users=5, warmup=60
    ),
    "L6": Scenario("L6", 30, answering=20, silent=0, rate=10),
}


def connections_to(port: int) -> int:
    """Established TCP connections whose local port is the server's (/proc/net/tcp)."""
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


class Sampler(threading.Thread):
    """Every 5 s: RSS and CPU seconds of the server tree, the devices and locust, the
    machine's busy CPU seconds, and the connections established to the server."""

    def __init__(self, running: stack.Running, locust_pid: int, port: int) -> None:
        super().__init__(daemon=True)
        self.running, self.locust_pid, self.port = running, locust_pid, port
        self.samples: list[dict[str, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            pids = self.running.pids()
            self.samples.append(
                {
                    "t": time.time(),
                    "server_rss": sum(stack.rss_bytes(p) for p in pids["server"]),
                    "devices_rss": sum(stack.rss_bytes(p) for p in pids["devices"]),
                    "locust_rss": stack.rss_bytes(self.locust_pid),
                    "server_cpu": sum(rp_flow.cpu_seconds(p) for p in pids["server"]),
                    "devices_cpu": sum(rp_flow.cpu_seconds(p) for p in pids["devices"]),
                    "locust_cpu": rp_flow.cpu_seconds(self.locust_pid),
                    "machine_cpu": rp_flow.machine_busy_seconds(),
                    "connections": connections_to(self.port),
                }
            )
            self.stop.wait(SAMPLE_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--minutes", type=float, help="run time (default: the scenario's)")
    parser.add_argument("--rate", type=float, help="L1/L6: flows/s (default 20 / 10)")
    parser.add_argument("--post-rate", type=float, default=5.0, help="L2: new POSTs/s")
    parser.add_argument("--key-bits", type=int, choices=(1024, 2048, 3072), default=3072)
    parser.add_argument("--kdf", choices=("production", "cheap"), default="cheap")
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn worker processes (default 2: the cores)"
    )
    parser.add_argument("--device-procs", type=int, default=2)
    options = parser.parse_args()
    scenario = SCENARIOS[options.scenario]
    minutes = options.minutes or scenario.minutes
    if not 0.5 <= minutes <= 60:
        parser.error("0.5 ≤ --minutes ≤ 60 (every run is bounded)")
    if not Path("/proc/net/tcp").exists():
        sys.exit("loadtests/run.py reads /proc (Linux only)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "var" / "loadtests" / f"{scenario.name}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    run(scenario, minutes, options, out)


def run(scenario: Scenario, minutes: float, options: argparse.Namespace, out: Path) -> None:
    rate = options.rate or scenario.rate
    flow_users = scenario.answering
    seconds = int(minutes * 60) + scenario.warmup
    with stack.platform(
        scenario.name,
        workdir=out,
        answering=scenario.answering,
        silent=scenario.silent,
        bits=options.key_bits,
        kdf=options.kdf,
        workers=options.workers,
        device_procs=options.device_procs,
    ) as running:
        classes = ["FlowUser"] if flow_users else ["LongPollUser", "PostUser"]
        users = flow_users or (scenario.poll_users + scenario.post_users)
        env = {
            **os.environ,
            "LT_ANSWERING": ",".join(running.answering),
            "LT_SILENT": ",".join(running.silent),
            "LT_FLOW_RATE": str(rate / flow_users if flow_users else 0),
            "LT_POST_RATE": str(options.post_rate / max(scenario.post_users, 1)),
            "LT_POLL_USERS": str(scenario.poll_users),
            "LT_POST_USERS": str(scenario.post_users),
            "LT_WARMUP": str(scenario.warmup),
        }
        prefix = out / "locust"
        command = [
            sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
            "--headless", "--host", running.base, "--users", str(users),
            "--spawn-rate", str(max(users / 10, 1)), "--run-time", f"{seconds}s",
            "--stop-timeout", "5", "--csv", str(prefix), "--csv-full-history",
            "--html", str(out / "report.html"), "--only-summary", "--loglevel", "WARNING",
            *classes,
        ]  # fmt: skip
        port = int(running.base.rsplit(":", 1)[1])
        print(
            f"{scenario.name}: {minutes:g} min (+{scenario.warmup} s warm-up), {users} users "
            f"({', '.join(classes)}), "
            f"{options.key_bits} bits, prepared in {running.prepare_seconds:.0f} s; "
            f"output {out.relative_to(ROOT)}",
            flush=True,
        )
        with open(out / "locust.log", "w") as log:
            locust = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
            sampler = Sampler(running, locust.pid, port)
            sampler.start()
            try:
                locust.wait(timeout=seconds + 90)
            except subprocess.TimeoutExpired:
                rp_flow.stop_process(locust)
            finally:
                sampler.stop.set()
                sampler.join(timeout=10)
    summarise(scenario, minutes, rate, options, out, prefix, sampler.samples)


def _cores(samples: list[dict[str, float]], key: str) -> float:
    if len(samples) < 2:
        return float("nan")
    elapsed = samples[-1]["t"] - samples[0]["t"]
    return (samples[-1][key] - samples[0][key]) / elapsed


def rss_growth(samples: list[dict[str, float]], window_s: float) -> tuple[float, float, float]:
    """Mean server RSS over the first and the last ``window_s`` seconds, and the growth."""
    if not samples:
        return float("nan"), float("nan"), float("nan")
    start, end = samples[0]["t"], samples[-1]["t"]
    first = [s["server_rss"] for s in samples if s["t"] - start <= window_s]
    last = [s["server_rss"] for s in samples if end - s["t"] <= window_s]
    a, b = statistics.mean(first), statistics.mean(last)
    return a, b, b / a - 1


def summarise(
    scenario: Scenario,
    minutes: float,
    rate: float,
    options: argparse.Namespace,
    out: Path,
    prefix: Path,
    samples: list[dict[str, float]],
) -> None:
    with open(out / "samples.csv", "w", newline="") as handle:
        if samples:
            writer = csv.DictWriter(handle, fieldnames=list(samples[0]))
            writer.writeheader()
            writer.writerows(samples)
    if not Path(f"{prefix}_stats.csv").exists():
        log = (out / "locust.log").read_text().splitlines()[-15:]
        sys.exit("locust wrote no statistics; the end of locust.log:\n" + "\n".join(log))
    rows = report.stats(prefix)
    lines = [
        f"{scenario.name} {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {minutes:g} min, "
        f"{options.key_bits}-bit halves, KDF {options.kdf}, uvicorn x{options.workers}, "
        "PostgreSQL, Redis, Celery eager; "
        + (f"target {rate:g} flows/s" if scenario.answering else f"{options.post_rate:g} POSTs/s"),
        f"{'type':<6} {'name':<36} {'count':>7} {'fail':>5} {'/s':>7} {'p50':>7} "
        f"{'p95':>7} {'p99':>7} {'max':>7}  (ms)",
    ]
    for row in rows:
        lines.append(
            f"{row.kind:<6} {row.name:<36} {row.count:>7} {row.failures:>5} {row.rate:>7.2f} "
            f"{row.p50:>7.0f} {row.p95:>7.0f} {row.p99:>7.0f} {row.maximum:>7.0f}"
        )
    for name, error, occurrences in report.failures(prefix):
        lines.append(f"failure: {name}: {error} x{occurrences}")
    lines.append(
        "cores used (mean over the run): "
        f"server {_cores(samples, 'server_cpu'):.2f}, devices {_cores(samples, 'devices_cpu'):.2f}"
        f", locust {_cores(samples, 'locust_cpu'):.2f}, whole machine "
        f"{_cores(samples, 'machine_cpu'):.2f} of {os.cpu_count()}"
    )
    by_name = {row.name: row for row in rows}
    total = by_name.get("Aggregated")
    errors = total.failures if total else -1
    checks: list[tuple[str, bool]] = []
    window = min(300.0, minutes * 60 / 3)
    first, last, growth = rss_growth(samples, window)
    lines.append(
        f"server RSS: first {window / 60:.1f} min {first / 2**20:.1f} MiB, last {window / 60:.1f} "
        f"min {last / 2**20:.1f} MiB, growth {growth:+.1%}"
    )
    if samples:
        skip = scenario.warmup or minutes * 60 / 5
        held = [s["connections"] for s in samples if s["t"] - samples[0]["t"] >= skip] or [0]
        lines.append(
            f"connections established to the server (after {skip:.0f} s): min {min(held):.0f}"
            f", median {statistics.median(held):.0f}, max {max(held):.0f}"
        )
    if scenario.answering:
        flows = sum(r.count - r.failures for r in rows if r.kind == "FLOW")
        carried = flows / (minutes * 60)
        posts = [r for r in rows if r.name.startswith("POST auth v")]
        post_p99 = max((r.p99 for r in posts), default=float("nan"))
        complete = by_name.get("GET session (complete)")
        lines.append(f"flows carried: {carried:.2f}/s of {rate:g}/s target")
        checks.append((f"{rate:g} flows/s carried ({carried:.2f})", carried >= 0.97 * rate))
        if scenario.name == "L1":
            checks.append((f"POST p99 ≤ 300 ms ({post_p99:.0f})", post_p99 <= 300))
            if complete:
                checks.append(
                    (f"GET complete p99 ≤ 200 ms ({complete.p99:.0f})", complete.p99 <= 200)
                )
    else:
        new = by_name.get("POST auth (new, under long polls)")
        new_p99 = new.p99 if new else float("nan")
        checks.append((f"new POST p99 ≤ 500 ms ({new_p99:.0f})", new_p99 <= 500))
        five = sum(o for _, e, o in report.failures(prefix) if "HTTP 5" in e)
        checks.append((f"no 5xx ({five})", five == 0))
    checks.append((f"0 errors ({errors})", errors == 0))
    if scenario.name == "L6":
        checks.append((f"RSS growth ≤ 10 % ({growth:+.1%})", growth <= 0.10))
    for text, ok in checks:
        lines.append(f"{'PASS' if ok else 'FAIL'}  {text}")
    lines.append("(a shared 2-core machine: other processes' CPU is in 'whole machine')")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    latency = (
        ["FLOW v2", "FLOW v3", "POST auth v2"]
        if scenario.answering
        else ["POST auth (new, under long polls)"]
    )
    throughput = (
        ["FLOW v2", "FLOW v3"]
        if scenario.answering
        else ["POST auth (new, under long polls)", "GET session (long poll)"]
    )
    report.plot(
        out / "latency.png",
        f"{scenario.name}: {minutes:g} min, {options.key_bits}-bit halves",
        prefix,
        latency,
        throughput,
        samples,
    )
    print(f"plot: {(out / 'latency.png').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
