"""Transactions (docs/app-api.md §3): the pending long poll, a transaction's details,
confirming it (the split signature, with the verification-code choice when asked) and
refusing it.

RP API v3 transactions are answered the same way; an ACSP_V2 one has no hash from the
service: the app builds the digest itself (:mod:`device.acsp`) and sends its user
challenge with the confirmation.
"""

from __future__ import annotations

import secrets
from typing import Any

from device.acsp import acsp_signature
from device.answers import (
    ACSP_V2,
    CERTIFICATE_CHOICE,
    VC_CHOICE_INTERACTIONS,
    ConfirmResult,
    Interaction,
    Transaction,
    parse_result,
    parse_transaction,
)
from device.errors import ApiError, InputError, ProtocolError
from device.pins import PIN_MIN_LENGTH, check_pin
from device.retransmit import RNONCE_BYTES, key_call, recover
from device.session import Session
from device.state import b64
from device.wire import API, field, lower_uuid, required_string, to_json
from signing.engine import (
    EngineError,
    client_partial_for_digest,
    transaction_aad,
)

#: The service's answer to an envelope sealed to a retired transport key (§9.2).
TRANSPORT_KEY_RETIRED = "transport_key_retired"
#: Longest wait the app asks of the service in one long poll.
MAX_LONG_POLL_MS = 120_000
#: Most transactions one long poll may return.
MAX_PENDING = 100


class Transactions:
    """The §3 flow of one device: see each method."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def pending(self, timeout_ms: int = 30_000) -> list[Transaction]:
        """Long-poll for transactions waiting for this device (§3.1)."""
        if type(timeout_ms) is not int or not 0 <= timeout_ms <= MAX_LONG_POLL_MS:
            raise InputError(f"timeout_ms must be 0-{MAX_LONG_POLL_MS}")
        answer = self._session.send(
            "GET",
            f"{API}/transactions/pending?timeoutMs={timeout_ms}",
            None,
            device_id=self._session.signed_device(),
            # the service holds the call up to timeout_ms: the client waits a little longer
            timeout=timeout_ms / 1000 + 15,
        )
        items = field(answer, "transactions")
        if not isinstance(items, list) or len(items) > MAX_PENDING:
            raise ProtocolError("'transactions' must be a list")
        return [parse_transaction(item) for item in items]

    def transaction(self, transaction_id: str) -> Transaction:
        """The details of one transaction (§3.2)."""
        tx_id = _transaction_id(transaction_id)
        answer = self._session.send(
            "GET", f"{API}/transactions/{tx_id}", None, device_id=self._session.signed_device()
        )
        tx = parse_transaction(answer)
        if tx.id != tx_id:
            raise ProtocolError("the service answered with another transaction")
        return tx

    def approve(
        self,
        tx: Transaction | str,
        pin: str | None = None,
        *,
        vc: str | None = None,
        rnonce: bytes | None = None,
    ) -> ConfirmResult:
        """Confirm a transaction (§3.3); see :meth:`device.app.DeviceApp.approve`.

        An envelope refused as sealed to a retired transport key (nothing was evaluated)
        makes the app fetch the endorsed new key (§9.2) and confirm once more.
        """
        try:
            return self._approve(tx, pin, vc=vc, rnonce=rnonce)
        except ApiError as exc:
            if exc.error != TRANSPORT_KEY_RETIRED or not self._session.update_transport_key():
                raise
        return self._approve(tx, pin, vc=vc, rnonce=rnonce)

    def _approve(
        self,
        tx: Transaction | str,
        pin: str | None,
        *,
        vc: str | None,
        rnonce: bytes | None,
    ) -> ConfirmResult:
        tx = self._resolve(tx)
        if tx.kind == CERTIFICATE_CHOICE:
            return self._choose_certificate(tx)
        if tx.state != "PENDING":
            raise InputError(f"transaction {tx.id} is {tx.state}, not PENDING")
        interaction = _supported_interaction(tx)
        account = self._session.account(tx.document_number)
        assert tx.purpose is not None  # noqa: S101 - parse_transaction requires it
        key = self._session.key(account, tx.purpose)
        pin = check_pin(pin, tx.purpose)
        if tx.n != key.n:
            raise ProtocolError("the transaction is for another key than the one stored")
        payload: dict[str, object] = {"interaction": interaction.type}
        if interaction.type in VC_CHOICE_INTERACTIONS:
            payload["vc"] = _chosen_code(tx, vc)
        if rnonce is None:
            rnonce = secrets.token_bytes(RNONCE_BYTES)
        if not isinstance(rnonce, bytes) or len(rnonce) != RNONCE_BYTES:
            raise InputError("rnonce must be 16 bytes")
        verifier = None
        digest = tx.hash
        if tx.protocol == ACSP_V2:
            acsp = acsp_signature(tx, interaction)
            digest, verifier = acsp.digest, acsp.verifier
            payload["userChallenge"] = acsp.user_challenge
            payload["digest"] = b64(acsp.digest)
        assert digest is not None and tx.hash_type is not None and tx.padding is not None  # noqa: S101
        self._session.transport_key()  # StateError before the PIN is used
        with self._session.key_lock(account.document_number, tx.purpose):
            recover(self._session, account, key)
            assert key.n is not None and key.token is not None  # noqa: S101 - key() checked
            try:
                s1_prime = client_partial_for_digest(
                    key.blob,
                    pin,
                    n=key.n,
                    digest=digest,
                    hash_alg=tx.hash_type,
                    padding=tx.padding,
                    salt=tx.salt if tx.padding == "PSS" else None,
                    min_pin_length=PIN_MIN_LENGTH[tx.purpose],
                )
            except EngineError as exc:
                raise ProtocolError(f"cannot sign this transaction: {exc}") from None
            payload["s1p"] = self._session.seal_share(
                s1_prime, (key.blob.bits + 7) // 8, transaction_aad(tx.id)
            )
            del s1_prime
            payload["token"] = b64(key.token)
            payload["rnonce"] = b64(rnonce)
            answer = key_call(self._session, account, key, "confirm", _confirm_path(tx), payload)
        return parse_result(answer, user_challenge_verifier=verifier)

    def refuse(self, tx: Transaction | str, *, general: bool = False) -> str:
        """Refuse a transaction (§3.4); see :meth:`device.app.DeviceApp.refuse`."""
        tx = self._resolve(tx)
        body: dict[str, object] = {}
        if not general:
            if tx.kind == CERTIFICATE_CHOICE:
                body["interaction"] = "certificateChoice"
            else:
                body["interaction"] = _supported_interaction(tx).type
        answer = self._post(f"{API}/transactions/{tx.id}/refuse", body)
        return required_string(answer, "status")

    def _choose_certificate(self, tx: Transaction) -> ConfirmResult:
        """A certificate choice needs no PIN and no key: the device only says yes."""
        return parse_result(self._post(_confirm_path(tx), {"interaction": "certificateChoice"}))

    def _post(self, path: str, payload: dict[str, object]) -> dict[str, Any]:
        return self._session.send(
            "POST", path, to_json(payload), device_id=self._session.signed_device()
        )

    def _resolve(self, tx: Transaction | str) -> Transaction:
        return tx if isinstance(tx, Transaction) else self.transaction(tx)


def _transaction_id(value: object) -> str:
    try:
        return lower_uuid(value, "transaction id")
    except ProtocolError:
        raise InputError("a transaction id is a lower-case UUID") from None


def _confirm_path(tx: Transaction) -> str:
    return f"{API}/transactions/{tx.id}/confirm"


def _supported_interaction(tx: Transaction) -> Interaction:
    chosen = tx.interaction
    if chosen is None:
        raise ProtocolError("the transaction offers no interaction this app supports")
    return chosen


def _chosen_code(tx: Transaction, vc: str | None) -> str:
    """The code to send for a verification-code choice: the user's pick, or the one
    computed here; the offered codes must include this transaction's code. A code shown
    on another device (a registration prompt) cannot be computed here: only the user's
    pick is sent, and without one nothing is.
    """
    if tx.vc_shown_on is not None:
        if vc is None:
            raise InputError("pick the code your new device shows (vc)")
        chosen = vc
    else:
        correct = tx.verification_code
        if tx.vc_choices is None or correct not in tx.vc_choices:
            raise ProtocolError("the offered codes do not include this transaction's code")
        chosen = correct if vc is None else vc
    if not isinstance(chosen, str) or len(chosen) != 4 or not chosen.isdigit():
        raise InputError("a verification code is 4 digits")
    return chosen
