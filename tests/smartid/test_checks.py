"""The project's system checks that are not about environment variables."""

from __future__ import annotations

from typing import Any

from django.apps import apps

from smartid.checks import demo_app_check


def test_the_demo_app_is_refused_in_live(settings: Any) -> None:
    assert apps.is_installed("demo")  # the test settings install it, as every mode but live
    settings.IS_LIVE = True
    errors = demo_app_check(None)
    assert [error.id for error in errors] == ["smartid.E901"]
    assert "demo app is installed in live mode" in errors[0].msg


def test_the_demo_app_is_fine_outside_live(settings: Any) -> None:
    settings.IS_LIVE = False
    assert demo_app_check(None) == []
