"""The one base class of every business-rule error (docs/style.md point 2)."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a business rule. Interfaces map it to a 4xx answer."""

    #: A stable machine-readable code, e.g. for API error bodies and logs.
    code: str = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
