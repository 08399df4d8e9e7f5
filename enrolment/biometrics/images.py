"""Safe image decoding: bytes from the outside world → a small RGB numpy array.

Every image this package sees (the DG2 portrait read from a passport chip, the selfie frames
uploaded by the app) is attacker-controlled, so decoding is fenced in before Pillow touches
the pixel data:

* a byte cap (``max_bytes``) before anything is parsed;
* the format is sniffed from the magic bytes and only JPEG, PNG and JPEG 2000 are decoded
  (Pillow is told to try that one plug-in only, so the dozens of other decoders it ships
  with are never reached by our input);
* the declared width × height is checked against ``max_pixels`` after the header is read and
  *before* the pixels are decompressed, which is what stops a 1 KB PNG that declares
  100,000 × 100,000 pixels (a decompression bomb) in microseconds;
* Pillow's own guard (``Image.MAX_IMAGE_PIXELS``) is lowered to 40 Mpx process-wide and its
  ``DecompressionBombWarning`` is turned into an error, as a second line behind our check;
* truncated files are errors (``LOAD_TRUNCATED_IMAGES`` stays off).

The result is downscaled to at most ``max_side`` pixels on the long side: face detection
costs grow with the pixel count and a selfie face needs no more than 640 px of frame. JPEGs
are decoded directly at a reduced scale (libjpeg's DCT scaling via ``Image.draft``), which
makes a 12 Mpx phone photo about as cheap as a 1 Mpx one.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps

from enrolment.biometrics.errors import BiometricError

#: A decoded image: height × width × 3, uint8, RGB.
RGBArray = npt.NDArray[np.uint8]

#: Defaults of the limits; the platform passes its settings (IMAGE_MAX_BYTES, IMAGE_MAX_PIXELS).
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_PIXELS = 16_000_000
#: Long side of the array handed to the face detector (see module docstring).
ANALYSIS_MAX_SIDE = 640

#: Pillow's process-wide backstop; our per-call check is stricter and runs first.
PILLOW_MAX_PIXELS = 40_000_000

JPEG = "JPEG"
PNG = "PNG"
JPEG2000 = "JPEG2000"
ACCEPTED_FORMATS = (JPEG, PNG, JPEG2000)

if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > PILLOW_MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = PILLOW_MAX_PIXELS
# The warning (between 1× and 2× MAX_IMAGE_PIXELS) becomes an exception, so Pillow never
# decodes a bomb-sized image just because our own check were ever bypassed.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", JPEG2000),  # JP2 container (ISO/IEC 15444-1 Annex I)
    (b"\xff\x4f\xff\x51", JPEG2000),  # raw J2K codestream (SOC + SIZ), as some chips store it
)
# Images we recognise but refuse: a clearer message than "not an image".
_OTHER_IMAGE_MAGIC = (
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"8BPS",
    b"\x00\x00\x00\x1cftyp",
    b"\x00\x00\x00\x18ftyp",
    b"\x00\x00\x00\x20ftyp",
)


def sniff_format(data: bytes) -> str:
    """Return the accepted format named by the magic bytes, or raise ``BiometricError``."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if any(data.startswith(magic) for magic in _OTHER_IMAGE_MAGIC):
        raise BiometricError(
            "unsupported_format", "Only JPEG, PNG and JPEG 2000 images are accepted."
        )
    raise BiometricError("not_an_image", "The data is not a JPEG, PNG or JPEG 2000 image.")


def image_size(data: bytes, *, formats: tuple[str, ...] = ACCEPTED_FORMATS) -> tuple[int, int]:
    """Width and height as the image's header declares them, without decoding any pixel.

    Pillow's ``Image.open`` is lazy: it parses the header (JPEG markers up to the start of
    scan, PNG chunks up to the first IDAT) and stops, so this costs microseconds for a
    16 Mpx frame as for a 1 Mpx one. Callers use it to refuse an image that is larger than
    they need before anything decodes it. Raises :class:`BiometricError` as
    :func:`decode_image` does for the format (``unsupported_format``, ``not_an_image``) and
    for Pillow's own decompression-bomb guard (``decompression_bomb``).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BiometricError("not_an_image", "The image must be given as bytes.")
    data = bytes(data)
    fmt = sniff_format(data)
    if fmt not in formats:
        raise BiometricError("unsupported_format", f"{fmt} images are not accepted here.")
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BiometricError(
            "decompression_bomb", f"The image declares too many pixels ({type(exc).__name__})."
        ) from None
    except Exception as exc:  # any parser failure is bad input, never a 500
        raise BiometricError(
            "not_an_image", f"The {fmt} image's header cannot be read: {type(exc).__name__}."
        ) from None
    if width <= 0 or height <= 0:
        raise BiometricError("not_an_image", "The image has no pixels.")
    return width, height


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = ANALYSIS_MAX_SIDE,
    formats: tuple[str, ...] = ACCEPTED_FORMATS,
) -> RGBArray:
    """Decode ``data`` into an RGB array at most ``max_side`` pixels on its long side.

    Raises :class:`BiometricError` with ``image_too_large`` (bytes), ``decompression_bomb``
    (declared pixels), ``unsupported_format`` or ``not_an_image`` (garbage, truncated or
    corrupt data). EXIF orientation is applied, so a phone photo taken upright is upright.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BiometricError("not_an_image", "The image must be given as bytes.")
    data = bytes(data)
    if len(data) > max_bytes:
        raise BiometricError(
            "image_too_large", f"The image is {len(data)} bytes; the limit is {max_bytes}."
        )
    fmt = sniff_format(data)
    if fmt not in formats:
        raise BiometricError("unsupported_format", f"{fmt} images are not accepted here.")
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            width, height = image.size
            if width <= 0 or height <= 0:
                raise BiometricError("not_an_image", "The image has no pixels.")
            if width * height > max_pixels:
                raise BiometricError(
                    "decompression_bomb",
                    f"The image declares {width}×{height} pixels; the limit is {max_pixels}.",
                )
            if fmt == JPEG:
                # Decode at 1/2, 1/4 or 1/8 scale when that still covers max_side.
                image.draft("RGB", (max_side, max_side))
            # WeasyPrint and face_recognition switch this on for the whole process when
            # imported (the RA office renders PDFs in the same process): switch it off
            # again right before decoding, so a truncated upload stays an error.
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
            if max(rgb.size) > max_side:
                rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            array: RGBArray = np.array(rgb, dtype=np.uint8)
    except BiometricError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BiometricError(
            "decompression_bomb", f"The image declares too many pixels ({type(exc).__name__})."
        ) from None
    except MemoryError:
        raise BiometricError("image_too_large", "The image is too large to decode.") from None
    except Exception as exc:  # any decoder failure is bad input, never a 500
        raise BiometricError(
            "not_an_image", f"The {fmt} image cannot be decoded: {type(exc).__name__}."
        ) from None
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 1:
        raise BiometricError("not_an_image", "The image has no usable pixels.")
    return array


def encode_jpeg(array: RGBArray, *, quality: int = 90) -> bytes:
    """Encode an RGB array as a baseline JPEG (used for synthetic frames and tests)."""
    out = io.BytesIO()
    Image.fromarray(array, "RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()
