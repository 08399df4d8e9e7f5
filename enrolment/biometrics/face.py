"""Face detection, quality gates, encodings and the match decision.

Built on ``face_recognition``'s dlib models, called directly so each frame costs exactly
one HOG detection and one 68-point landmark fit, and a 128-d encoding only when a caller
asks for it (the encoding is the expensive part: about 75 ms per face on one core, against
about 25 ms for detection and 1 ms for landmarks at 640 px). See ``docs/biometrics.md``.

* Detection: dlib's HOG frontal detector at the analysis size (long side ≤ 640 px) without
  upsampling, ignoring boxes that score below :data:`DETECTION_MIN_SCORE`; its 80 × 80 px
  window is also our minimum face size. Only when nothing is found is the frame searched
  again at 2× (upsampled), to tell "no face" from "face too small".
* Quality: exactly one face; face box at least ``min_face_px`` high; sharpness = variance of
  the Laplacian of the face crop resampled to 128 × 128 px, divided by the crop's grey-level
  variance (so the figure depends neither on the face's size in pixels nor on lighting).
* Match: Euclidean distance between encodings; the decision uses the worst (largest)
  distance over the frames compared, so one good frame cannot carry bad ones.

Analyses are kept in a small in-process LRU keyed by the SHA-256 of the image bytes, so the
onboarding task can call :func:`face_match` and :func:`~enrolment.biometrics.liveness.
liveness_verify` on the same frames without decoding and detecting twice.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from face_recognition import api as _fr

from enrolment.biometrics.errors import BiometricError
from enrolment.biometrics.images import (
    ACCEPTED_FORMATS,
    ANALYSIS_MAX_SIDE,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    JPEG,
    PNG,
    RGBArray,
    decode_image,
)

FloatArray = npt.NDArray[np.float64]

#: Default decision threshold on the encoding distance (the platform's FACE_MATCH_THRESHOLD).
#: face_recognition's customary value is 0.6; ours is stricter, chosen from the figures in
#: docs/biometrics.md.
DEFAULT_THRESHOLD = 0.5
#: Minimum height of the detected face box in the analysis image (long side ≤ 640 px).
MIN_FACE_PX = 80
#: Minimum contrast-normalised Laplacian variance of the face crop (docs/biometrics.md).
MIN_SHARPNESS = 4.0
#: dlib's HOG detector reports a score per box (its default cut is 0). Real faces in our test
#: photos score 1.5–2.1; the false positives we met (the astronaut's mission patch, a robot's
#: head) 0.04–0.13. Counting only boxes above 0.3 keeps such clutter from turning a good
#: selfie into "several faces".
DETECTION_MIN_SCORE = 0.3
#: How many selfie frames :func:`face_match` encodes (the most frontal ones).
MATCH_FRAMES = 3

#: Selfie frames come from a camera; the DG2 portrait may also be JPEG 2000.
SELFIE_FORMATS = (JPEG, PNG)

_CROP = 128
_CACHE_SIZE = 24
# dlib's network and detector objects are shared module globals; the lock keeps two threads
# of one process from running them at the same time (dlib does not promise that is safe).
_dlib_lock = threading.Lock()
_cache_lock = threading.Lock()
_cache: OrderedDict[tuple[bytes, int, int, tuple[str, ...]], FaceAnalysis] = OrderedDict()


@dataclass(frozen=True)
class FaceMatch:
    """The outcome of comparing selfie frames with the reference portrait."""

    distance: float
    threshold: float
    matched: bool

    def ensure_matched(self) -> None:
        """Raise ``face_mismatch`` unless the frames matched (for callers that gate on it)."""
        if not self.matched:
            raise BiometricError(
                "face_mismatch",
                f"The face does not match the document photo "
                f"(distance {self.distance:.3f} > {self.threshold:.3f}).",
            )


@dataclass(eq=False)
class FaceAnalysis:
    """One image with exactly one face: its box, landmarks, sharpness, lazy encoding."""

    image: RGBArray
    #: (left, top, right, bottom) in analysis-image pixels.
    box: tuple[int, int, int, int]
    #: 68 × 2 array of (x, y) landmark points (iBUG 300-W numbering, 0-based).
    landmarks: FloatArray
    sharpness: float
    _shape: Any = field(repr=False)
    _encoding: FloatArray | None = field(default=None, repr=False)

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    def encoding(self) -> FloatArray:
        """The 128-d face encoding (computed once, ``num_jitters=1``)."""
        if self._encoding is None:
            with _dlib_lock:
                descriptor = _fr.face_encoder.compute_face_descriptor(self.image, self._shape, 1)
            self._encoding = np.array(descriptor, dtype=np.float64)
        return self._encoding

    @property
    def eye_aspect_ratio(self) -> float:
        """Mean eye aspect ratio of both eyes (Soukupová & Čech 2016): ≈0.3 open, <0.2 shut."""
        return (_ear(self.landmarks[36:42]) + _ear(self.landmarks[42:48])) / 2.0

    @property
    def yaw(self) -> float:
        """Head yaw estimate in [-1, 1] from 2-D landmarks; positive = nose towards image right.

        The nose tip (point 30) is projected on the line between the outermost jaw points
        (0 and 16, the face's outline at ear height) and its position there is mapped from
        [0, 1] to [-1, 1]. A frontal face gives about 0; in a non-mirrored camera image a
        person who turns their head to *their* left moves the nose towards the image's right
        (positive). Projecting on the jaw line makes the figure insensitive to head roll.
        """
        left, right, nose = self.landmarks[0], self.landmarks[16], self.landmarks[30]
        axis = right - left
        span = float(np.dot(axis, axis))
        if span <= 0.0:
            return 0.0
        position = float(np.dot(nose - left, axis)) / span
        return float(np.clip(position * 2.0 - 1.0, -1.0, 1.0))

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)


def _ear(eye: FloatArray) -> float:
    horizontal = float(np.linalg.norm(eye[0] - eye[3]))
    if horizontal <= 0.0:
        return 0.0
    vertical = float(np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4]))
    return vertical / (2.0 * horizontal)


def sharpness(image: RGBArray, box: tuple[int, int, int, int]) -> float:
    """Contrast-normalised variance of the Laplacian of the grey face crop at 128 × 128 px."""
    left, top, right, bottom = box
    crop = image[top:bottom, left:right].astype(np.float64)
    if crop.size == 0:
        return 0.0
    grey = crop @ np.array([0.299, 0.587, 0.114])
    rows = np.linspace(0, grey.shape[0] - 1, _CROP).round().astype(np.intp)
    cols = np.linspace(0, grey.shape[1] - 1, _CROP).round().astype(np.intp)
    g = grey[np.ix_(rows, cols)]
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    # Divided by the crop's own grey-level variance, so a dim or low-contrast but sharp face
    # is not mistaken for a blurred one (the raw figure scales with contrast squared).
    return float(100.0 * lap.var() / max(float(g.var()), 1.0))


def _detect(image: RGBArray, upsample: int) -> list[tuple[int, int, int, int]]:
    with _dlib_lock:
        rects, _scores, _kinds = _fr.face_detector.run(image, upsample, DETECTION_MIN_SCORE)
    height, width = image.shape[:2]
    boxes = []
    for rect in rects:
        box = (
            max(int(rect.left()), 0),
            max(int(rect.top()), 0),
            min(int(rect.right()), width),
            min(int(rect.bottom()), height),
        )
        if box[2] > box[0] and box[3] > box[1]:
            boxes.append(box)
    return boxes


def _analyse(image: RGBArray, *, frame: int | None) -> FaceAnalysis:
    boxes = _detect(image, 0)
    if not boxes:
        # Only on the failure path: a 2× search tells a small face from no face at all.
        if _detect(image, 1):
            raise BiometricError(
                "face_too_small", "The face is too small; move closer to the camera.", frame=frame
            )
        raise BiometricError("no_face", "No face was found in the image.", frame=frame)
    if len(boxes) > 1:
        raise BiometricError(
            "several_faces",
            f"{len(boxes)} faces were found; exactly one person must be in the picture.",
            frame=frame,
        )
    box = boxes[0]
    import dlib  # type: ignore[import-untyped]  # no stubs; face_recognition depends on it

    rect = dlib.rectangle(box[0], box[1], box[2], box[3])
    with _dlib_lock:
        shape = _fr.pose_predictor_68_point(image, rect)
    points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    return FaceAnalysis(
        image=image,
        box=box,
        landmarks=points,
        sharpness=sharpness(image, box),
        _shape=shape,
    )


def analyse_face(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: tuple[str, ...] = ACCEPTED_FORMATS,
    frame: int | None = None,
) -> FaceAnalysis:
    """Decode ``data`` and find its one face (cached by the SHA-256 of the bytes).

    Raises ``BiometricError`` for every image error (see :func:`decode_image`) and for
    ``no_face``, ``several_faces`` and ``face_too_small`` (only when no face reaches the
    detector's 80 px window). Size and sharpness thresholds are applied by
    :func:`check_quality`, so the cached analysis does not depend on them.
    """
    key = (hashlib.sha256(data).digest(), max_bytes, max_pixels, formats)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    try:
        image = decode_image(
            data,
            max_bytes=max_bytes,
            max_pixels=max_pixels,
            max_side=ANALYSIS_MAX_SIDE,
            formats=formats,
        )
    except BiometricError as exc:
        exc.frame = frame
        raise
    analysis = _analyse(image, frame=frame)
    with _cache_lock:
        _cache[key] = analysis
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return analysis


def check_quality(
    analysis: FaceAnalysis,
    *,
    min_face_px: int = MIN_FACE_PX,
    min_sharpness: float | None = MIN_SHARPNESS,
    frame: int | None = None,
) -> None:
    """Raise ``face_too_small`` or ``face_blurry`` when the face is not good enough."""
    if analysis.height < min_face_px:
        raise BiometricError(
            "face_too_small",
            f"The face is {analysis.height} px high; at least {min_face_px} px are needed.",
            frame=frame,
        )
    if min_sharpness is not None and analysis.sharpness < min_sharpness:
        raise BiometricError(
            "face_blurry",
            f"The face is not sharp enough ({analysis.sharpness:.0f} < {min_sharpness:.0f}).",
            frame=frame,
        )


def face_distance(a: FaceAnalysis, b: FaceAnalysis) -> float:
    """Euclidean distance between the two faces' encodings (0 = identical)."""
    return float(np.linalg.norm(a.encoding() - b.encoding()))


def selfie_analyses(
    frames: Sequence[bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_face_px: int = MIN_FACE_PX,
    min_sharpness: float = MIN_SHARPNESS,
) -> list[FaceAnalysis]:
    """Analyse and quality-check every selfie frame; the first failure raises."""
    analyses = []
    for index, data in enumerate(frames):
        analysis = analyse_face(
            data, max_bytes=max_bytes, max_pixels=max_pixels, formats=SELFIE_FORMATS, frame=index
        )
        check_quality(analysis, min_face_px=min_face_px, min_sharpness=min_sharpness, frame=index)
        analyses.append(analysis)
    return analyses


def face_match(
    *,
    reference: bytes,
    frames: Sequence[bytes],
    threshold: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_face_px: int = MIN_FACE_PX,
    min_sharpness: float = MIN_SHARPNESS,
) -> FaceMatch:
    """Compare selfie frames with the reference portrait (the passport's DG2 image).

    Every frame must pass the quality gates. The :data:`MATCH_FRAMES` most frontal frames
    (smallest absolute yaw, eyes open) are encoded and compared with the reference; the
    decision is on the worst (largest) of those distances, which is what ``distance``
    reports. The reference (JPEG, PNG or JPEG 2000) gets the size gate but no sharpness gate:
    it is the issuing state's photo, often small and heavily compressed, and the applicant
    cannot retake it. A mismatch is not raised (the caller stores the figures as evidence):
    check ``matched`` or call :meth:`FaceMatch.ensure_matched`.
    """
    if not frames:
        raise BiometricError("no_face", "No selfie frames were given.")
    if not 0.0 < threshold < 2.0:
        raise ValueError("threshold must be between 0 and 2")
    ref = analyse_face(reference, max_bytes=max_bytes, max_pixels=max_pixels)
    check_quality(ref, min_face_px=min_face_px, min_sharpness=None)
    analyses = selfie_analyses(
        frames,
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        min_face_px=min_face_px,
        min_sharpness=min_sharpness,
    )
    chosen = sorted(analyses, key=_frontality)[:MATCH_FRAMES]
    distance = max(face_distance(ref, analysis) for analysis in chosen)
    return FaceMatch(distance=distance, threshold=threshold, matched=distance <= threshold)


def _frontality(analysis: FaceAnalysis) -> float:
    # Closed eyes and turned heads both raise encoding distances; prefer neither.
    return abs(analysis.yaw) + max(0.0, 0.22 - analysis.eye_aspect_ratio) * 4.0


def clear_cache() -> None:
    """Forget cached analyses (tests, and callers that want the memory back)."""
    with _cache_lock:
        _cache.clear()
