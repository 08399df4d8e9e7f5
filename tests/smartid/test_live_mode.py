"""Live mode refuses to start on any embedded default (docs/design.md §5).

Each case runs in a fresh interpreter with its data folder in ``tmp_path``
(tests/helpers/live_checks.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.live_checks import GOOD_LIVE, live_check, run_fresh


def test_fully_configured_live_mode_passes(tmp_path: Path) -> None:
    result = live_check(GOOD_LIVE, tmp_path)
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
        ({"SMARTID_FAULT_KILL_AT": "issuance:after-sign"}, "smartid.E009"),
        ({"SMARTID_PKCS11_PIN": None}, "smartid.E010"),
    ],
)
def test_each_embedded_default_is_refused(
    override: dict[str, str | None], error_id: str, tmp_path: Path
) -> None:
    result = live_check({**GOOD_LIVE, **override}, tmp_path)
    assert result.returncode != 0
    assert error_id in result.stderr


def test_missing_secret_key_stops_settings(tmp_path: Path) -> None:
    result = live_check({**GOOD_LIVE, "SECRET_KEY": None}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required" in result.stderr


def test_development_key_is_refused_even_when_given_explicitly(tmp_path: Path) -> None:
    from django.conf import settings

    result = live_check({**GOOD_LIVE, "SECRET_KEY": settings.DEV_SECRET_KEY}, tmp_path)
    assert result.returncode != 0
    assert "smartid.E002" in result.stderr


def test_asgi_application_refuses_to_load_on_embedded_defaults(tmp_path: Path) -> None:
    """The server process itself (not only manage.py) refuses an unsafe live start."""
    result = run_fresh(
        {"SMARTID_ENV": "live", "SECRET_KEY": "k" * 64},
        "-c",
        "import smartid.asgi",
        data_dir=tmp_path,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for error_id in ("smartid.E003", "smartid.E004", "smartid.E005"):
        assert error_id in result.stderr


def test_unknown_environment_name_is_refused(tmp_path: Path) -> None:
    result = live_check({"SMARTID_ENV": "production"}, tmp_path)
    assert result.returncode != 0
    assert "SMARTID_ENV must be one of" in result.stderr


def test_embedded_defaults_are_fine_outside_live(tmp_path: Path) -> None:
    result = live_check({"SMARTID_ENV": "demo"}, tmp_path)
    assert result.returncode == 0, result.stderr
