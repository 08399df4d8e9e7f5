"""The passport file format (openeid-passport-1) and the package's purity."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import enrolment.emrtd
from demo import passports as synthetic
from enrolment.emrtd import CscaTrustStore, EmrtdError, PassportFile
from tests.helpers.passports import MakePassport, check

PACKAGE = Path(enrolment.emrtd.__file__).parent
ROOT = PACKAGE.parent.parent


def test_round_trip_through_the_file(
    tmp_path: Path, make: MakePassport, store: CscaTrustStore
) -> None:
    passport = make(aa="ec")
    path = tmp_path / "alice.json"
    passport.write(path)
    assert path.stat().st_mode & 0o077 == 0  # it holds the chip's private key
    loaded = PassportFile.load(path)
    assert loaded.sod == passport.sod
    assert loaded.data_groups == passport.data_groups
    again = synthetic.SyntheticPassport(loaded.sod, loaded.data_groups, None)
    assert check(again, store).mrz.surname == "TAMM"


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"format": "other"},
        {"format": "openeid-passport-1", "sod": 5, "dg": {}},
        {"format": "openeid-passport-1", "sod": "!!", "dg": {"1": "AA=="}},
        {"format": "openeid-passport-1", "sod": "AA==", "dg": {}},
        {"format": "openeid-passport-1", "sod": "AA==", "dg": {"x": "AA=="}},
        {"format": "openeid-passport-1", "sod": "AA==", "dg": {"17": "AA=="}},
        {"format": "openeid-passport-1", "sod": "AA==", "dg": {"1": "A" * 1000}},
    ],
)
def test_bad_documents_are_malformed(document: object) -> None:
    with pytest.raises(EmrtdError) as caught:
        PassportFile.from_json(document)
    assert caught.value.code == "malformed"


def test_bad_files_are_malformed(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b"\xff not json")
    with pytest.raises(EmrtdError):
        PassportFile.load(path)
    path.write_text("[" * 100_000)
    with pytest.raises(EmrtdError):
        PassportFile.load(path)
    path.write_text(json.dumps({"format": "openeid-passport-1", "sod": "A" * 3_000_000}))
    with pytest.raises(EmrtdError):
        PassportFile.load(path)


def test_importing_the_package_loads_no_django() -> None:
    code = (
        "import sys, enrolment.emrtd, demo.passports; "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_imports_django_or_reads_the_network() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & {"django", "smartid", "socket", "httpx", "urllib"}, path.name
