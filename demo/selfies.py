"""Synthetic selfie frames for tests, demos and the reference app's ``--selfie-dir``.

From one photo of a face this makes the four poses the active liveness check asks for,
each in a few slightly different variants (no two frames share bytes or pixels):

* ``neutral`` — the face cropped to a portrait selfie framing (face ≈ 30 % of the height);
* ``blink`` — both eyes painted over with the tone of the skin just below them and a thin
  dark lash line, so dlib's landmarks close the eye (eye aspect ratio drops from ≈0.3 to
  <0.15 on the test photos);
* ``turn_left`` / ``turn_right`` — a horizontal warp inside the face box that moves the
  centre of the face (nose) sideways while the outline stays, which is what the 2-D yaw
  estimate measures. ``turn_left`` is the *person's* left: in the (non-mirrored) frame the
  nose moves to the image's right.

This is a test device, not a presentation attack: it shows that the pipeline measures what
it claims (eyes closed, nose moved), nothing about spoof resistance. ``perform`` turns the
frames into the :class:`~enrolment.biometrics.liveness.Frame` sequence that answers a
challenge, the same way the reference app does from a frame directory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from enrolment.biometrics.face import FaceAnalysis, FloatArray, _analyse
from enrolment.biometrics.images import RGBArray, decode_image, encode_jpeg
from enrolment.biometrics.liveness import Frame

POSES = ("neutral", "blink", "turn_left", "turn_right")
#: Output frame size (portrait, like a phone's front camera).
FRAME_WIDTH, FRAME_HEIGHT = 480, 640
#: Face height as a share of the frame height in the neutral framing.
FACE_SHARE = 0.32
#: Sideways shift of the face centre in a turn, as a share of the face box width.
TURN_SHIFT = 0.2
#: Closed-eye painting: growth of the eye outline, lid shading, lash sag and thickness.
GROW_X, GROW_Y, SHADE, SAG, LASH = 1.7, 3.0, 0.85, 0.08, 0.13


def selfie_frames(photo: bytes, *, per_pose: int = 3, seed: int = 0) -> dict[str, list[bytes]]:
    """Return ``{pose: [JPEG bytes, …]}`` with ``per_pose`` variants of each of :data:`POSES`.

    Raises ``BiometricError`` when the photo has no single usable face.
    """
    if not 1 <= per_pose <= 50:
        raise ValueError("per_pose must be between 1 and 50")
    rng = np.random.default_rng(seed)
    base = _frame_base(decode_image(photo, max_side=2048))
    face = _analyse(base, frame=None)
    poses: dict[str, RGBArray] = {
        "neutral": base,
        "blink": _close_eyes(base, face),
        "turn_left": _turn(base, face, +1),
        "turn_right": _turn(base, face, -1),
    }
    out: dict[str, list[bytes]] = {}
    for name, image in poses.items():
        out[name] = [encode_jpeg(_vary(image, rng, i), quality=92) for i in range(per_pose)]
    return out


def perform(
    frames: dict[str, list[bytes]],
    challenge: Sequence[str],
    *,
    start_ms: int,
    step_ms: int = 400,
) -> list[Frame]:
    """Answer ``challenge`` with frames: neutral, then per step the pose and neutral again.

    Each frame is used once (the next unused variant of its pose), timestamps start at
    ``start_ms`` and advance by ``step_ms``: 1 + 2 × len(challenge) frames in all.
    """
    pools = {pose: list(items) for pose, items in frames.items()}
    order = ["neutral"]
    for step in challenge:
        order += [step, "neutral"]
    sequence = []
    for index, pose in enumerate(order):
        if not pools.get(pose):
            raise ValueError(f"not enough {pose!r} frames for this challenge")
        sequence.append(Frame(data=pools[pose].pop(0), captured_at_ms=start_ms + index * step_ms))
    return sequence


def _frame_base(image: RGBArray) -> RGBArray:
    """Crop and scale the photo to a FRAME_WIDTH × FRAME_HEIGHT selfie around its face."""
    face = _analyse(image if max(image.shape[:2]) <= 640 else _shrink(image, 640), frame=None)
    scale_back = max(image.shape[:2]) / max(face.image.shape[:2])
    left, top, right, bottom = (v * scale_back for v in face.box)
    face_height = bottom - top
    crop_h = face_height / FACE_SHARE
    crop_w = crop_h * FRAME_WIDTH / FRAME_HEIGHT
    cx, cy = (left + right) / 2, (top + bottom) / 2
    height, width = image.shape[:2]
    crop_w, crop_h = min(crop_w, width), min(crop_h, height)
    # Keep the 3:4 framing when the photo is too narrow or too short for the full margin.
    crop_w = min(crop_w, crop_h * FRAME_WIDTH / FRAME_HEIGHT)
    crop_h = min(crop_h, crop_w * FRAME_HEIGHT / FRAME_WIDTH)
    x0 = min(max(cx - crop_w / 2, 0), width - crop_w)
    y0 = min(max(cy - crop_h * 0.45, 0), height - crop_h)
    box = (round(x0), round(y0), round(x0 + crop_w), round(y0 + crop_h))
    framed = (
        Image.fromarray(image)
        .crop(box)
        .resize((FRAME_WIDTH, FRAME_HEIGHT), Image.Resampling.LANCZOS)
    )
    return np.array(framed, dtype=np.uint8)


def _shrink(image: RGBArray, side: int) -> RGBArray:
    pil = Image.fromarray(image)
    pil.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.array(pil, dtype=np.uint8)


def _close_eyes(image: RGBArray, face: FaceAnalysis) -> RGBArray:
    """Paint both eyes over with the skin tone below them and draw a curved lash line."""
    pil = Image.fromarray(image)
    canvas = pil.copy()
    mask = Image.new("L", pil.size, 0)
    draw_mask = ImageDraw.Draw(mask)
    draw = ImageDraw.Draw(canvas)
    for eye in (face.landmarks[36:42], face.landmarks[42:48]):
        centre = eye.mean(axis=0)
        eye_w = float(np.linalg.norm(eye[3] - eye[0]))
        # Skin tone: the median of a patch under the eye, on the cheek, a little shaded.
        sx0, sx1 = int(centre[0] - eye_w * 0.3), int(centre[0] + eye_w * 0.3)
        sy0, sy1 = int(centre[1] + eye_w * 0.45), int(centre[1] + eye_w * 0.75)
        patch = image[max(sy0, 0) : max(sy1, 1), max(sx0, 0) : max(sx1, 1)].reshape(-1, 3)
        skin = np.median(patch, axis=0) if len(patch) else np.array([160.0, 120.0, 100.0])
        tone = tuple(int(v * SHADE) for v in skin)
        grown = _grow(eye, centre, GROW_X, GROW_Y)
        draw.polygon([tuple(p) for p in grown], fill=tone)
        draw_mask.polygon([tuple(p) for p in grown], fill=255)
        # The closed lid: a lash line sagging slightly between the two corners.
        t = np.linspace(0.0, 1.0, 12)
        corner_a, corner_b = eye[0], eye[3]
        line = corner_a[None, :] + (corner_b - corner_a)[None, :] * t[:, None]
        line[:, 1] += SAG * eye_w * 4 * t * (1 - t)
        dark = tuple(int(v * 0.3) for v in skin)
        draw.line([tuple(p) for p in line], fill=dark, width=max(2, round(eye_w * LASH)))
    mask = mask.filter(ImageFilter.GaussianBlur(radius=2))
    return np.array(Image.composite(canvas, pil, mask), dtype=np.uint8)


def _grow(points: FloatArray, centre: FloatArray, sx: float, sy: float) -> FloatArray:
    grown: FloatArray = centre + (points - centre) * np.array([sx, sy])
    return grown


def _turn(image: RGBArray, face: FaceAnalysis, direction: int) -> RGBArray:
    """Warp the face horizontally so its centre moves ``direction`` (+1 = image right)."""
    height, width = image.shape[:2]
    left, top, right, bottom = face.box
    face_w = right - left
    x0, x1 = left - 0.05 * face_w, right + 0.05 * face_w
    y0, y1 = top - 0.35 * (bottom - top), bottom + 0.25 * (bottom - top)
    amplitude = direction * TURN_SHIFT * face_w
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    u = np.clip((xs - x0) / (x1 - x0), 0.0, 1.0)
    horizontal = np.sin(np.pi * u)  # 0 at the outline, 1 at the centre line
    v = np.clip((ys - y0) / (y1 - y0), 0.0, 1.0)
    vertical = np.sin(np.pi * v) ** 0.5  # smooth taper above the forehead and below the chin
    shift = amplitude * vertical[:, None] * horizontal[None, :]
    source = np.clip(xs[None, :] - shift, 0, width - 1)
    lo = np.floor(source).astype(np.intp)
    hi = np.minimum(lo + 1, width - 1)
    frac = (source - lo)[:, :, None]
    rows = np.arange(height)[:, None]
    warped = image[rows, lo] * (1.0 - frac) + image[rows, hi] * frac
    result: RGBArray = np.clip(warped + 0.5, 0, 255).astype(np.uint8)
    return result


def _vary(image: RGBArray, rng: np.random.Generator, index: int) -> RGBArray:
    """A slightly different copy: a shift of a few pixels, brightness and sensor noise."""
    dx, dy = int(rng.integers(-6, 7)), int(rng.integers(-6, 7))
    if index == 0:
        dx, dy = 0, 0
    shifted = np.roll(image, (dy, dx), axis=(0, 1)).astype(np.float64)
    gain = 1.0 + float(rng.uniform(-0.05, 0.05))
    noise = rng.normal(0.0, 2.0, size=image.shape)
    return np.clip(shifted * gain + noise + 0.5, 0, 255).astype(np.uint8)
