"""Real face photos that ship with packages, and image encoders for the tests.

* Alice is played by Eileen Collins (scikit-image's ``astronaut``, public domain);
* Bob, another real person: the man in OpenCV's ``basketball1.png`` sample (Debian's
  ``opencv-doc``), whose face is only 36 px there and is upscaled and sharpened to a selfie.
  (``lena.jpg`` does not ship in Debian's opencv-doc; ``messi5.jpg`` works too but his head
  is turned, so it serves only in the match matrix.)
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
#: Bob's face in OpenCV's basketball sample.
BOB_SAMPLE = ("basketball1.png", (20, 40, 170, 190))
MESSI_SAMPLE = ("messi5.jpg", (170, 40, 320, 190))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def alice_photo() -> Image.Image:
    """Eileen Collins, 512 × 512 px."""
    # scikit-image takes a second to import: only the tests that want a photo pay for it.
    from skimage import data

    return Image.fromarray(data.astronaut())  # type: ignore[no-untyped-call]  # untyped package


def opencv_face(name: str, box: tuple[int, int, int, int]) -> Image.Image:
    """A face cut from an OpenCV sample photo, as a 450 × 450 px selfie.

    The samples come with Debian's opencv-doc, which .ci/run installs: missing, the test
    fails in CI and is skipped (with the command that installs them) elsewhere.
    """
    path = OPENCV_DATA / name
    if not path.exists():
        message = f"{path} is missing: apt-get install opencv-doc"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with Image.open(path) as image:
        crop = image.convert("RGB").crop(box).resize((450, 450), Image.Resampling.LANCZOS)
    return crop.filter(ImageFilter.UnsharpMask(radius=3, percent=300, threshold=2))


def noise_image(seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
