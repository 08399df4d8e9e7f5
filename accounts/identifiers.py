"""Semantics identifiers and document numbers (rp-api.md §3): the one place they are parsed."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from smartid.errors import DomainError

_SEMANTICS_ID = re.compile(r"^(PNO|IDC|PAS)([A-Z]{2})-([A-Za-z0-9][A-Za-z0-9-]{0,40})$")
_DOCUMENT_NUMBER = re.compile(
    r"^((?:PNO|IDC|PAS)[A-Z]{2}-[A-Za-z0-9][A-Za-z0-9-]{0,40})-([A-Z0-9]{4})-(Q|NQ)$"
)
# No 0/O or 1/I: the code is read aloud and typed.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class InvalidIdentifier(DomainError):
    code = "invalid_identifier"


@dataclass(frozen=True)
class SemanticsIdentifier:
    """``PNOEE-30303039914`` → type PNO, country EE, id 30303039914 (split on the first ``-``)."""

    type: str
    country: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.type}{self.country}-{self.identifier}"


def parse_semantics_identifier(value: str) -> SemanticsIdentifier:
    match = _SEMANTICS_ID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidIdentifier("Not a semantics identifier like PNOEE-30303039914.")
    return SemanticsIdentifier(match.group(1), match.group(2), match.group(3))


def parse_document_number(value: str) -> tuple[str, bool]:
    """Return (semantics identifier, qualified) of ``PNOEE-…-XXXX-Q|NQ``."""
    match = _DOCUMENT_NUMBER.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidIdentifier("Not a document number like PNOEE-30303039914-AB12-Q.")
    return match.group(1), match.group(3) == "Q"


def new_document_number(
    semantics_identifier: str, *, qualified: bool, suffix: str | None = None
) -> str:
    """A fresh document number; the caller retries on the (rare) unique-key collision."""
    if suffix is None:
        suffix = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))
    return f"{semantics_identifier}-{suffix}-{'Q' if qualified else 'NQ'}"
