"""The Atheris harnesses of fuzz/: each runs 30 s without a crash, a slow input or OOM.

Marked ``fuzz``: CI runs it with the rest of the suite (3 minutes for the six harnesses);
skip it locally with ``-m 'not fuzz'``. ``make fuzz`` runs the same harnesses 10 minutes
each. Every crash the fuzzers found has a regression test next to its parser's tests.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESSES = ("emrtd_sod", "emrtd_dg", "emrtd_mrz", "csr", "rp_api_json", "webeid_token")
SECONDS = 30


def _run(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 -- our own interpreter and script
        [sys.executable, str(ROOT / "fuzz" / "run.py"), "--work", str(tmp_path), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=len(HARNESSES) * (SECONDS + 90),
    )


def test_the_runner_knows_every_harness_and_each_has_seeds() -> None:
    on_disk = {p.stem for p in (ROOT / "fuzz").glob("*.py")} - {"_harness", "run", "make_corpus"}
    assert on_disk == set(HARNESSES)
    for name in HARNESSES:
        assert any((ROOT / "fuzz" / "corpus" / name).iterdir()), name


BROKEN_HARNESS = """
import sys, time
import atheris

def test_one_input(data):
    if data.startswith(b"!"):
        raise RuntimeError("a parser bug")
    if data.startswith(b"~"):
        time.sleep(3)

atheris.Setup(sys.argv, test_one_input)
atheris.Fuzz()
"""


@pytest.mark.parametrize(("seed", "artifact"), [(b"!", "crash-"), (b"~", "timeout-")])
def test_a_crash_or_a_slow_input_fails_the_runner(
    tmp_path: Path, seed: bytes, artifact: str
) -> None:
    """The runner is not a check that cannot fail: an exception, or an input slower than
    1 s, turns it red and leaves the input behind."""
    (tmp_path / "broken.py").write_text(BROKEN_HARNESS)
    (tmp_path / "corpus" / "broken").mkdir(parents=True)
    (tmp_path / "corpus" / "broken" / "seed").write_bytes(seed + b"x")
    done = _run(tmp_path / "work", "--dir", str(tmp_path), "--seconds", "20", "broken")
    assert done.returncode == 1
    assert re.search(r"^broken\s+FAILED", done.stdout, re.MULTILINE), done.stdout
    found = [p.name for p in (tmp_path / "work" / "artifacts" / "broken").iterdir()]
    assert len(found) == 1 and found[0].startswith(artifact), found


@pytest.mark.fuzz
def test_every_harness_runs_30_seconds_clean(tmp_path: Path) -> None:
    done = _run(tmp_path, "--seconds", str(SECONDS))
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    for name in HARNESSES:
        line = re.search(rf"^{name}\s+ok\s+(\d+) inputs\s+(\d+) MB", done.stdout, re.MULTILINE)
        assert line is not None, done.stdout
        assert int(line.group(1)) > 0 and int(line.group(2)) < 512, line.group(0)


def test_a_slow_unit_that_runs_fast_alone_is_a_stall_not_a_failure(tmp_path: Path) -> None:
    """libFuzzer reports an input whose run took over 10 s of wall time without its 1-s
    timeout firing as a slow unit: a stopped process. The runner replays it alone; a fast
    one is put aside as a stall, a slow one stays a failure."""
    spec = importlib.util.spec_from_file_location("fuzz_run", ROOT / "fuzz" / "run.py")
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_run"] = runner  # its dataclasses look their module up
    spec.loader.exec_module(runner)
    (tmp_path / "broken.py").write_text(BROKEN_HARNESS)
    artifacts = tmp_path / "work" / "artifacts" / "broken"
    artifacts.mkdir(parents=True)
    (artifacts / "slow-unit-fast").write_bytes(b"ax")
    (artifacts / "slow-unit-slow").write_bytes(b"~x")  # sleeps 3 s: over the timeout

    stalls = runner.stalled_units("broken", artifacts, tmp_path)

    assert [s.split(" ")[0] for s in stalls] == ["slow-unit-fast"]
    assert [p.name for p in artifacts.iterdir()] == ["slow-unit-slow"]  # still a failure
    assert (tmp_path / "work" / "stalls" / "broken" / "slow-unit-fast").exists()
