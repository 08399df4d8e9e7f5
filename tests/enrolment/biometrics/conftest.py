"""Synthetic selfie frames made from the personas' photos (``alice_photo``, ``bob_photo``
of tests/conftest.py; helpers in tests/helpers/images.py), and a third face.

Everything expensive is session-scoped: frames are made once, and the face module's
analysis cache makes repeated use of the same bytes cheap.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from demo.selfies import selfie_frames
from tests.helpers.images import MESSI_SAMPLE, jpeg, opencv_face


@pytest.fixture(scope="session")
def messi_photo() -> Image.Image:
    return opencv_face(*MESSI_SAMPLE)


@pytest.fixture(scope="session")
def alice_dg2(alice_photo: Image.Image) -> bytes:
    """A passport-style portrait: 240 × 320 px, JPEG 2000 at about 11 KB, like a chip's DG2."""
    portrait = alice_photo.crop((120, 20, 330, 300)).resize((240, 320), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    portrait.save(out, "JPEG2000", quality_mode="rates", quality_layers=[20])
    return out.getvalue()


@pytest.fixture(scope="session")
def alice_frames(alice_photo: Image.Image) -> dict[str, list[bytes]]:
    return selfie_frames(jpeg(alice_photo, 95), per_pose=4)


@pytest.fixture(scope="session")
def bob_frames(bob_photo: Image.Image) -> dict[str, list[bytes]]:
    return selfie_frames(jpeg(bob_photo), per_pose=2)
