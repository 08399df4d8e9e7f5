"""Run every Atheris harness of fuzz/ for N seconds; fail on a crash, a slow input or OOM.

    .venv/bin/python fuzz/run.py [--seconds N] [harness ...]

Each harness runs in its own process with libFuzzer's limits: ``-timeout=1`` (an input
that takes over 1 s is a failure), ``-rss_limit_mb=512`` (so is a process over 512 MB),
``-max_total_time=N``. It starts from the committed seeds (fuzz/corpus/<harness>/) copied
into var/fuzz/corpus/<harness>/, where the inputs it finds accumulate across runs; a
failing input is saved under var/fuzz/artifacts/<harness>/ (crash-…, timeout-…, oom-…).
Replay one with ``.venv/bin/python fuzz/<harness>.py <file>``. Exit status 1 if any
harness failed. ``make fuzz`` runs every harness for 10 minutes.

A ``slow-unit-…`` artifact with exit status 0 is libFuzzer's report of an input whose run
took over 10 s of wall time without its 1-s timeout firing: the mark of a process that was
stopped (a stalled or overloaded machine), since an input that is itself slow dies with
``timeout-…``. Such an input is replayed alone; if it runs within the timeout it is
reported as a stall and does not fail the run, otherwise it fails as a slow input.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HARNESSES = ("emrtd_sod", "emrtd_dg", "emrtd_mrz", "csr", "rp_api_json", "webeid_token")
TIMEOUT_SECONDS = 1
RSS_LIMIT_MB = 512


@dataclass(frozen=True)
class Outcome:
    harness: str
    returncode: int
    executions: int
    peak_rss_mb: int
    seconds: float
    artifacts: tuple[str, ...]

    stalls: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.artifacts


def replay_ms(harness: str, unit: Path, folder: Path = HERE) -> int | None:
    """How long one input takes alone (libFuzzer's "Executed … in N ms"), or None if the
    replay crashed or timed out."""
    done = subprocess.run(  # noqa: S603 -- our own interpreter and harness
        [sys.executable, str(folder / f"{harness}.py"), str(unit), f"-timeout={TIMEOUT_SECONDS}"],
        cwd=ROOT,
        env=dict(os.environ, SMARTID_ENV=os.environ.get("SMARTID_ENV", "test")),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    found = re.findall(r"Executed .* in (\d+) ms", done.stdout + done.stderr)
    return int(found[-1]) if done.returncode == 0 and found else None


def stalled_units(harness: str, artifacts: Path, folder: Path = HERE) -> tuple[str, ...]:
    """The slow-unit artifacts that run within the timeout alone (moved out of the way)."""
    stalls = []
    for unit in sorted(artifacts.glob("slow-unit-*")):
        took = replay_ms(harness, unit, folder)
        if took is not None and took <= TIMEOUT_SECONDS * 1000:
            stalled = artifacts.parent.parent / "stalls" / harness
            stalled.mkdir(parents=True, exist_ok=True)
            unit.replace(stalled / unit.name)
            stalls.append(f"{unit.name} ({took} ms alone)")
    return tuple(stalls)


def _stat(output: str, name: str) -> int:
    found = re.findall(rf"stat::{name}:\s+(\d+)", output)
    return int(found[-1]) if found else 0


def run_one(harness: str, seconds: int, work: Path, folder: Path = HERE) -> Outcome:
    seeds = folder / "corpus" / harness
    corpus = work / "corpus" / harness
    artifacts = work / "artifacts" / harness
    corpus.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    for seed in seeds.iterdir() if seeds.is_dir() else ():
        shutil.copyfile(seed, corpus / seed.name)
    command = [
        sys.executable,
        str(folder / f"{harness}.py"),
        str(corpus),
        f"-max_total_time={seconds}",
        f"-timeout={TIMEOUT_SECONDS}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
    ]
    env = dict(os.environ, SMARTID_ENV=os.environ.get("SMARTID_ENV", "test"))
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 -- our own interpreter and harness
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    stalls = stalled_units(harness, artifacts, folder) if done.returncode == 0 else ()
    found = tuple(sorted(p.name for p in artifacts.iterdir()))
    if done.returncode != 0 or found:
        sys.stderr.write(output[-6000:])
    return Outcome(
        harness=harness,
        returncode=done.returncode,
        executions=_stat(output, "number_of_executed_units"),
        peak_rss_mb=_stat(output, "peak_rss_mb"),
        seconds=time.monotonic() - started,
        artifacts=found,
        stalls=stalls,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="per harness (default 30)")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "fuzz")
    parser.add_argument("--dir", type=Path, default=HERE, help="where the harnesses are")
    parser.add_argument("harnesses", nargs="*", help=f"default: all ({', '.join(HARNESSES)})")
    options = parser.parse_args(argv)
    missing = [h for h in options.harnesses if not (options.dir / f"{h}.py").is_file()]
    if missing:
        parser.error(f"no such harness: {', '.join(missing)}")
    outcomes = []
    for harness in options.harnesses or HARNESSES:
        outcome = run_one(harness, options.seconds, options.work, options.dir.resolve())
        outcomes.append(outcome)
        verdict = "ok" if outcome.ok else f"FAILED (exit {outcome.returncode})"
        print(
            f"{harness:14} {verdict:18} {outcome.executions:>9} inputs "
            f"{outcome.peak_rss_mb:>5} MB peak RSS {outcome.seconds:6.1f} s"
            + (f"  {', '.join(outcome.artifacts)}" if outcome.artifacts else "")
            + (f"  stalled, not slow: {', '.join(outcome.stalls)}" if outcome.stalls else ""),
            flush=True,
        )
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
