"""Live mode refuses to start on any embedded default (DESIGN.md §5).

Each case runs in a fresh interpreter, because settings are read once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A folder that does not exist: nothing in it (the checks create nothing).
EMPTY_DATA_DIR = Path(tempfile.gettempdir()) / f"smartid-live-mode-{os.getpid()}-empty"

GOOD_LIVE: dict[str, str | None] = {
    "SMARTID_ENV": "live",
    "SECRET_KEY": "k" * 64,
    "DATABASE_URL": "postgresql://smartid@127.0.0.1:5432/smartid",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SMARTID_KEYSTORE": "pkcs11",
    "SMARTID_PKCS11_PIN": "1234",
    "ALLOWED_HOSTS": "eid.example.org",
}


def _run(env_overrides: Mapping[str, str | None], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTID_", "DJANGO_"))}
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "CELERY_BROKER_URL"):
        env.pop(name, None)
    # An empty data folder, never the demo's var/ (make_passport leaves its synthetic CSCA
    # there, which live refuses): these cases are about the environment variables only.
    env["SMARTID_DATA_DIR"] = str(EMPTY_DATA_DIR)
    for key, value in env_overrides.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def _check(env_overrides: Mapping[str, str | None]) -> subprocess.CompletedProcess[str]:
    return _run(env_overrides, "manage.py", "check", "--tag", "smartid")


def test_fully_configured_live_mode_passes() -> None:
    result = _check(GOOD_LIVE)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "error_id"),
    [
        ({"SMARTID_DEBUG": "true"}, "smartid.E001"),
        ({"SECRET_KEY": "short"}, "smartid.E002"),
        ({"DATABASE_URL": None}, "smartid.E003"),
        ({"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "smartid.E003"),
        ({"REDIS_URL": None}, "smartid.E004"),
        ({"SMARTID_KEYSTORE": "file"}, "smartid.E005"),
        ({"ALLOWED_HOSTS": None}, "smartid.E006"),
        ({"SMARTID_PKCS11_PIN": None}, "smartid.E010"),
    ],
)
def test_each_embedded_default_is_refused(override: dict[str, str | None], error_id: str) -> None:
    result = _check({**GOOD_LIVE, **override})
    assert result.returncode != 0
    assert error_id in result.stderr


def test_missing_secret_key_stops_settings() -> None:
    result = _check({**GOOD_LIVE, "SECRET_KEY": None})
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required" in result.stderr


def test_development_key_is_refused_even_when_given_explicitly() -> None:
    from django.conf import settings

    result = _check({**GOOD_LIVE, "SECRET_KEY": settings.DEV_SECRET_KEY})
    assert result.returncode != 0
    assert "smartid.E002" in result.stderr


def test_asgi_application_refuses_to_load_on_embedded_defaults() -> None:
    """The server process itself (not only manage.py) refuses an unsafe live start."""
    result = _run({"SMARTID_ENV": "live", "SECRET_KEY": "k" * 64}, "-c", "import smartid.asgi")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for error_id in ("smartid.E003", "smartid.E004", "smartid.E005"):
        assert error_id in result.stderr


def test_unknown_environment_name_is_refused() -> None:
    result = _check({"SMARTID_ENV": "production"})
    assert result.returncode != 0
    assert "SMARTID_ENV must be one of" in result.stderr


def test_embedded_defaults_are_fine_outside_live() -> None:
    result = _check({"SMARTID_ENV": "demo"})
    assert result.returncode == 0, result.stderr
