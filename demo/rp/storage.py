"""The demo RP's files: an uploaded PDF, its prepared and its signed version.

Each file lives in ``<data dir>/demo-rp/files/`` under a random name that only the
visitor's web session knows, and only as long as needed: the download removes the
signing's files, and every signing request first removes files older than
:data:`MAX_AGE_SECONDS` (abandoned signings).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from django.conf import settings

#: An abandoned signing's files are removed after this long.
MAX_AGE_SECONDS = 30 * 60
_NAME_LENGTH = 32  # token_hex(16)


def folder() -> Path:
    path = Path(settings.DATA_DIR) / "demo-rp" / "files"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _path(name: str) -> Path:
    if len(name) != _NAME_LENGTH or not all(c in "0123456789abcdef" for c in name):
        raise FileNotFoundError(name)  # never a path from elsewhere
    return folder() / f"{name}.pdf"


def save(data: bytes) -> str:
    """Store ``data`` under a new random name; returns the name."""
    name = secrets.token_hex(16)
    fd = os.open(_path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return name


def load(name: str) -> bytes:
    """The file's bytes; FileNotFoundError when it is gone (expired or downloaded)."""
    return _path(name).read_bytes()


def remove(*names: str | None) -> None:
    for name in names:
        if name:
            try:
                _path(name).unlink(missing_ok=True)
            except FileNotFoundError:
                pass


def prune(now: float | None = None) -> int:
    """Remove files older than :data:`MAX_AGE_SECONDS`; returns how many."""
    limit = (time.time() if now is None else now) - MAX_AGE_SECONDS
    removed = 0
    for path in folder().glob("*.pdf"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def names() -> list[str]:
    """Every stored file's name (tests)."""
    return sorted(path.stem for path in folder().glob("*.pdf"))
