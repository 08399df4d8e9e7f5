"""The reference app's exceptions: one base class, one subclass per kind of failure.

The CLI maps them to exit codes: :class:`StateError` and :class:`InputError` → 2 (usage or
local state), everything else → 1 (the operation failed).
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base class of every error raised by :mod:`device`."""


class StateError(DeviceError):
    """The state file is missing, unreadable, too open (group/others), or malformed."""


class InputError(DeviceError):
    """Bad input from the user or the caller (PIN format, unknown account, bad code)."""


class NetworkError(DeviceError):
    """The server could not be reached, or the connection broke before an answer."""


class ProtocolError(DeviceError):
    """The server's answer breaks the contract (docs/app-api.md) or fails a check the app
    makes itself (CSR content, certificate key, pinned transport key, verification codes).
    """


class ApiError(DeviceError):
    """The server answered with an error: ``{"code", "message", "error"}`` and a 4xx/5xx."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"server refused ({status} {error}): {message}")
        self.status = status
        self.error = error
        self.message = message


class RenewalPending(DeviceError):
    """A re-key's new certificates did not come in time: the service is still issuing them.

    The new keys wait in the state beside the current ones (which work until the service
    swaps); ``renew`` again (:meth:`~device.app.DeviceApp.resume_renewal`) finishes it.
    """

    def __init__(self, document_number: str, renewal_id: str, message: str) -> None:
        super().__init__(message)
        self.document_number = document_number
        self.renewal_id = renewal_id
