"""A platform with a test CSCA, a synthetic passport and selfie frames for onboarding."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from demo.registry import demo_registry_load
from device.onboarding import POSE_FILES
from enrolment.models import RegistryPerson
from tests.signing.conftest import PIN1, PIN2, Platform, platform  # noqa: F401 -- fixture

# Tiina Saar of the demo registry (enrolment/registry.py), with a contact for the code.
TIINA: dict[str, Any] = {
    "semantics_identifier": "PNOEE-47101010033",
    "personal_code": "47101010033",
    "surname": "SAAR",
    "given_names": "TIINA",
    "date_of_birth": date(1971, 1, 1),
    "email": "tiina.saar@example.test",
}
__all__ = ["PIN1", "PIN2", "Platform", "platform"]


def _jpeg(array: Any, quality: int = 90) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format="JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="session")
def astronaut_jpeg() -> bytes:
    """Eileen Collins (scikit-image ships the photo): the passport holder of the tests."""
    from skimage import data

    return _jpeg(data.astronaut())  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def other_face_jpeg() -> bytes:
    """Another real person: the man in opencv-doc's basketball1.png (Charlie of the
    biometrics tests), as a passport photo.
    """
    from tests.enrolment.biometrics.conftest import jpeg, opencv_face

    return jpeg(opencv_face("basketball1.png", (20, 40, 170, 190)))


@pytest.fixture(scope="session")
def csca() -> Any:
    from demo.passports import test_csca

    return test_csca("EE")


@pytest.fixture
def csca_folder(tmp_path: Path, csca: Any, settings: Any) -> Path:
    folder = tmp_path / "csca"
    folder.mkdir()
    (folder / "ee.pem").write_bytes(csca.certificate.public_bytes(serialization.Encoding.PEM))
    settings.EMRTD_CSCA_PATH = folder
    return folder


def make_passport(csca: Any, photo: bytes, **changes: Any) -> Any:
    from demo.passports import make_passport as generate

    fields: dict[str, Any] = {
        "surname": TIINA["surname"],
        "given_names": TIINA["given_names"],
        "document_number": "K0123456",
        "personal_code": TIINA["personal_code"],
        "nationality": "EST",
        "date_of_birth": TIINA["date_of_birth"],
        "sex": "F",
        "expiry_date": timezone.now().date() + timedelta(days=5 * 365),
        "photo_jpeg": photo,
    } | changes
    return generate(csca=csca, **fields)


@dataclass
class Evidence:
    passport: Path
    selfies: Path


@pytest.fixture(scope="session")
def selfie_frames(astronaut_jpeg: bytes) -> dict[str, list[bytes]]:
    from demo.selfies import selfie_frames as make

    return make(astronaut_jpeg, per_pose=4)


def write_selfies(folder: Path, frames: dict[str, list[bytes]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for pose, items in frames.items():
        for i, data in enumerate(items, 1):
            (folder / f"{POSE_FILES[pose]}-{i:02d}.jpg").write_bytes(data)
    return folder


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    """The start throttle counts per address; every test starts from 127.0.0.1."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def registry(db: None) -> Iterator[None]:
    demo_registry_load(actor="test")
    RegistryPerson.objects.filter(semantics_identifier=TIINA["semantics_identifier"]).update(
        email=TIINA["email"]
    )
    yield


@pytest.fixture
def evidence(
    tmp_path: Path,
    csca: Any,
    csca_folder: Path,
    astronaut_jpeg: bytes,
    selfie_frames: dict[str, list[bytes]],
) -> Evidence:
    passport = tmp_path / "passport.json"
    make_passport(csca, astronaut_jpeg).write(passport)
    return Evidence(passport, write_selfies(tmp_path / "selfies", selfie_frames))
