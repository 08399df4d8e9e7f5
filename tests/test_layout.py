"""The house rules of the layout that a reader relies on (docs/architecture.md "Layers").

The layer contracts themselves are import-linter's (``lint-imports`` in ``make test``);
these tests add what it does not check: no import cycle between files, no product module
over 800 lines, and that nothing but the demo imports the demo's test doubles.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = (
    "core",
    "smartid",
    "accounts",
    "audit",
    "signing",
    "pki",
    "enrolment",
    "api",
    "portal",
    "ra_office",
    "device",
    "demo",
)
MAX_MODULE_LINES = 800


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    if str(ROOT) not in sys.path:  # pragma: no cover -- pytest puts the root there
        sys.path.insert(0, str(ROOT))
    # Imports under `if TYPE_CHECKING:` never run, so they cannot form a runtime cycle.
    return grimp.build_graph(*PRODUCT_PACKAGES, exclude_type_checking_imports=True, cache_dir=None)


def _cycles(adjacency: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, iter(sorted(adjacency[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adjacency.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_files(graph: grimp.ImportGraph) -> None:
    adjacency = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(adjacency) == []


def test_no_product_module_over_800_lines() -> None:
    too_long = {}
    for package in PRODUCT_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                too_long[str(path.relative_to(ROOT))] = lines
    assert too_long == {}


def test_only_the_demo_imports_the_demo(graph: grimp.ImportGraph) -> None:
    importers = {
        m
        for m in graph.find_downstream_modules("demo", as_package=True)
        if m.split(".")[0] != "demo"
    }
    assert importers == set()
