"""The reference device app: a library (:class:`DeviceApp`) and a CLI (``python -m device``).

It imports :mod:`signing.engine` and nothing else of ours (no Django). See docs/device.md.
"""

from __future__ import annotations

from device.answers import (
    AccountStatus,
    ConfirmResult,
    Interaction,
    KeyStatus,
    RegistrationResult,
    Transaction,
)
from device.app import DeviceApp
from device.errors import (
    ApiError,
    DeviceError,
    InputError,
    NetworkError,
    ProtocolError,
    RenewalPending,
    StateError,
)
from device.state import DeviceState, FileStore, MemoryStore, StateStore

__all__ = [
    "AccountStatus",
    "ApiError",
    "ConfirmResult",
    "DeviceApp",
    "DeviceError",
    "DeviceState",
    "FileStore",
    "InputError",
    "Interaction",
    "KeyStatus",
    "MemoryStore",
    "NetworkError",
    "ProtocolError",
    "RegistrationResult",
    "RenewalPending",
    "StateError",
    "StateStore",
    "Transaction",
]
