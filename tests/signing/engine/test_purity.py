"""The engine is pure: no Django, no clock, no network, and no builtin pow (STYLE #6)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import signing.engine

ENGINE = Path(signing.engine.__file__).parent
ROOT = ENGINE.parent.parent
MODULES = sorted(p.stem for p in ENGINE.glob("*.py") if p.stem != "__init__")

FORBIDDEN_IMPORTS = {
    "django",
    "time",
    "socket",
    "urllib",
    "http",
    "requests",
    "httpx",
    "sqlite3",
    "random",
}


def test_importing_the_engine_loads_no_django() -> None:
    imports = "; ".join(f"import signing.engine.{name}" for name in MODULES)
    code = (
        "import sys; import signing.engine; "
        + imports
        + "; bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'));"
        " print(len(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "0"
    assert len(MODULES) >= 8  # errors, modexp, encoding, client, server, clone, lockout, protocol


def _engine_trees() -> list[tuple[str, ast.Module]]:
    return [(p.name, ast.parse(p.read_text())) for p in sorted(ENGINE.glob("*.py"))]


def test_engine_sources_import_nothing_impure() -> None:
    for name, tree in _engine_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & FORBIDDEN_IMPORTS, (name, roots)


def test_engine_never_calls_builtin_pow_and_never_reads_the_clock() -> None:
    for name, tree in _engine_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "pow", name
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"now", "utcnow", "today", "time"}, name


def test_every_module_has_future_annotations() -> None:
    for name, tree in _engine_trees():
        futures = [
            node
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module == "__future__"
        ]
        assert futures and futures[0].names[0].name == "annotations", name
