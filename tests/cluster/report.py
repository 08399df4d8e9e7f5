"""The figures of the multi-node test and its pass criteria (docs/deployment.md).

Inputs: the relying party's flows and requests (tests/cluster/load.py), when each fault
happened, nginx's access log (every request of the RP and of the devices, with the node
that answered) and the database checks. Pure functions: they read records, they start
nothing.

Pass criteria:

* every flow the RP started ended OK (signature and certificate valid) or with an error
  the RP was told; none LOST, none INVALID;
* none completed twice: the RP's second read of every completed session gives the same
  answer, and the database has no session with two OK transactions;
* no key revoked or flagged as a clone; the audit chain intact; both Celery workers
  answer a ping at the end;
* no 5xx except (a) 502/504 of requests in flight on web1 when it was killed and (b) 503
  while Redis was frozen (and up to THAW_GRACE after SIGCONT, while the nodes' breakers
  are still open) or PostgreSQL restarted; every 503 came within 2 s;
* never a hang while Redis was frozen: a request that began then answered within 2 s
  (a long poll within its timeoutMs + 2 s);
* recovery within 10 s of each fault's end (the kill, SIGCONT, the restart command): a
  flow started since the fault began ended OK that soon.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.redisclient import HOLD_SECONDS
from tests.cluster.load import Flow, LoadResult
from tests.cluster.nodes import WEB_PORT, address

RECOVERY_LIMIT = 10.0
UNAVAILABLE_LIMIT = 2.0  # a 503 (or any short request during the freeze) within this
POLL_GRACE = 2.0  # a long poll may take its timeoutMs plus this
#: nginx answers at once when it cannot reach a node it is trying: such a 5xx is the
#: killed node's if it began before the kill and ended this soon after it.
KILL_GRACE = 1.0
#: After SIGCONT a node goes on answering 503 until its Redis breaker closes (it leaves a
#: Redis that timed out alone for HOLD_SECONDS, core/redisclient.py), plus one timeout.
THAW_GRACE = HOLD_SECONDS + 0.5
LONG_POLL_MARKERS = ("/session/", "/transactions/pending")
DEVICE_POLL_MS = 10_000  # demo_devices --poll-ms in run.py
NODE_NAMES = {f"{address(n)}:{WEB_PORT}": n for n in ("web1", "web2")}


@dataclass
class Access:
    """One line of nginx's access log."""

    began: float
    ended: float
    status: int
    upstream: str
    method: str
    uri: str

    @property
    def seconds(self) -> float:
        return self.ended - self.began

    @property
    def node(self) -> str:
        return node_of(self.upstream)


def node_of(upstream: str) -> str:
    """The node that answered (the last one nginx tried); "lb" when none was reached."""
    last = upstream.split(",")[-1].strip() if upstream else ""
    return NODE_NAMES.get(last, "lb")


def read_access_log(path: Path) -> list[Access]:
    entries: list[Access] = []
    if not path.exists():
        return entries
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) != 7:
            continue
        msec, seconds, status, upstream, _upstream_status, method, uri = parts
        ended = float(msec)
        upstream = "" if upstream == "-" else upstream
        entries.append(Access(ended - float(seconds), ended, int(status), upstream, method, uri))
    return entries


@dataclass
class PhaseFigures:
    name: str
    start: float
    end: float
    flows: int = 0
    ok: int = 0
    told: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    invalid: int = 0
    twice: int = 0
    rp_5xx: Counter[str] = field(default_factory=Counter)  # node -> count
    all_5xx: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)  # OK flows, start to verified


@dataclass
class Verdict:
    phases: list[PhaseFigures]
    recovery: dict[str, float | None]
    freeze: dict[str, Any]
    totals: dict[str, Any]
    checks: dict[str, Any]
    events: dict[str, float]
    unexplained_5xx: list[str]
    criteria: list[tuple[str, bool, str]]

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.criteria)


def phases_of(events: dict[str, float]) -> list[tuple[str, float, float]]:
    bounds = [
        ("steady", "start", "kill"),
        ("web1+worker1 SIGKILLed", "kill", "restart"),
        ("web1+worker1 restarted", "restart", "freeze"),
        ("Redis frozen (SIGSTOP)", "freeze", "thaw"),
        ("Redis resumed (SIGCONT)", "thaw", "pg restart"),
        ("PostgreSQL restart -m fast", "pg restart", "steady again"),
        ("steady again", "steady again", "load end"),
    ]
    return [(name, events[a], events[b]) for name, a, b in bounds]


def _phase(phases: list[PhaseFigures], instant: float) -> PhaseFigures | None:
    for phase in phases:
        if phase.start <= instant < phase.end:
            return phase
    return phases[-1] if instant >= phases[-1].end else None


def explain_5xx(entry: Access, events: dict[str, float]) -> str | None:
    """Why a 5xx is allowed, or None when it is not."""
    kill, freeze, thaw = events["kill"], events["freeze"], events["thaw"]
    pg_start, pg_up = events["pg restart"], events["pg up"]
    if (
        entry.status in (502, 504)
        and "web1" in [node_of(u) for u in entry.upstream.split(",")]
        and entry.began <= kill <= entry.ended + KILL_GRACE
        and entry.ended <= kill + KILL_GRACE + 0.5
    ):
        return "in flight on killed web1"
    if entry.status == 503 and entry.seconds <= UNAVAILABLE_LIMIT:
        if entry.ended >= freeze and entry.began <= thaw + THAW_GRACE:
            return "Redis frozen"
        if entry.ended >= pg_start and entry.began <= pg_up:
            return "PostgreSQL restarting"
    return None


def evaluate(
    result: LoadResult,
    events: dict[str, float],
    access_log: list[Access],
    checks: dict[str, Any],
) -> Verdict:
    phases = [PhaseFigures(name, a, b) for name, a, b in phases_of(events)]
    for flow in result.flows:
        phase = _phase(phases, flow.began)
        if phase is None:
            continue
        phase.flows += 1
        if flow.outcome == "OK":
            phase.ok += 1
            assert flow.ended is not None
            phase.seconds.append(flow.ended - flow.began)
        elif flow.outcome.startswith("TOLD"):
            phase.told[flow.outcome[5:]] += 1
        elif flow.outcome.startswith("INVALID"):
            phase.invalid += 1
        else:
            phase.lost += 1
        if flow.reread == "differs":
            phase.twice += 1
    for request in result.requests:
        if request.status is not None and request.status >= 500:
            phase = _phase(phases, request.began)
            if phase is not None:
                phase.rp_5xx[node_of(request.upstream)] += 1
    unexplained = []
    for entry in access_log:
        if entry.status >= 500:
            phase = _phase(phases, entry.began)
            if phase is not None:
                phase.all_5xx[entry.node] += 1
            if explain_5xx(entry, events) is None:
                unexplained.append(
                    f"{entry.status} {entry.method} {entry.uri} from {entry.node or 'nginx'} "
                    f"at +{entry.began - events['start']:.1f} s ({entry.seconds:.2f} s)"
                )

    recovery = {
        "web1+worker1 SIGKILL": _recovery(result.flows, events["kill"], events["kill"]),
        "Redis SIGCONT": _recovery(result.flows, events["freeze"], events["thaw"]),
        "PostgreSQL restart": _recovery(result.flows, events["pg restart"], events["pg restart"]),
    }
    freeze = _freeze_figures(result, access_log, events)
    lost = sum(p.lost for p in phases)
    invalid = sum(p.invalid for p in phases)
    twice_rp = sum(p.twice for p in phases)
    unread = sum(1 for f in result.flows if f.reread == "failed")
    totals: dict[str, Any] = {
        "flows": len(result.flows),
        "OK": sum(p.ok for p in phases),
        "told an error": sum(sum(p.told.values()) for p in phases),
        "lost": lost,
        "invalid": invalid,
        "completed twice (RP re-read)": twice_rp,
        "arrivals skipped (no free account)": result.skipped,
        "RP requests": len(result.requests),
        "requests through nginx": len(access_log),
    }
    web1_back = next(
        (
            e.ended - events["web1 ready"]
            for e in access_log
            if e.began >= events["web1 ready"] and e.node == "web1"
        ),
        None,
    )
    totals["web1 answering again after its restart"] = (
        f"{web1_back:.1f} s" if web1_back is not None else "never"
    )
    criteria = [
        ("no session lost", lost == 0, f"{lost} lost"),
        ("every OK signature valid", invalid == 0, f"{invalid} invalid"),
        (
            "none completed twice",
            twice_rp == 0 and unread == 0 and checks["sessions completed twice (database)"] == 0,
            f"{twice_rp} differ on re-read, {unread} not re-read, "
            f"{checks['sessions completed twice (database)']} in the database",
        ),
        (
            "no key revoked or flagged",
            checks["keys revoked or flagged"] == 0,
            f"{checks['keys revoked or flagged']} keys",
        ),  # fmt: skip
        (
            "both Celery workers answer at the end (worker1 rejoined)",
            checks["Celery workers answering"] == 2,
            f"{checks['Celery workers answering']} answered",
        ),
        ("audit chain intact", checks["audit chain"] == "intact", str(checks["audit chain"])[:200]),
        (
            "no 5xx but the killed node's in-flight requests and 503s of Redis/PostgreSQL",
            not unexplained,
            f"{len(unexplained)} unexplained",
        ),
        (
            "Redis frozen: 503 within 2 s, never a hang",
            freeze["hangs"] == 0 and freeze["slow 503"] == 0,
            f"{freeze['hangs']} hangs, {freeze['slow 503']} slow 503s",
        ),
    ]
    for fault, seconds in recovery.items():
        criteria.append(
            (
                f"recovery within {RECOVERY_LIMIT:.0f} s after {fault}",
                seconds is not None and seconds <= RECOVERY_LIMIT,
                "never" if seconds is None else f"{seconds:.1f} s",
            )
        )
    for phase in phases:
        if "frozen" not in phase.name:
            criteria.append(
                (f"flows succeed in phase '{phase.name}'", phase.ok > 0, f"{phase.ok} OK")
            )
    return Verdict(phases, recovery, freeze, totals, checks, events, unexplained, criteria)


def _recovery(flows: list[Flow], began: float, ended: float) -> float | None:
    """Seconds from the end of a fault to the first flow that ended OK after it among the
    flows started since the fault began (a session started while Redis was frozen and
    completed once it answered again counts: the platform served it)."""
    ends = [
        f.ended
        for f in flows
        if f.began >= began and f.outcome == "OK" and f.ended is not None and f.ended >= ended
    ]
    return min(ends) - ended if ends else None


def _freeze_figures(
    result: LoadResult, access_log: list[Access], events: dict[str, float]
) -> dict[str, Any]:
    freeze, thaw = events["freeze"], events["thaw"]
    during = [r for r in result.requests if freeze <= r.began < thaw]
    hangs = 0
    for request in during:
        bound = UNAVAILABLE_LIMIT + (request.timeout_ms / 1000 if request.what != "start" else 0)
        if request.status is None or request.ended - request.began > bound:
            hangs += 1
    unavailable = [r.ended - r.began for r in during if r.status == 503]
    proxied = [e for e in access_log if freeze <= e.began < thaw]
    for entry in proxied:  # the devices' requests too (the RP's are counted above)
        poll = any(marker in entry.uri for marker in LONG_POLL_MARKERS)
        if "/app/" in entry.uri and entry.seconds > UNAVAILABLE_LIMIT + (
            DEVICE_POLL_MS / 1000 if poll else 0
        ):
            hangs += 1
    all_503 = [e.seconds for e in proxied if e.status == 503]
    return {
        "RP requests begun": len(during),
        "RP 503": len(unavailable),
        "RP 503 max s": max(unavailable, default=0.0),
        "all requests begun": len(proxied),
        "all 503": len(all_503),
        "all 503 max s": max(all_503, default=0.0),
        "slow 503": sum(1 for s in all_503 if s > UNAVAILABLE_LIMIT),
        "hangs": hangs,
    }


def _pct(values: list[float], pct: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[max(0, math.ceil(len(ordered) * pct / 100) - 1)]:.2f}"


def _nodes(counter: Counter[str]) -> str:
    return " ".join(f"{node}:{n}" for node, n in sorted(counter.items())) or "0"


def render(verdict: Verdict, timings: dict[str, float], rate: float, seconds: float) -> str:
    t0 = verdict.events["start"]
    lines = ["", f"Multi-node test: {rate:g} flows/s (v2, v3 notification, v3 QR link in turn)", ""]
    header = (
        f"{'phase':28} {'from':>6} {'flows':>5} {'OK':>4} {'told':>4} {'lost':>4} "
        f"{'twice':>5} {'p50 s':>6} {'p95 s':>6}  {'RP 5xx':14} {'all 5xx (nginx)':18} told"
    )
    lines += [header, "-" * len(header)]
    for p in verdict.phases:
        told = ", ".join(f"{k} {v}" for k, v in p.told.most_common())
        lines.append(
            f"{p.name:28} {p.start - t0:>5.0f}s {p.flows:>5} {p.ok:>4} {sum(p.told.values()):>4} "
            f"{p.lost + p.invalid:>4} {p.twice:>5} {_pct(p.seconds, 50):>6} "
            f"{_pct(p.seconds, 95):>6}  {_nodes(p.rp_5xx):14} {_nodes(p.all_5xx):18} {told}"
        )
    lines.append("")
    lines.append("Totals: " + "; ".join(f"{k} {v}" for k, v in verdict.totals.items()))
    lines.append(
        "Recovery (fault's end to the first OK flow started since the fault began): "
        + "; ".join(
            f"{k} {'never' if v is None else f'{v:.1f} s'}" for k, v in verdict.recovery.items()
        )
    )
    fz, ev = verdict.freeze, verdict.events
    lines.append(
        f"Redis frozen {ev['thaw'] - ev['freeze']:.0f} s: RP requests {fz['RP requests begun']}, "
        f"503 {fz['RP 503']} (max {fz['RP 503 max s']:.2f} s); "
        f"all requests {fz['all requests begun']}, 503 {fz['all 503']} "
        f"(max {fz['all 503 max s']:.2f} s); hangs {fz['hangs']}"
    )
    lines.append(
        f"PostgreSQL restart -m fast took {ev['pg up'] - ev['pg restart']:.1f} s; "
        f"processes SIGKILLed on web1+worker1: {ev['killed processes']:.0f}; "
        f"drain after the load {ev['drained'] - ev['load end']:.1f} s"
    )
    lines.append("Database: " + "; ".join(f"{k} {v}" for k, v in verdict.checks.items()))
    lines.append(
        "Setup: "
        + "; ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        + f"; whole run {seconds:.0f} s"
    )
    if verdict.unexplained_5xx:
        lines.append("Unexplained 5xx:")
        lines += [f"  {line}" for line in verdict.unexplained_5xx[:30]]
    lines.append("")
    for name, ok, detail in verdict.criteria:
        lines.append(f"{'PASS' if ok else 'FAIL'}  {name} ({detail})")
    failed = sum(1 for _, ok, _ in verdict.criteria if not ok)
    lines.append("")
    lines.append("cluster-test: " + ("PASSED" if verdict.passed else "FAILED"))
    # The plain closing line CI reads: one per pass criterion.
    lines.append(f"cluster-test: {len(verdict.criteria) - failed} passed, {failed} failed")
    return "\n".join(lines)


def as_json(result: LoadResult, events: dict[str, float]) -> dict[str, Any]:
    return {
        "events": events,
        "flows": [asdict(f) for f in result.flows],
        "requests": [asdict(r) for r in result.requests],
    }
