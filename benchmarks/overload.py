"""Overload (security-targets L7): 3× the nominal load sheds fast and recovers (not a test).

Open-loop load — new RP v2 authentication flows arrive at a fixed rate whatever the
answers, as a bank's customers do — through the real platform (one uvicorn process, the
virtual devices of ``rp_flow.py`` approving every transaction, Redis event bus):

    nominal  R flows/s for --nominal seconds      (R: --rate, what this machine carries)
    burst    3R flows/s for --burst seconds
    after    R flows/s for --after seconds

Run twice in one go, on the same database and devices: with admission control
(``smartid/admission.py``, the product's defaults) and, as the reference, without it
(``SMARTID_MAX_CONCURRENT_REQUESTS=0``: every request waits its turn in the process).

Per run and phase the table shows arrivals, completed flows (the RP verified the
signature), shed starts (429/503: the RP was told at once), other failures, the POST's p50
and p99 and the slowest shed answer, and the flow's end-to-end p50/p99. Below it, the time
after the burst until a 5-second window's end-to-end p99 is back within 1.5× the nominal
phase's (the target: ≤ 30 s), and whether every shed answer came within 1 s.

Run: ``.venv/bin/python benchmarks/overload.py [--rate 3] [--nominal 20] [--burst 20]
[--after 40] [--key-bits 2048] [--people 40]``. Bounded: each run lasts the three phases
plus at most 60 s for flows in flight; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import rp_flow  # noqa: E402 -- after the path

FLOW_TIMEOUT = 60.0
WINDOW = 5.0


@dataclass
class Flow:
    phase: str
    began: float
    outcome: str = "running"  # ok | shed | failed
    post: float = 0.0  # seconds until the POST's answer
    total: float = 0.0  # seconds until the verified signature (ok only)
    detail: str = ""


async def _one(rp: rp_flow.RpFlows, target: rp_flow.Target, flow: Flow) -> None:
    try:
        posted = await asyncio.wait_for(rp.v2(target), FLOW_TIMEOUT)
    except RuntimeError as exc:
        flow.post = time.monotonic() - flow.began
        match = re.match(r"POST (\d{3})", str(exc))
        shed = match is not None and match.group(1) in {"429", "503"}
        flow.outcome, flow.detail = ("shed" if shed else "failed"), str(exc)[:60]
        return
    except Exception as exc:  # noqa: BLE001 -- a timeout or a transport error: counted
        flow.outcome, flow.detail = "failed", f"{type(exc).__name__}: {exc}"[:60]
        flow.post = time.monotonic() - flow.began
        return
    flow.outcome = "ok"
    flow.post = posted - flow.began
    flow.total = time.monotonic() - flow.began


async def _open_loop(
    base: str, targets: list[rp_flow.Target], phases: list[tuple[str, float, float]]
) -> list[Flow]:
    import httpx

    flows: list[Flow] = []
    tasks: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=FLOW_TIMEOUT, limits=limits) as client:
        rp = rp_flow.RpFlows(client, base, "Web2App")
        at = time.monotonic()
        index = 0
        for name, rate, seconds in phases:
            end = at + seconds
            while at < end:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                flow = Flow(name, time.monotonic())
                flows.append(flow)
                target = targets[index % len(targets)]
                index += 1
                tasks.append(asyncio.create_task(_one(rp, target, flow)))
                at += 1 / rate
        await asyncio.gather(*tasks)
    return flows


def _pct(values: list[float], pct: float) -> float:
    return rp_flow.nearest_rank(values, pct) * 1000 if values else float("nan")


def _recovery(flows: list[Flow], burst_end: float) -> float | None:
    """Seconds after the burst until a window's end-to-end p99 is within 1.5× nominal's."""
    nominal = [f.total for f in flows if f.phase == "nominal" and f.outcome == "ok"]
    if not nominal:
        return None
    limit = 1.5 * rp_flow.nearest_rank(nominal, 99)
    after = [f for f in flows if f.phase == "after"]
    start = burst_end
    while after and start < after[-1].began:
        window = [f for f in after if start <= f.began < start + WINDOW]
        done = [f.total for f in window if f.outcome == "ok"]
        if window and len(done) == len(window) and rp_flow.nearest_rank(done, 99) <= limit:
            return start - burst_end
        start += WINDOW
    return None


def report(name: str, flows: list[Flow], burst_end: float) -> None:
    print(f"\n{name}")
    header = (
        f"{'phase':<8} {'arrived':>7} {'ok':>5} {'shed':>5} {'failed':>6} {'POST p50':>9} "
        f"{'POST p99':>9} {'shed max':>9} {'e2e p50':>8} {'e2e p99':>8}"
    )
    print(header)
    print("-" * len(header))
    for phase in ("nominal", "burst", "after"):
        group = [f for f in flows if f.phase == phase]
        ok = [f for f in group if f.outcome == "ok"]
        shed = [f for f in group if f.outcome == "shed"]
        failed = [f for f in group if f.outcome == "failed"]
        print(
            f"{phase:<8} {len(group):>7} {len(ok):>5} {len(shed):>5} {len(failed):>6} "
            f"{_pct([f.post for f in ok], 50):>9.0f} {_pct([f.post for f in ok], 99):>9.0f} "
            f"{max((f.post for f in shed), default=0) * 1000:>9.0f} "
            f"{_pct([f.total for f in ok], 50):>8.0f} {_pct([f.total for f in ok], 99):>8.0f}"
        )
    recovery = _recovery(flows, burst_end)
    shed_max = max((f.post for f in flows if f.outcome == "shed"), default=0.0)
    failures = sorted({f.detail for f in flows if f.outcome == "failed"})
    back = "not within the run" if recovery is None else f"{recovery:.0f} s"
    print(
        f"recovery after the burst: {back} (target ≤ 30 s); "
        f"slowest shed answer {shed_max * 1000:.0f} ms (target ≤ 1000 ms)"
    )
    if failures:
        print("failures:", "; ".join(failures[:5]))


def run(options: argparse.Namespace) -> None:
    phases = [
        ("nominal", options.rate, options.nominal),
        ("burst", 3 * options.rate, options.burst),
        ("after", options.rate, options.after),
    ]
    workdir = Path(tempfile.mkdtemp(prefix="overload-bench-"))
    results: list[tuple[str, list[Flow], float]] = []
    try:
        with rp_flow.scratch_database(workdir) as database_url:
            port = rp_flow.free_port()
            base = f"http://127.0.0.1:{port}"
            env = rp_flow.platform_env(workdir, database_url, base, bits=options.key_bits)
            rp_flow.django_setup(env)
            from django.db import connections

            from pki import services as pki
            from signing import keys

            pki.ca_hierarchy_create(actor="benchmark", base_url=base)
            rp_flow.relying_party_create()
            persons = rp_flow.people(options.people)
            tickets = rp_flow.tickets_create(persons)
            keys.pool_fill(bits=options.key_bits, target=options.people + 2)
            connections.close_all()
            server = rp_flow.start_server(port, env)
            devices: list[rp_flow.DeviceProcess] = []
            try:
                serial = database_url.startswith("sqlite")
                devices = rp_flow.start_devices(
                    base, tickets, "cheap", 2, serial=serial, bits=options.key_bits
                )
                targets = rp_flow.targets_of(persons, devices)
                for name, extra in (
                    ("with admission control (the defaults)", {}),
                    ("reference: no admission control", {"SMARTID_MAX_CONCURRENT_REQUESTS": "0"}),
                ):
                    if extra:  # the same port: the devices' polls reconnect by themselves
                        rp_flow.stop_process(server)
                        server = rp_flow.start_server(port, {**env, **extra})
                    time.sleep(3)  # the devices' long polls are back
                    began = time.monotonic()
                    flows = asyncio.run(_open_loop(base, targets, phases))
                    burst_end = began + options.nominal + options.burst
                    results.append((name, flows, burst_end))
            finally:
                rp_flow.stop_devices(devices)
                rp_flow.stop_process(server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"Overload: v2 authentication flows, open loop, {options.rate}/s → "
        f"{3 * options.rate}/s → {options.rate}/s ({options.nominal}/{options.burst}/"
        f"{options.after} s), {options.key_bits}-bit halves, {options.people} people"
    )
    for name, flows, burst_end in results:
        report(name, flows, burst_end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rate", type=float, default=3.0, help="nominal flows per second")
    parser.add_argument("--nominal", type=float, default=20.0)
    parser.add_argument("--burst", type=float, default=20.0)
    parser.add_argument("--after", type=float, default=40.0)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--people", type=int, default=40)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
