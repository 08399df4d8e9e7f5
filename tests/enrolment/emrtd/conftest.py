"""Fixtures for the eMRTD tests: Alice's photo, the test CSCA, and Alice's passports
(helpers: tests/helpers/passports.py)."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from demo import passports as synthetic
from enrolment.emrtd import CscaTrustStore
from tests.helpers.images import png
from tests.helpers.passports import ALICE_PASSPORT, MakePassport


@pytest.fixture(scope="session")
def photo_jpeg(alice_photo: Image.Image) -> bytes:
    """Alice's photo as a passport-size JPEG."""
    return synthetic.photo_to_jpeg(png(alice_photo))


@pytest.fixture(scope="session")
def csca() -> synthetic.TestCsca:
    return synthetic.test_csca("EE")


@pytest.fixture(scope="session")
def store(csca: synthetic.TestCsca) -> CscaTrustStore:
    return CscaTrustStore.from_certificates([csca.certificate])


@pytest.fixture(scope="session")
def make(csca: synthetic.TestCsca, photo_jpeg: bytes) -> MakePassport:
    """Alice's passport; keyword arguments override her data or the algorithms."""

    def make(**overrides: Any) -> synthetic.SyntheticPassport:
        arguments: dict[str, Any] = {**ALICE_PASSPORT, "csca": csca, "photo_jpeg": photo_jpeg}
        return synthetic.make_passport(**(arguments | overrides))

    return make
