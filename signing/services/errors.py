"""The errors of the split-key service (the API maps each ``code`` to its answer)."""

from __future__ import annotations

from core.errors import DomainError


class SigningError(DomainError):
    code = "signing_error"


class NotFound(SigningError):
    code = "not_found"


class WrongState(SigningError):
    code = "wrong_state"


class TransactionFinished(SigningError):
    code = "transaction_finished"


class BadRequest(SigningError):
    code = "bad_request"
