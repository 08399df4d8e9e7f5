"""Reading locust's CSV files, the latency plot (PNG) and the summary of one run."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One line of locust's ``<prefix>_stats.csv`` (times in ms)."""

    kind: str
    name: str
    count: int
    failures: int
    rate: float
    p50: float
    p95: float
    p99: float
    maximum: float


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A"
        return math.nan


def stats(prefix: Path) -> list[Row]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return [
            Row(
                kind=line["Type"],
                name=line["Name"],
                count=int(line["Request Count"]),
                failures=int(line["Failure Count"]),
                rate=_number(line["Requests/s"]),
                p50=_number(line["50%"]),
                p95=_number(line["95%"]),
                p99=_number(line["99%"]),
                maximum=_number(line["Max Response Time"]),
            )
            for line in csv.DictReader(handle)
        ]


def failures(prefix: Path) -> list[tuple[str, str, int]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [
            (line["Name"], line["Error"], int(line["Occurrences"]))
            for line in csv.DictReader(handle)
        ]


def history(prefix: Path) -> dict[str, list[dict[str, float]]]:
    """Per request name, locust's 10-s-window percentiles and rates over time."""
    series: dict[str, list[dict[str, float]]] = {}
    with open(f"{prefix}_stats_history.csv", newline="") as handle:
        for line in csv.DictReader(handle):
            series.setdefault(line["Name"], []).append(
                {
                    "t": _number(line["Timestamp"]),
                    "rate": _number(line["Requests/s"]),
                    "failures": _number(line["Failures/s"]),
                    "p50": _number(line["50%"]),
                    "p95": _number(line["95%"]),
                    "p99": _number(line["99%"]),
                }
            )
    return series


def plot(
    path: Path,
    title: str,
    prefix: Path,
    latency_names: list[str],
    rate_names: list[str],
    samples: list[dict[str, float]],
) -> None:
    """Four panels over the run's time: p50/p95/p99 of ``latency_names`` (locust's rolling
    10-s window), requests/s of ``rate_names``, the server's RSS, open connections."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = history(prefix)
    start = min((p["t"] for rows in series.values() for p in rows), default=0.0)
    figure, (lat, rate, rss, conns) = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    styles = {"p50": "-", "p95": "--", "p99": ":"}
    for index, name in enumerate(latency_names):
        rows = series.get(name, [])
        for pct, style in styles.items():
            lat.plot(
                [(r["t"] - start) / 60 for r in rows],
                [r[pct] for r in rows],
                style,
                color=f"C{index}",
                label=f"{name} {pct}",
            )
    lat.set_ylabel("latency, ms")
    lat.set_yscale("log")
    lat.legend(fontsize=7, ncol=2)
    lat.set_title(title)
    for index, name in enumerate(rate_names):
        rows = series.get(name, [])
        minutes = [(r["t"] - start) / 60 for r in rows]
        rate.plot(minutes, [r["rate"] for r in rows], color=f"C{index}", label=f"{name} /s")
        rate.plot(
            minutes, [r["failures"] for r in rows], ":", color=f"C{index}", label=f"{name} fail/s"
        )
    rate.set_ylabel("per second")
    rate.legend(fontsize=7)
    minutes = [(s["t"] - start) / 60 for s in samples]
    rss.plot(minutes, [s["server_rss"] / 2**20 for s in samples], label="server (uvicorn tree)")
    rss.plot(minutes, [s["locust_rss"] / 2**20 for s in samples], label="locust")
    rss.set_ylabel("RSS, MiB")
    rss.legend(fontsize=7)
    conns.plot(minutes, [s["connections"] for s in samples], label="established to the server")
    conns.set_ylabel("connections")
    conns.set_xlabel("minutes")
    conns.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
