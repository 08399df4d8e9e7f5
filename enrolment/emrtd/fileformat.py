"""The passport file: what the app uploads and what the device CLI reads.

JSON ``{"format": "openeid-passport-1", "sod": b64, "dg": {"1": b64, "2": b64, …},
"aa_private_key": PEM | null, "aa_hash": "sha1" | "sha256" | … | null}``. The last two
belong to synthetic passports only (the chip's secret, for the reference app's AA answer);
the server reads ``sod`` and ``dg`` and ignores the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enrolment.emrtd import limits
from enrolment.emrtd.errors import MalformedError
from signing.engine import InvalidBase64, b64decode_strict

FORMAT = "openeid-passport-1"
#: Base64 of the largest allowed SOD and data groups, plus JSON overhead.
MAX_FILE = 2 * 1024 * 1024


def b64decode(value: Any, *, what: str, max_size: int) -> bytes:
    if not isinstance(value, str) or len(value) > (max_size * 4) // 3 + 4:
        raise MalformedError(f"{what}: base64 text of at most {max_size} bytes expected")
    try:
        return b64decode_strict(value, what=what)
    except InvalidBase64:
        raise MalformedError(f"{what}: not base64") from None


@dataclass(frozen=True)
class PassportFile:
    sod: bytes
    data_groups: dict[int, bytes]

    @classmethod
    def from_json(cls, document: Any) -> PassportFile:
        """Read the parsed JSON; checks shapes and sizes (contents: passive_authenticate)."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise MalformedError(f"not an {FORMAT} document")
        sod = b64decode(document.get("sod"), what="sod", max_size=limits.SOD_MAX)
        groups = document.get("dg")
        if not isinstance(groups, dict) or not 1 <= len(groups) <= 16:
            raise MalformedError("dg must map data group numbers to base64")
        data_groups: dict[int, bytes] = {}
        for key, value in groups.items():
            if not isinstance(key, str) or not key.isdigit() or not 1 <= int(key) <= 16:
                raise MalformedError(f"dg: {key!r} is not a data group number 1-16")
            number = int(key)
            data_groups[number] = b64decode(
                value, what=f"DG{number}", max_size=limits.dg_max(number)
            )
        return cls(sod=sod, data_groups=data_groups)

    @classmethod
    def load(cls, path: Path) -> PassportFile:
        if path.stat().st_size > MAX_FILE:
            raise MalformedError("passport file too large")
        try:
            return cls.from_json(json.loads(path.read_bytes()))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise MalformedError("passport file is not JSON") from None
