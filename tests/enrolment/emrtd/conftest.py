"""Fixtures for the eMRTD tests: a real photo, the test CSCA, and Alice's passports."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from demo import passports as synthetic
from enrolment.emrtd import CscaTrustStore, PassiveAuthResult, passive_authenticate

#: The moment of every check; the test CSCA and DSCs are valid around the real "now".
NOW = datetime.datetime.now(datetime.UTC)
ALICE = {
    "surname": "Tamm",
    "given_names": "Alice Mari",
    "document_number": "KF1234567",
    "personal_code": "48001085718",
    "nationality": "EST",
    "date_of_birth": datetime.date(1980, 1, 8),
    "sex": "F",
    "expiry_date": datetime.date(2031, 5, 31),
}


@pytest.fixture(scope="session")
def photo_jpeg() -> bytes:
    """Eileen Collins (scikit-image's ``astronaut``, public domain) as a passport-size JPEG."""
    from skimage import data

    buffer = io.BytesIO()
    pixels = data.astronaut()  # type: ignore[no-untyped-call]  # scikit-image is untyped
    Image.fromarray(pixels).save(buffer, format="PNG")
    return synthetic.photo_to_jpeg(buffer.getvalue())


@pytest.fixture(scope="session")
def csca() -> synthetic.TestCsca:
    return synthetic.test_csca("EE")


@pytest.fixture(scope="session")
def store(csca: synthetic.TestCsca) -> CscaTrustStore:
    return CscaTrustStore.from_certificates([csca.certificate])


MakePassport = Callable[..., synthetic.SyntheticPassport]


@pytest.fixture(scope="session")
def make(csca: synthetic.TestCsca, photo_jpeg: bytes) -> MakePassport:
    """Alice's passport; keyword arguments override her data or the algorithms."""

    def make(**overrides: Any) -> synthetic.SyntheticPassport:
        arguments: dict[str, Any] = {**ALICE, "csca": csca, "photo_jpeg": photo_jpeg}
        return synthetic.make_passport(**(arguments | overrides))

    return make


def check(
    passport: synthetic.SyntheticPassport,
    store: CscaTrustStore,
    *,
    at: datetime.datetime = NOW,
) -> PassiveAuthResult:
    return passive_authenticate(
        sod=passport.sod, data_groups=passport.data_groups, trust_store=store, at=at
    )
