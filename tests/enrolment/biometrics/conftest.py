"""Real face photos that ship with packages, and synthetic selfie frames made from them.

* Alice is played by Eileen Collins (scikit-image's ``astronaut``);
* Charlie, another real person: the man in OpenCV's ``basketball1.png`` sample (Debian's
  ``opencv-doc``), whose face is only 36 px there and is upscaled and sharpened to a selfie.
  (``lena.jpg`` does not ship in Debian's opencv-doc; ``messi5.jpg`` works too but his head
  is turned, so it serves only in the match matrix.)

Everything expensive is session-scoped: frames are made once, and the face module's
analysis cache makes repeated use of the same bytes cheap.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def opencv_face(name: str, box: tuple[int, int, int, int]) -> Image.Image:
    path = OPENCV_DATA / name
    if not path.exists():
        pytest.skip("Debian's opencv-doc is not installed")
    with Image.open(path) as image:
        crop = image.convert("RGB").crop(box).resize((450, 450), Image.Resampling.LANCZOS)
    return crop.filter(ImageFilter.UnsharpMask(radius=3, percent=300, threshold=2))


@pytest.fixture(scope="session")
def alice_photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def alice_dg2(alice_photo: Image.Image) -> bytes:
    """A passport-style portrait: 240 × 320 px, JPEG 2000 at about 11 KB, like a chip's DG2."""
    portrait = alice_photo.crop((120, 20, 330, 300)).resize((240, 320), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    portrait.save(out, "JPEG2000", quality_mode="rates", quality_layers=[20])
    return out.getvalue()


@pytest.fixture(scope="session")
def alice_frames(alice_photo: Image.Image) -> dict[str, list[bytes]]:
    from demo.selfies import selfie_frames

    return selfie_frames(jpeg(alice_photo, 95), per_pose=4)


@pytest.fixture(scope="session")
def charlie_photo() -> Image.Image:
    return opencv_face("basketball1.png", (20, 40, 170, 190))


@pytest.fixture(scope="session")
def messi_photo() -> Image.Image:
    return opencv_face("messi5.jpg", (170, 40, 320, 190))


@pytest.fixture(scope="session")
def charlie_frames(charlie_photo: Image.Image) -> dict[str, list[bytes]]:
    from demo.selfies import selfie_frames

    return selfie_frames(jpeg(charlie_photo), per_pose=2)


def noise_image(seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
