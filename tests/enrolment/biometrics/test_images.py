"""Safe decoding: only JPEG, PNG and JPEG 2000, byte and pixel caps, bombs, garbage."""

from __future__ import annotations

import io
import resource
import struct
import time
import zlib
from typing import Any

import pytest
from PIL import Image

from enrolment.biometrics import BiometricError, decode_image, image_size
from enrolment.biometrics.images import sniff_format
from tests.helpers.images import jpeg, noise_image, png


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring width × height RGB pixels, with a few rows of zeros."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (3 * width + 1) * 2, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def _code(data: bytes, **limits: Any) -> str:
    with pytest.raises(BiometricError) as caught:
        decode_image(data, **limits)
    return caught.value.code


def test_bomb_png_is_refused_fast_and_small() -> None:
    bomb = png_bomb()
    assert len(bomb) < 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    assert _code(bomb) == "decompression_bomb"
    assert time.perf_counter() - started < 1.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB on Linux
    assert grown_kib < 100 * 1024


def test_bomb_below_pillows_own_limit_is_refused_by_ours() -> None:
    # 5000 × 5000 = 25 Mpx: Pillow alone would decode it; our 16 Mpx default refuses it.
    assert _code(png_bomb(5000, 5000)) == "decompression_bomb"
    assert _code(png_bomb(300, 300), max_pixels=80_000) == "decompression_bomb"


def test_pillow_warning_is_an_error() -> None:
    # Between 1× and 2× Pillow's limit Pillow only warns; we made that warning an error.
    limit = Image.MAX_IMAGE_PIXELS
    assert limit is not None and limit <= 40_000_000
    with pytest.raises(Image.DecompressionBombWarning):
        Image.open(io.BytesIO(png_bomb(7000, 7000)))


def test_byte_cap() -> None:
    data = png(noise_image())
    assert len(data) > 500_000
    assert _code(data, max_bytes=500_000) == "image_too_large"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        b"\x00" * 100,
        b"%PDF-1.7\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
)
def test_not_an_image(data: bytes) -> None:
    assert _code(data) == "not_an_image"


def test_truncated_and_corrupt_images() -> None:
    good = jpeg(noise_image())
    assert _code(good[: len(good) // 2]) == "not_an_image"
    assert _code(png(noise_image())[:5000]) == "not_an_image"
    corrupt = bytearray(png(noise_image()))
    corrupt[40:60] = b"\xff" * 20
    assert _code(bytes(corrupt)) == "not_an_image"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_formats_are_unsupported(fmt: str) -> None:
    out = io.BytesIO()
    noise_image().resize((64, 48)).save(out, fmt)
    assert _code(out.getvalue()) == "unsupported_format"


def test_jpeg2000_is_only_for_callers_that_allow_it() -> None:
    out = io.BytesIO()
    noise_image().resize((64, 48)).save(out, "JPEG2000")
    assert sniff_format(out.getvalue()) == "JPEG2000"
    assert decode_image(out.getvalue()).shape == (48, 64, 3)
    assert _code(out.getvalue(), formats=("JPEG", "PNG")) == "unsupported_format"


def test_decodes_to_small_rgb() -> None:
    big = noise_image().resize((2000, 1500))
    for data in (jpeg(big), png(big.convert("L")), png(big.convert("RGBA"))):
        array = decode_image(data, max_bytes=20_000_000)
        assert array.shape == (480, 640, 3)
        assert str(array.dtype) == "uint8"


def test_exif_orientation_is_applied() -> None:
    image = noise_image().resize((640, 480))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    assert decode_image(out.getvalue()).shape == (640, 480, 3)


def test_truncated_images_stay_errors_after_weasyprint_is_imported() -> None:
    """WeasyPrint (RA office PDFs) sets LOAD_TRUNCATED_IMAGES process-wide on import."""
    import weasyprint  # noqa: F401 -- the import is the point
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = True  # whoever set it, decoding must not honour it
    good = jpeg(noise_image())
    assert _code(good[: len(good) // 2]) == "not_an_image"


def test_image_size_reads_the_header_only() -> None:
    assert image_size(jpeg(noise_image())) == noise_image().size
    with pytest.raises(BiometricError) as caught:
        image_size(png_bomb())
    assert caught.value.code == "decompression_bomb"  # Pillow's own guard, at open
    # Below Pillow's guard the size is simply reported: the caller decides.
    assert image_size(png_bomb(5000, 5000)) == (5000, 5000)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"hello world", "not_an_image"),
        (b"GIF89a" + bytes(40), "unsupported_format"),
        (b"\xff\xd8\xff\xe0" + bytes(8), "not_an_image"),  # JPEG magic, no frame header
    ],
)
def test_image_size_refuses_what_decode_image_refuses(data: bytes, code: str) -> None:
    with pytest.raises(BiometricError) as caught:
        image_size(data)
    assert caught.value.code == code


def test_image_size_honours_the_accepted_formats() -> None:
    with pytest.raises(BiometricError) as caught:
        image_size(png(noise_image()), formats=("JPEG",))
    assert caught.value.code == "unsupported_format"
