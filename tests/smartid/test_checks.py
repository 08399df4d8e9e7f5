"""The project's system checks that are not about environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from smartid.checks import demo_app_check, metrics_check


def test_the_demo_app_is_refused_in_live(settings: Any) -> None:
    assert apps.is_installed("demo")  # the test settings install it, as every mode but live
    settings.IS_LIVE = True
    errors = demo_app_check(None)
    assert [error.id for error in errors] == ["smartid.E901"]
    assert "demo app is installed in live mode" in errors[0].msg


def test_the_demo_app_is_fine_outside_live(settings: Any) -> None:
    settings.IS_LIVE = False
    assert demo_app_check(None) == []


def test_metrics_folder_and_networks(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert metrics_check(None) == []
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert [e.id for e in metrics_check(None)] == ["smartid.E020"]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert metrics_check(None) == []
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "prometheus.example"]
    errors = metrics_check(None)
    assert [e.id for e in errors] == ["smartid.E021"]
    assert "prometheus.example" in errors[0].msg
