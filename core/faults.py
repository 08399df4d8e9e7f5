"""Fault points: where a test may have this process killed, to prove crash safety.

``fault_point("issuance:after-sign")`` does nothing unless ``SMARTID_FAULT_KILL_AT`` names
that point; then the process sends itself SIGKILL at once, as a power cut or the OOM
killer would, with no cleanup, no rollback message and no acknowledgement. The
worker-kill tests start a real Celery worker with the variable set (docs/deployment.md,
"Queues"). Live mode refuses the variable (``smartid.E009``).
"""

from __future__ import annotations

import os
import signal

from django.conf import settings


def fault_point(name: str) -> None:
    """SIGKILL this process if the settings name this point (a test hook; see the module)."""
    if settings.FAULT_KILL_AT and settings.FAULT_KILL_AT == name:
        os.kill(os.getpid(), signal.SIGKILL)
