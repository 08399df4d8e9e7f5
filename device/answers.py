"""What the app returns to its caller: transactions, confirmation results, account states
and registration results, parsed from the service's answers and checked (§2-§4 of
docs/app-api.md).
"""

from __future__ import annotations

import dataclasses
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
from signing.engine import EngineError, v3_hash, vc_for_rp_challenge, verification_code

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
#: The signature protocols of RP API v3 transactions (absent for v1/v2 ones).
ACSP_V2 = "ACSP_V2"
RAW_DIGEST_SIGNATURE = "RAW_DIGEST_SIGNATURE"
PROTOCOLS = frozenset({ACSP_V2, RAW_DIGEST_SIGNATURE})
#: How a v3 transaction reached the app.
FLOW_TYPES = frozenset({"QR", "Web2App", "App2App", "Notification"})
#: ``vcShownOn``: where the code to pick is shown when the app cannot know it. A
#: registration prompt's code is on the screen of the device being registered.
NEW_DEVICE = "NEW_DEVICE"
VC_SHOWN_ON = frozenset({NEW_DEVICE})
#: What an ACSP_V2 transaction's protocolParameters must hold (docs/app-api.md): the app
#: builds the payload it signs from them. ``brokeredRpName`` and ``rpName`` are optional.
ACSP_PARAMETERS = (
    "schemeName",
    "serverRandom",
    "rpChallenge",
    "interactions",
    "initialCallbackUrl",
    "hashAlgorithm",
)


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
    #: RP API v3 only: ACSP_V2 or RAW_DIGEST_SIGNATURE (None for v1/v2 and certificate
    #: choices), the flow type (QR, Web2App, App2App, Notification), the parameters the
    #: ACSP_V2 payload is built from, and the code the service says the e-service shows.
    protocol: str | None = None
    flow_type: str | None = None
    protocol_parameters: Mapping[str, str] | None = dataclasses.field(default=None, hash=False)
    vc: str | None = None
    #: Where the code to pick is shown when the app cannot know it (``NEW_DEVICE``: a
    #: registration prompt); None when the code is the hash's or the service's.
    vc_shown_on: str | None = None

    @property
    def is_v3(self) -> bool:
        """True for a transaction of an RP API v3 session."""
        return self.flow_type is not None

    @property
    def verification_code(self) -> str | None:
        """The code to show, computed here where the app can: v1/v2 from the hash, a v3
        notification authentication from the rpChallenge (checked against the service's
        when parsed). A v3 signature's code is chosen by the service (the RP shows the
        same one), so it is the service's; device-link flows show none, and neither does
        a registration prompt (the new device shows it: the user must pick it).
        """
        if self.vc_shown_on is not None:
            return None
        if not self.is_v3:
            return None if self.hash is None else verification_code(self.hash)
        if self.vc is None:
            return None
        if self.protocol == ACSP_V2 and self.protocol_parameters is not None:
            return vc_for_rp_challenge(self.protocol_parameters["rpChallenge"])
        return self.vc

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
    #: ACSP_V2 only: the verifier behind the userChallenge the app sent; it goes to the
    #: relying party in the callback URL of a same-device flow, and nowhere else.
    user_challenge_verifier: str | None = None

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
    #: §8: when the certificates expire (ISO 8601 UTC), whether they have, and whether the
    #: service asks for a re-key now (its notice period has begun).
    valid_until: str | None = None
    expired: bool = False
    renewal_due: bool = False


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


def _v3_fields(obj: Mapping[str, Any], kind: str) -> tuple[str | None, str | None]:
    """The protocol and flow type of a v3 transaction (both None for v1/v2)."""
    protocol = string(obj, "protocol", optional=True)
    flow_type = string(obj, "flowType", optional=True)
    if protocol is not None and protocol not in PROTOCOLS:
        raise ProtocolError(f"unknown signature protocol {protocol!r}")
    if flow_type is not None and flow_type not in FLOW_TYPES:
        raise ProtocolError(f"unknown flow type {flow_type!r}")
    if protocol is not None and flow_type is None:
        raise ProtocolError("a v3 transaction needs its 'flowType'")
    if (protocol is None) != (kind == CERTIFICATE_CHOICE) and flow_type is not None:
        raise ProtocolError("a v3 transaction has a protocol unless it is a certificate choice")
    return protocol, flow_type


def _protocol_parameters(obj: Mapping[str, Any], protocol: str | None) -> dict[str, str] | None:
    raw = obj.get("protocolParameters")
    if protocol is None or raw is None:
        if protocol == ACSP_V2:
            raise ProtocolError("an ACSP_V2 transaction needs its 'protocolParameters'")
        return None
    params = json_object(raw, "protocolParameters")
    if len(params) > 32:
        raise ProtocolError("'protocolParameters' has too many fields")
    result = {}
    for name in params:
        value = string(params, str(name), optional=True)
        if value is not None:
            result[str(name)] = value
    if protocol == ACSP_V2:
        missing = [name for name in ACSP_PARAMETERS if name not in result]
        if missing:
            raise ProtocolError(f"'protocolParameters' lacks {', '.join(missing)}")
    return result


def _vc(obj: Mapping[str, Any]) -> str | None:
    value = string(obj, "vc", optional=True)
    if value is not None and (len(value) != 4 or not value.isdigit()):
        raise ProtocolError("'vc' must be 4 digits")
    return value


def _check_shown_elsewhere(tx: Transaction) -> None:
    """A code shown on another screen is picked, never shown or sent here: the prompt
    must be a code choice with choices, and must not carry the code itself."""
    if tx.vc_shown_on not in VC_SHOWN_ON:
        raise ProtocolError(f"unknown 'vcShownOn' {tx.vc_shown_on!r}")
    if tx.vc is not None or tx.is_v3 or not tx.needs_vc_choice or not tx.vc_choices:
        raise ProtocolError("a code shown on another device must be picked from 'vcChoices'")


def _check_acsp(tx: Transaction) -> None:
    """An ACSP_V2 transaction's parameters must agree with what else it says: the hash it
    is signed with, and the code computed here from the rpChallenge (the service's code is
    never shown unchecked).
    """
    params = tx.protocol_parameters or {}
    try:
        expected_hash = v3_hash(params.get("hashAlgorithm")).value
        code = tx.verification_code
    except EngineError as exc:
        raise ProtocolError(f"bad ACSP_V2 parameters: {exc}") from None
    if tx.hash_type != expected_hash or tx.padding != "PSS" or tx.salt is None:
        raise ProtocolError("an ACSP_V2 transaction is an RSASSA-PSS signature of its hash")
    if tx.vc is not None and code != tx.vc:
        raise ProtocolError("the service's verification code is not the rpChallenge's")


def parse_transaction(data: object) -> Transaction:
    """Parse one §3.2 transaction object (ProtocolError when it breaks the contract).

    v3 transactions carry ``protocol``, ``flowType``, ``protocolParameters`` and ``vc``;
    an ACSP_V2 one has no ``hash`` (the digest depends on the user challenge the app
    draws when it signs, :mod:`device.acsp`).
    """
    obj = json_object(data, "transaction")
    kind = required_string(obj, "kind")
    if kind not in KINDS:
        raise ProtocolError(f"unknown transaction kind {kind!r}")
    protocol, flow_type = _v3_fields(obj, kind)
    interactions = _interactions(obj)
    choices = _vc_choices(obj)
    signing = kind != CERTIFICATE_CHOICE
    purpose = string(obj, "purpose", optional=not signing)
    if purpose is not None and purpose not in PURPOSES:
        raise ProtocolError("'purpose' must be AUTH or SIGN")
    n_raw = base64_field(obj, "n") if signing else None
    tx = Transaction(
        id=lower_uuid(field(obj, "id"), "id"),
        state=required_string(obj, "state"),
        kind=kind,
        document_number=document_number(field(obj, "documentNumber")),
        purpose=purpose,
        rp_name=required_string(obj, "rpName"),
        hash=base64_field(obj, "hash") if signing and protocol != ACSP_V2 else None,
        hash_type=string(obj, "hashType", optional=not signing),
        padding=string(obj, "padding", optional=not signing),
        salt=base64_field(obj, "salt") if obj.get("salt") is not None else None,
        n=None if n_raw is None else int.from_bytes(n_raw, "big"),
        interactions=interactions,
        vc_choices=choices,
        expires_at=string(obj, "expiresAt", optional=True),
        protocol=protocol,
        flow_type=flow_type,
        protocol_parameters=_protocol_parameters(obj, protocol),
        vc=_vc(obj),
        vc_shown_on=string(obj, "vcShownOn", optional=True),
    )
    if protocol == ACSP_V2:
        _check_acsp(tx)
    if tx.vc_shown_on is not None:
        _check_shown_elsewhere(tx)
    return tx


def parse_result(
    answer: Mapping[str, Any], *, user_challenge_verifier: str | None = None
) -> ConfirmResult:
    """The status of a confirmation or CSR signature (with tries left and lock time)."""
    return ConfirmResult(
        status=required_string(answer, "status"),
        tries_left=optional_int(answer, "triesLeft"),
        locked_until=string(answer, "lockedUntil", optional=True),
        user_challenge_verifier=user_challenge_verifier,
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
                valid_until=string(entry, "validUntil", optional=True),
                expired=entry.get("expired") is True,
                renewal_due=entry.get("renewalDue") is True,
            )
        )
    return result
