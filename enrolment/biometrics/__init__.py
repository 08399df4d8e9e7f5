"""Face verification and active liveness for remote onboarding (no Django imports).

The onboarding pipeline, the benchmark and the reference app's tooling use this package
directly; thresholds and limits are passed in by the caller (the platform reads them from its
settings), so nothing here reads configuration. Every failure is a :class:`BiometricError`
with a stable ``code``. See ``docs/biometrics.md``.
"""

from __future__ import annotations

from enrolment.biometrics.errors import CODES, BiometricError
from enrolment.biometrics.face import DEFAULT_THRESHOLD, FaceMatch, face_match
from enrolment.biometrics.images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    decode_image,
    image_size,
)
from enrolment.biometrics.liveness import (
    CHALLENGE_STEPS,
    Frame,
    LivenessResult,
    liveness_challenge,
    liveness_verify,
)

__all__ = [
    "CHALLENGE_STEPS",
    "CODES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_THRESHOLD",
    "BiometricError",
    "FaceMatch",
    "Frame",
    "LivenessResult",
    "decode_image",
    "face_match",
    "image_size",
    "liveness_challenge",
    "liveness_verify",
]
