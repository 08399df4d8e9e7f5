"""Running the system checks in a fresh interpreter (settings are read once per process),
with the environment of a live installation and a data folder of the test's own: what the
demo left in ``var/`` (a synthetic CSCA from ``make_passport``) never decides an outcome."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: A live installation with nothing embedded: the checks pass on it.
GOOD_LIVE: dict[str, str | None] = {
    "SMARTID_ENV": "live",
    "SECRET_KEY": "k" * 64,
    "DATABASE_URL": "postgresql://smartid@127.0.0.1:5432/smartid",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SMARTID_KEYSTORE": "pkcs11",
    "SMARTID_PKCS11_PIN": "1234",
    "ALLOWED_HOSTS": "eid.example.org",
}


def run_fresh(
    env_overrides: Mapping[str, str | None], *args: str, data_dir: Path
) -> subprocess.CompletedProcess[str]:
    """``python *args`` in the project folder with only these settings and this data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTID_", "DJANGO_"))}
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "CELERY_BROKER_URL"):
        env.pop(name, None)
    # Every path the settings derive from the data folder, unless a test names one.
    for name in ("EMRTD_CSCA_PATH", "EMRTD_TEST_CSCA_DIR", "EMAIL_FILE_PATH", "STATIC_ROOT"):
        env.pop(name, None)
    env["SMARTID_DATA_DIR"] = str(data_dir)
    for key, value in env_overrides.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def live_check(
    env_overrides: Mapping[str, str | None], data_dir: Path
) -> subprocess.CompletedProcess[str]:
    """``manage.py check --tag smartid`` (the project's own checks)."""
    return run_fresh(env_overrides, "manage.py", "check", "--tag", "smartid", data_dir=data_dir)
