"""What the app returns to its caller: transactions, confirmation results, account states
and registration results, parsed from the service's answers and checked (§2-§4 of
docs/app-api.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device.errors import ProtocolError
from device.state import PURPOSES
from device.wire import (
    base64_field,
    document_number,
    field,
    json_object,
    lower_uuid,
    optional_int,
    required_string,
    string,
)
from signing.engine import verification_code

#: The interactions this app can show, in the order it prefers nothing: the service's
#: list decides, the app takes the first one it supports.
SUPPORTED_INTERACTIONS = (
    "displayTextAndPIN",
    "confirmationMessage",
    "verificationCodeChoice",
    "confirmationMessageAndVerificationCodeChoice",
)
VC_CHOICE_INTERACTIONS = frozenset(
    {"verificationCodeChoice", "confirmationMessageAndVerificationCodeChoice"}
)
CERTIFICATE_CHOICE = "CERTIFICATE_CHOICE"
KINDS = frozenset({"AUTHENTICATION", "SIGNATURE", CERTIFICATE_CHOICE})


@dataclass(frozen=True)
class Interaction:
    """One interaction of a transaction: its type and the text to show (if any)."""

    type: str
    text: str | None = None


@dataclass(frozen=True)
class Transaction:
    """A transaction as §3.2 describes it, parsed and checked."""

    id: str
    state: str
    kind: str
    document_number: str
    purpose: str | None
    rp_name: str
    hash: bytes | None
    hash_type: str | None
    padding: str | None
    salt: bytes | None
    n: int | None
    interactions: tuple[Interaction, ...]
    vc_choices: tuple[str, ...] | None
    expires_at: str | None

    @property
    def verification_code(self) -> str | None:
        """The code computed here from the hash (never taken from the service)."""
        return None if self.hash is None else verification_code(self.hash)

    @property
    def interaction(self) -> Interaction | None:
        """The first interaction of the list that this app supports."""
        for item in self.interactions:
            if item.type in SUPPORTED_INTERACTIONS:
                return item
        return None

    @property
    def needs_vc_choice(self) -> bool:
        """True when the user must pick the verification code from ``vc_choices``."""
        chosen = self.interaction
        return chosen is not None and chosen.type in VC_CHOICE_INTERACTIONS


@dataclass(frozen=True)
class ConfirmResult:
    """The service's answer to a confirmation (§3.3) or a CSR signature (§2.4)."""

    status: str
    tries_left: int | None = None
    locked_until: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class KeyStatus:
    """A key's state as the service reports it (§4 ``GET /accounts``)."""

    state: str
    tries_left: int | None
    locked_until: str | None


@dataclass(frozen=True)
class AccountStatus:
    """An account as the service reports it (§4 ``GET /accounts``)."""

    document_number: str
    state: str
    level: str
    keys: dict[str, KeyStatus]


@dataclass(frozen=True)
class RegistrationResult:
    """What a completed registration produced."""

    document_number: str
    state: str
    level: str
    person: dict[str, str]
    certificates: dict[str, bytes]


def _interactions(obj: Mapping[str, Any]) -> tuple[Interaction, ...]:
    raw = obj.get("interactions") or []
    if not isinstance(raw, list) or len(raw) > 16:
        raise ProtocolError("'interactions' must be a list")
    interactions = []
    for item in raw:
        entry = json_object(item, "interaction")
        text = string(entry, "displayText200", optional=True) or string(
            entry, "displayText60", optional=True
        )
        interactions.append(Interaction(type=required_string(entry, "type"), text=text))
    return tuple(interactions)


def _vc_choices(obj: Mapping[str, Any]) -> tuple[str, ...] | None:
    raw = obj.get("vcChoices")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(
        isinstance(c, str) and len(c) == 4 and c.isdigit() for c in raw
    ):
        raise ProtocolError("'vcChoices' must be a list of 4-digit codes")
    return tuple(raw)


def parse_transaction(data: object) -> Transaction:
    """Parse one §3.2 transaction object (ProtocolError when it breaks the contract)."""
    obj = json_object(data, "transaction")
    kind = required_string(obj, "kind")
    if kind not in KINDS:
        raise ProtocolError(f"unknown transaction kind {kind!r}")
    interactions = _interactions(obj)
    choices = _vc_choices(obj)
    signing = kind != CERTIFICATE_CHOICE
    purpose = string(obj, "purpose", optional=not signing)
    if purpose is not None and purpose not in PURPOSES:
        raise ProtocolError("'purpose' must be AUTH or SIGN")
    n_raw = base64_field(obj, "n") if signing else None
    return Transaction(
        id=lower_uuid(field(obj, "id"), "id"),
        state=required_string(obj, "state"),
        kind=kind,
        document_number=document_number(field(obj, "documentNumber")),
        purpose=purpose,
        rp_name=required_string(obj, "rpName"),
        hash=base64_field(obj, "hash") if signing else None,
        hash_type=string(obj, "hashType", optional=not signing),
        padding=string(obj, "padding", optional=not signing),
        salt=base64_field(obj, "salt") if obj.get("salt") is not None else None,
        n=None if n_raw is None else int.from_bytes(n_raw, "big"),
        interactions=interactions,
        vc_choices=choices,
        expires_at=string(obj, "expiresAt", optional=True),
    )


def parse_result(answer: Mapping[str, Any]) -> ConfirmResult:
    """The status of a confirmation or CSR signature (with tries left and lock time)."""
    return ConfirmResult(
        status=required_string(answer, "status"),
        tries_left=optional_int(answer, "triesLeft"),
        locked_until=string(answer, "lockedUntil", optional=True),
    )


def parse_accounts(answer: Mapping[str, Any]) -> list[AccountStatus]:
    """The §4 ``GET /accounts`` answer: each account with its keys' states."""
    items = field(answer, "accounts")
    if not isinstance(items, list):
        raise ProtocolError("'accounts' must be a list")
    result = []
    for item in items:
        entry = json_object(item, "account")
        keys = {}
        for purpose, value in json_object(entry.get("keys") or {}, "keys").items():
            key = json_object(value, purpose)
            keys[str(purpose)] = KeyStatus(
                state=required_string(key, "state"),
                tries_left=optional_int(key, "triesLeft"),
                locked_until=string(key, "lockedUntil", optional=True),
            )
        result.append(
            AccountStatus(
                document_number=required_string(entry, "documentNumber"),
                state=required_string(entry, "state"),
                level=string(entry, "level", optional=True) or "",
                keys=keys,
            )
        )
    return result
