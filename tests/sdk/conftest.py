"""The SDK (sdk/python, not installed into the project's venv) importable for these tests."""

from __future__ import annotations

import sys
from pathlib import Path

_SDK = str(Path(__file__).resolve().parents[2] / "sdk" / "python")
if _SDK not in sys.path:
    sys.path.insert(0, _SDK)
