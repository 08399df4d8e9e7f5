"""The one exception of :mod:`enrolment.biometrics`, with a stable ``code``.

Every failure that leaves a public entry point of the package is a :class:`BiometricError`
(Pillow's, numpy's and dlib's own exceptions are caught at the boundary), so the caller maps
all of them with one ``except`` and shows the applicant a reason they can act on. It does not
derive from ``core.errors.DomainError`` on purpose: the package must import without
Django (``smartid`` loads Celery), and the onboarding service wraps it.
"""

from __future__ import annotations

#: Every code the package raises, for callers that translate them into user messages.
CODES = (
    "not_an_image",
    "image_too_large",
    "decompression_bomb",
    "unsupported_format",
    "no_face",
    "several_faces",
    "face_too_small",
    "face_blurry",
    "face_mismatch",
    "liveness_static",
    "liveness_order",
    "liveness_late",
    "liveness_reused_frame",
    "liveness_person_changed",
    "liveness_incomplete",
)


class BiometricError(Exception):
    """An image, face or liveness check that failed; ``code`` is one of :data:`CODES`."""

    code: str = "biometric_error"

    def __init__(self, code: str, message: str, *, frame: int | None = None) -> None:
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        #: Index of the offending frame in the caller's sequence, when there is one.
        self.frame = frame

    def __str__(self) -> str:
        where = f" (frame {self.frame})" if self.frame is not None else ""
        return f"{self.code}: {self.message}{where}"
