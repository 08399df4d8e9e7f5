"""The platform's clock for what is written into certificates, CRLs and OCSP answers.

X.509 and OCSP times have whole-second precision (RFC 5280 §4.1.2.5, DER GeneralizedTime
without fractions): a time that is signed must be the same time that is stored and
compared, so everything the CA signs takes its "now" from here.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now_whole_seconds() -> datetime:
    """The current UTC time (aware), truncated to whole seconds."""
    return timezone.now().replace(microsecond=0)
