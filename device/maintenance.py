"""Keys and accounts (docs/app-api.md §4): rotating a key's one-time clone-detection token
without signing, and the service's view of this device's accounts.
"""

from __future__ import annotations

from device.answers import AccountStatus, parse_accounts
from device.errors import InputError
from device.retransmit import key_call, new_rnonce, recover
from device.session import Session
from device.state import PURPOSES, b64
from device.wire import API, required_string, string
from signing.engine.rotation import key_id


class Maintenance:
    """The §4 calls of one device: see each method."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def refresh(self, document_number: str, purpose: str) -> str:
        """Rotate a key's one-time token without signing (§4); returns ``OK`` or
        ``TOKEN_MISMATCH`` (the key is then suspect at the service).
        """
        if purpose not in PURPOSES:
            raise InputError("purpose must be AUTH or SIGN")
        account = self._session.account(document_number)
        key = self._session.key(account, purpose)
        with self._session.key_lock(document_number, purpose):
            recover(self._session, account, key)
            assert key.token is not None  # noqa: S101 - key() checked
            answer = key_call(
                self._session,
                account,
                key,
                "refresh",
                f"{API}/keys/{document_number}/{purpose}/refresh",
                {"token": b64(key.token), "rnonce": new_rnonce()},
            )
        return required_string(answer, "status")

    def accounts(self) -> list[AccountStatus]:
        """This device's accounts and key states as the service sees them (§4)."""
        answer = self._session.send(
            "GET", f"{API}/accounts", None, device_id=self._session.signed_device()
        )
        accounts = parse_accounts(answer)
        # §9.2: the service names its current transport key; a new one is fetched (and
        # pinned only if the pinned key endorsed it) before the next envelope is sealed.
        announced = string(answer, "transportKeyId", optional=True)
        pinned = self._session.state.transport_key
        if announced is not None and pinned is not None and announced != key_id(pinned):
            self._session.update_transport_key()
        return accounts
