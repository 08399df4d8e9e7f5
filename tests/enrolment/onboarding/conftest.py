"""Remote onboarding fixtures: a platform (tests/conftest.py) with a test CSCA, Alice in the
population registry, and her passport and selfie frames (helpers: tests/helpers/passports.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import cache
from PIL import Image

from demo.passports import TestCsca, test_csca
from demo.registry import demo_registry_load
from demo.selfies import selfie_frames as make_selfie_frames
from tests import factories
from tests.helpers.images import jpeg
from tests.helpers.passports import Evidence, make_passport, write_selfies
from tests.personas import ALICE


@pytest.fixture(scope="session")
def alice_jpeg(alice_photo: Image.Image) -> bytes:
    """Alice's photo as her passport's (and her selfies') JPEG."""
    return jpeg(alice_photo)


@pytest.fixture(scope="session")
def bob_jpeg(bob_photo: Image.Image) -> bytes:
    """Bob's face, as a passport photo."""
    return jpeg(bob_photo)


@pytest.fixture(scope="session")
def csca() -> TestCsca:
    return test_csca("EE")


@pytest.fixture
def csca_folder(tmp_path: Path, csca: TestCsca, settings: Any) -> Path:
    folder = tmp_path / "csca"
    folder.mkdir()
    (folder / "ee.pem").write_bytes(csca.certificate.public_bytes(serialization.Encoding.PEM))
    settings.EMRTD_CSCA_PATH = folder
    return folder


@pytest.fixture(scope="session")
def selfie_frames(alice_jpeg: bytes) -> dict[str, list[bytes]]:
    return make_selfie_frames(alice_jpeg, per_pose=4)


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    """The start throttle counts per address; every test starts from 127.0.0.1."""
    cache.clear()
    yield


@pytest.fixture
def registry(db: None) -> Iterator[None]:
    """The demo registry (its variants: deceased, lost document…) and Alice, with the
    e-mail address the one-time code goes to."""
    demo_registry_load(actor="test")
    factories.registry_person(ALICE)
    yield


@pytest.fixture
def evidence(
    tmp_path: Path,
    csca: TestCsca,
    csca_folder: Path,
    alice_jpeg: bytes,
    selfie_frames: dict[str, list[bytes]],
) -> Evidence:
    passport = tmp_path / "passport.json"
    make_passport(csca, alice_jpeg).write(passport)
    return Evidence(passport, write_selfies(tmp_path / "selfies", selfie_frames))
