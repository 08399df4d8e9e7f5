"""What every Atheris harness of ``fuzz/`` shares: import paths, Django, the fuzz loop.

A harness is ``fuzz/<name>.py`` with ``test_one_input(data: bytes) -> None``: it feeds the
bytes to one parser and re-raises anything the parser does not promise to raise, which
Atheris reports as a crash (with the input saved as ``crash-<sha1>``). ``fuzz/run.py``
runs them with the limits of docs/fuzzing.md (1 s per input, 512 MB RSS).
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The clock of every harness: a fixed moment, so that a crash replays exactly.
NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)


def django_setup() -> None:
    """Settings for the harnesses that need Django (test mode; no database is touched)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartid.settings")
    os.environ.setdefault("SMARTID_ENV", "test")
    data_dir = Path(os.environ.setdefault("SMARTID_DATA_DIR", str(ROOT / "var" / "fuzz")))
    data_dir.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def fuzz(test_one_input: Callable[[bytes], None]) -> None:
    """Hand ``sys.argv`` (libFuzzer flags, corpus folders) to Atheris and fuzz."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
