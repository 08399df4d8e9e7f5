from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from smartid.env import env_bool, env_choice, env_int, env_list, env_secret


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on"])
def test_bool_true_spellings(raw: str) -> None:
    assert env_bool("X", False, environ={"X": raw}) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off"])
def test_bool_false_spellings(raw: str) -> None:
    assert env_bool("X", True, environ={"X": raw}) is False


def test_bool_default_when_unset_or_empty() -> None:
    assert env_bool("X", True, environ={}) is True
    assert env_bool("X", False, environ={"X": ""}) is False


@pytest.mark.parametrize("raw", ["2", "y", "enabled", "truee"])
def test_bool_rejects_anything_else(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="X must be a boolean"):
        env_bool("X", False, environ={"X": raw})


def test_int_bounds_and_garbage() -> None:
    assert env_int("N", 5, environ={"N": "7"}, minimum=1, maximum=9) == 7
    with pytest.raises(ImproperlyConfigured):
        env_int("N", 5, environ={"N": "10"}, minimum=1, maximum=9)
    with pytest.raises(ImproperlyConfigured):
        env_int("N", 5, environ={"N": "seven"})


def test_list_drops_blanks() -> None:
    assert env_list("L", ["d"], environ={"L": "a, b,,c "}) == ["a", "b", "c"]
    assert env_list("L", ["d"], environ={}) == ["d"]


def test_choice_is_case_insensitive_and_closed() -> None:
    assert env_choice("E", ("dev", "live"), "dev", environ={"E": "LIVE"}) == "live"
    with pytest.raises(ImproperlyConfigured, match="must be one of"):
        env_choice("E", ("dev", "live"), "dev", environ={"E": "prod"})


def test_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cr3t\n", encoding="utf-8")
    assert env_secret("K", environ={"K_FILE": str(secret_file)}) == "s3cr3t"


def test_secret_both_forms_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("K", environ={"K": "a", "K_FILE": str(tmp_path / "x")})


def test_secret_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        env_secret("K", environ={"K_FILE": str(tmp_path / "missing")})
