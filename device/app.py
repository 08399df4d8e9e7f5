"""The reference app as a library: :class:`DeviceApp` speaks the App API (docs/app-api.md).

One :class:`DeviceApp` is one device. It is safe to share between threads: the state is
guarded by a lock, and every operation that spends a key's one-time token runs under that
key's own lock, so two threads never present the same token (the service would take the
second for a clone and close the account). Many :class:`DeviceApp` objects with
:class:`~device.state.MemoryStore` s can run in one process as virtual devices.

Every call after the ticket is signed with the device key (:func:`signing.engine.sign_request`,
a fresh ``X-Nonce`` each time, also for a retry). Key operations (CSR signature, confirm,
refresh) carry a retransmit nonce; before sending one, the app records the exact request in
its state. A network error is retried once with the same body; if the answer is still
missing, the record stays and the next operation on that key first sends it again — the
service answers a repeat identically, so the app learns its new token instead of presenting
a stale one later (which would look like a clone).

:class:`DeviceApp` is a facade: each method hands over to the flow that does the work —
:mod:`device.registration` (§2), :mod:`device.transactions` (§3),
:mod:`device.maintenance` (§4), :mod:`device.devicelinks` (RP API v3 device links),
:mod:`device.keys` (§9, rotating the device key and following the transport key), all
sharing one :class:`~device.session.Session` (state,
locks, signed HTTP); :mod:`device.retransmit` holds the retransmit-nonce rule above and
:mod:`device.answers` the parsed answers. Remote onboarding is :mod:`device.onboarding`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from device.answers import AccountStatus, ConfirmResult, RegistrationResult, Transaction
from device.devicelinks import DeviceLinks, OpenedLink
from device.errors import InputError, StateError
from device.keys import DeviceKeys
from device.maintenance import Maintenance
from device.registration import (
    DEFAULT_CERTIFICATE_WAIT,
    DEFAULT_MIN_KEY_BITS,
    ProgressCallback,
    Registration,
)
from device.renewal import Renewal, RenewalResult
from device.session import Session
from device.state import AccountRecord, DeviceState, MemoryStore, StateStore
from device.transactions import Transactions
from signing.engine import DEFAULT_KDF, KdfParams
from signing.engine.client import MAX_BITS


class DeviceApp:
    """One device speaking the App API over ``client`` (an :class:`httpx.Client` whose
    ``base_url`` is the service, e.g. ``https://eid.example``; tests pass one with an
    :class:`httpx.MockTransport`).

    ``store`` keeps the state (:class:`~device.state.FileStore` for the CLI, a fresh
    :class:`~device.state.MemoryStore` by default). ``min_key_bits`` is the smallest key size
    accepted from the service's ``keyBits`` (the service decides; the app refuses to go
    below this floor); ``kdf`` the scrypt cost for the PIN-encrypted shares; ``clock`` the
    Unix time source for ``X-Timestamp``; ``certificate_wait`` how many seconds registration
    and re-key wait for the certificates the CA issues after the CSR signatures (§2.5,
    §8.4).
    """

    def __init__(
        self,
        client: httpx.Client,
        store: StateStore | None = None,
        *,
        min_key_bits: int = DEFAULT_MIN_KEY_BITS,
        kdf: KdfParams = DEFAULT_KDF,
        platform: str = "reference-cli",
        name: str = "reference device",
        clock: Callable[[], float] = time.time,
        certificate_wait: float = DEFAULT_CERTIFICATE_WAIT,
    ) -> None:
        if type(min_key_bits) is not int or not 1024 <= min_key_bits <= MAX_BITS:
            raise InputError(f"min_key_bits must be between 1024 and {MAX_BITS}")
        self.session = Session(client, store if store is not None else MemoryStore(), clock=clock)
        self._registration = Registration(
            self.session,
            min_key_bits=min_key_bits,
            kdf=kdf,
            platform=platform,
            name=name,
            certificate_wait=certificate_wait,
        )
        self._renewal = Renewal(self.session, kdf=kdf, certificate_wait=certificate_wait)
        self._transactions = Transactions(self.session)
        self._maintenance = Maintenance(self.session)
        self._device_links = DeviceLinks(self.session)
        self._keys = DeviceKeys(self.session)

    # -- the device ----------------------------------------------------------------------

    @property
    def device_id(self) -> str | None:
        """The id the service gave this device (None before the first registration)."""
        return self.session.state.device_id

    def local_accounts(self) -> list[AccountRecord]:
        """The accounts in the local state (the app's own view; see :meth:`accounts`)."""
        with self.session.lock:
            return list(self.session.state.accounts.values())

    def device_public_key(self) -> bytes:
        """DER of this device's P-256 key, made (and saved) on first use."""
        return self.session.device_public_key()

    def open_sealed(self, envelope: object, aad: bytes, length: int) -> bytes:
        """Decrypt a secret the service sealed to this device's key (a ticket code)."""
        return self.session.open_sealed(envelope, aad, length)

    def call(
        self, method: str, path: str, payload: Mapping[str, object] | None, *, bearer: str
    ) -> dict[str, Any]:
        """One call authenticated by a bearer secret (remote onboarding, docs/app-api.md §6)."""
        return self.session.bearer_call(method, path, payload, bearer=bearer)

    # -- registration (§2) ---------------------------------------------------------------

    def register(
        self,
        ticket: str,
        pin1: str,
        pin2: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> RegistrationResult:
        """Run §2.1-2.5: redeem the ticket, make both keys, sign both CSRs with the split
        protocol, wait for the certificates and store them. PIN1 (AUTH) is 4-12 digits,
        PIN2 (SIGN) 5-12.
        """
        return self._registration.register(ticket, pin1, pin2, progress=progress)

    def renew(
        self,
        document_number: str,
        pin2: str,
        new_pin1: str,
        new_pin2: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> RenewalResult:
        """Re-key an account (§8): the current PIN2 proves the request; new keys with the
        new PINs and new certificates replace the old ones at once, or nothing changes."""
        return self._renewal.renew(document_number, pin2, new_pin1, new_pin2, progress=progress)

    def pending_renewals(self) -> dict[str, str]:
        """The accounts whose re-key waits for the service's swap: number → renewal id."""
        with self.session.lock:
            return {
                number: account.renewal.renewal_id
                for number, account in self.session.state.accounts.items()
                if account.renewal is not None
            }

    def resume_renewal(
        self,
        document_number: str,
        *,
        wait: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> RenewalResult | None:
        """Finish a re-key whose wait ran out or whose app stopped after §8.3 (None when
        the account has none): once the service has swapped, the new keys replace the old
        ones; when it ended the renewal without a swap, the new keys are dropped
        (ProtocolError); while it is still issuing, :class:`~device.errors.RenewalPending`
        and both stay. ``wait`` seconds at most (``certificate_wait`` by default)."""
        return self._renewal.resume(document_number, wait=wait, progress=progress)

    # -- transactions (§3) ---------------------------------------------------------------

    def pending(self, timeout_ms: int = 30_000) -> list[Transaction]:
        """Long-poll for transactions waiting for this device (§3.1)."""
        return self._transactions.pending(timeout_ms)

    def transaction(self, transaction_id: str) -> Transaction:
        """The details of one transaction (§3.2)."""
        return self._transactions.transaction(transaction_id)

    def approve(
        self,
        tx: Transaction | str,
        pin: str | None = None,
        *,
        vc: str | None = None,
        rnonce: bytes | None = None,
    ) -> ConfirmResult:
        """Confirm a transaction (§3.3): compute s1′ with the PIN, encrypt it to the
        transport key (AAD ``transaction:<id>``), send it with the token and a retransmit
        nonce, keep the new token.

        The first supported interaction is used. For a verification-code choice, ``vc`` is
        the code the user picked; when None, the code computed here from the hash is sent,
        except for a registration prompt (``vc_shown_on``): its code is on the new device's
        screen, so only the user's pick can be sent (InputError without one).
        ``vc`` is ignored for the other interactions (the user compares the code by eye).
        ``rnonce`` (16 bytes) is drawn when not given. A certificate choice needs no PIN.
        """
        if self.pending_renewals():
            tx = self._transactions._resolve(tx)
            renewal = self.session.account(tx.document_number).renewal
            if renewal is not None and tx.n in {k.n for k in renewal.keys.values()}:
                self._renewal.settle(tx.document_number)  # made for the new keys: swapped
        return self._transactions.approve(tx, pin, vc=vc, rnonce=rnonce)

    def refuse(self, tx: Transaction | str, *, general: bool = False) -> str:
        """Refuse a transaction (§3.4); returns the service's status (``REFUSED``).

        The refusal names the screen it happened on, unless ``general`` (a plain
        cancel, which the relying party sees as USER_REFUSED).
        """
        return self._transactions.refuse(tx, general=general)

    def open_link(self, url: str) -> OpenedLink:
        """Open an RP API v3 device link (a scanned QR code, a Web2App or App2App link):
        the service checks it and answers with its transaction, which the caller shows
        and then approves or refuses like any other. A link the service refuses raises
        :class:`~device.errors.ApiError`.
        """
        return self._device_links.open(url)

    # -- keys and accounts (§4) ----------------------------------------------------------

    def refresh(self, document_number: str, purpose: str) -> str:
        """Rotate a key's one-time token without signing (§4); returns ``OK`` or
        ``TOKEN_MISMATCH`` (the key is then suspect at the service).
        """
        if document_number in self.pending_renewals() and self._renewal.settle(document_number):
            # The service may swap any moment: the old token sent to a new key would
            # look like a clone's.
            raise StateError(
                f"a renewal of {document_number} waits for the service: run 'renew' to "
                f"finish it before refreshing its keys"
            )
        return self._maintenance.refresh(document_number, purpose)

    def accounts(self) -> list[AccountStatus]:
        """This device's accounts and key states as the service sees them (§4)."""
        return self._maintenance.accounts()

    # -- key rotation (§9) ---------------------------------------------------------------

    def rotate_device_key(self) -> list[str]:
        """Replace the device key that signs every call (§9.1), for every device id of this
        state; safe to run again after a crash or a lost answer (it finishes the same
        rotation). Returns the service's status per device id."""
        return self._keys.rotate_device_key()

    def update_transport_key(self) -> bool:
        """Fetch the service's transport key and pin it if the pinned key endorsed it
        (§9.2); True when the pin changed. A key the pin did not endorse: ProtocolError,
        and the pin stays. :meth:`accounts` and :meth:`approve` call it when needed."""
        return self.session.update_transport_key()

    # -- for callers that reach into one device ------------------------------------------
    # The demo's autoresponder sends refusals the app itself never sends (over the signed
    # transport), and tests inspect the state and reuse the client and store: these names
    # predate the split and stay as plain views of the session.

    @property
    def _client(self) -> httpx.Client:
        return self.session.client

    @property
    def _store(self) -> StateStore:
        return self.session.store

    @property
    def _state(self) -> DeviceState:
        return self.session.state

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        device_id: str | None,
        retry: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        return self.session.send(
            method, path, body, device_id=device_id, retry=retry, timeout=timeout
        )

    def _signed_device(self) -> str:
        return self.session.signed_device()
