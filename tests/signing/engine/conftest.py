"""Fixtures for the engine tests (plain pytest: no Django needed)."""

from __future__ import annotations

import pytest

from tests.signing.engine.helpers import SplitKey, fixed_key


@pytest.fixture(scope="session", params=[2048, 2047], ids=["n2048", "n2047"])
def small_key(request: pytest.FixtureRequest) -> SplitKey:
    """1024+1024 split keys with |n| = 2L and |n| = 2L − 1."""
    n_bits: int = request.param
    return fixed_key(1024, n_bits)


@pytest.fixture(scope="session")
def key1024() -> SplitKey:
    return fixed_key(1024, 2048)


@pytest.fixture(scope="session", params=[6144, 6143], ids=["n6144", "n6143"])
def full_key(request: pytest.FixtureRequest) -> SplitKey:
    """Full-size 3072+3072 split keys (|n| = 6144 and 6143)."""
    n_bits: int = request.param
    return fixed_key(3072, n_bits)
