"""A virtual user: answers every transaction of one device with a fixed outcome.

The demo (docs/demo.md) runs one :class:`AutoResponder` per demo account, so relying-party
developers see each end result of SK's demo table without a phone. It answers through the
ordinary app API, like the reference app, so an OK answer is a real split-key signature.

| outcome | answer |
|---|---|
| ``OK`` | approve with PIN1 (AUTH) or PIN2 (SIGN); a certificate choice needs no PIN |
| ``USER_REFUSED`` | refuse on the screen shown (see below) |
| ``USER_REFUSED_<X>`` | refuse naming the interaction X (:data:`REFUSED_INTERACTIONS`) |
| ``WRONG_VC`` | pick a wrong code from the offered ones (see below) |
| ``TIMEOUT`` | nothing: the transaction expires |

Whatever its outcome, a virtual user refuses a registration prompt (an existing account
asked to approve a new device, ``vc_shown_on``): the code to pick is on the new device's
screen, which it cannot see, and picking blind is what the prompt is there to prevent.

* ``USER_REFUSED``: the app API has no refusal without a screen, so the refusal names the
  interaction on screen (``certificateChoice`` for a certificate choice). RP API v1 reads
  every refusal as USER_REFUSED; v2 reads ``USER_REFUSED_<that screen>``.
* ``USER_REFUSED_<X>`` names X whatever a v1/v2 transaction offers, as SK's demo answers
  with the documented code whatever the request. RP API v3 reports the refused
  interaction itself (USER_REFUSED_INTERACTION with ``details.interaction``), and a v3
  refusal must name an interaction that was offered: X when it was, else the first one
  offered (as SK's demo; a certificate choice offers none and names ``certificateChoice``).
* ``WRONG_VC`` needs a code choice (``verificationCodeChoice`` or
  ``confirmationMessageAndVerificationCodeChoice`` used). Without one the code is only
  shown, and a user who sees a code that differs from the e-service's cancels: the
  refusal names the screen shown. A certificate choice shows no code and is confirmed.

v3 transactions (ACSP_V2 authentications, RAW_DIGEST_SIGNATURE signatures, certificate
choices) are answered by the same rules; the device app builds the ACSP_V2 digest.

``delay`` holds each answer back a moment (``demo_devices --delay``, 1.5 s by default), so a
relying party's test that polls the session sees it RUNNING before it completes, as on
SK's demo.

Imports :mod:`device` and nothing else of ours (the device app's layering rule).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable

from device.answers import CERTIFICATE_CHOICE, Transaction
from device.app import DeviceApp
from device.errors import ApiError, DeviceError, InputError, NetworkError
from device.wire import API

#: The fixed PINs of every demo device (PIN1 for authentication, PIN2 for signatures).
DEMO_PIN1 = "1234"
DEMO_PIN2 = "12345"
#: The refusal outcomes and the interaction each one names (app API §3.4).
REFUSED_INTERACTIONS = {
    "USER_REFUSED_DISPLAYTEXTANDPIN": "displayTextAndPIN",
    "USER_REFUSED_VC_CHOICE": "verificationCodeChoice",
    "USER_REFUSED_CONFIRMATIONMESSAGE": "confirmationMessage",
    "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE": (
        "confirmationMessageAndVerificationCodeChoice"
    ),
    "USER_REFUSED_CERT_CHOICE": "certificateChoice",
}
OUTCOMES = ("OK", "USER_REFUSED", *REFUSED_INTERACTIONS, "WRONG_VC", "TIMEOUT")
#: What :meth:`AutoResponder.handle` returns for a transaction it leaves alone.
IGNORED = "IGNORED"
#: How often an answer that failed for a passing reason (network, 5xx) is tried.
ATTEMPTS = 3
#: How many answered transaction ids are remembered (a pending list repeats them).
_REMEMBER = 1000
#: The pause before an answer in the running demo (seconds; ``demo_devices --delay``).
DEFAULT_DELAY = 1.5
#: The screen a certificate choice shows (it offers no interactions).
CERTIFICATE_CHOICE_SCREEN = "certificateChoice"


def refused_interaction(tx: Transaction, outcome: str) -> str:
    """The interaction a refusal of ``outcome`` names (see the module's docstring)."""
    named = REFUSED_INTERACTIONS[outcome]
    if not tx.is_v3:
        return named
    offered = [item.type for item in tx.interactions]
    if not offered:
        return CERTIFICATE_CHOICE_SCREEN
    return named if named in offered else offered[0]


class AutoResponder:
    """Answers the transactions of ``app`` (a registered device) with ``outcome``."""

    def __init__(
        self,
        app: DeviceApp,
        outcome: str,
        pin1: str = DEMO_PIN1,
        pin2: str = DEMO_PIN2,
        *,
        log: Callable[[str], None] | None = None,
        delay: float = 0.0,
    ) -> None:
        if outcome not in OUTCOMES:
            raise InputError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
        if not 0 <= delay <= 60:
            raise InputError("delay must be 0-60 seconds")
        self.app = app
        self.outcome = outcome
        self.delay = delay
        self._pins = {"AUTH": pin1, "SIGN": pin2}
        self._log = log or (lambda line: None)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._attempts: dict[str, int] = {}

    def _refuse(self, tx: Transaction, interaction: str) -> str:
        """Refuse naming ``interaction``.

        :meth:`DeviceApp.refuse` always names the interaction on screen; the demo must
        name the one of its outcome, so this sends §3.4 itself over the app's signed
        transport.
        """
        answer = self.app._send(
            "POST",
            f"{API}/transactions/{tx.id}/refuse",
            json.dumps({"interaction": interaction}).encode(),
            device_id=self.app._signed_device(),
        )
        return str(answer.get("status", ""))

    def handle(self, tx: Transaction) -> str:
        """Answer one transaction; returns the service's status (``OK``, ``REFUSED``,
        ``WRONG_VC``, …) or :data:`IGNORED`. App errors propagate (:class:`DeviceError`).
        """
        outcome = self.outcome
        if outcome == "TIMEOUT":
            return IGNORED
        if tx.vc_shown_on is not None:
            return self.app.refuse(tx)
        if outcome in REFUSED_INTERACTIONS:
            return self._refuse(tx, refused_interaction(tx, outcome))
        if outcome == "USER_REFUSED":
            return self.app.refuse(tx, general=True)
        if tx.kind == CERTIFICATE_CHOICE:
            return self.app.approve(tx).status
        assert tx.purpose is not None  # every signing transaction has one
        pin = self._pins[tx.purpose]
        if outcome == "OK":
            return self.app.approve(tx, pin).status
        # WRONG_VC
        if not tx.needs_vc_choice:
            return self.app.refuse(tx)
        wrong = [code for code in tx.vc_choices or () if code != tx.verification_code]
        if not wrong:
            return self.app.refuse(tx)
        return self.app.approve(tx, pin, vc=wrong[0]).status

    def run(self, stop: threading.Event, poll_ms: int = 30_000) -> None:
        """Long-poll and answer until ``stop`` is set (checked between polls, so it takes
        up to ``poll_ms`` to end). A transaction whose answer failed for a passing reason
        (network, a 5xx) is tried again, up to :data:`ATTEMPTS` times; other errors are
        logged and the transaction is left to time out. Each answer waits ``delay``
        seconds first.
        """
        while not stop.is_set():
            try:
                pending = self.app.pending(timeout_ms=poll_ms)
            except DeviceError as exc:
                if stop.is_set():
                    return  # the client was closed under the poll: shutting down
                self._log(f"{self._name()}: cannot fetch transactions: {exc}")
                stop.wait(2.0)
                continue
            fresh = [tx for tx in pending if tx.id not in self._seen]
            retry = False
            for tx in fresh:
                if stop.is_set() or (self.delay and stop.wait(self.delay)):
                    return
                retry |= not self._answer(tx)
            if retry:
                stop.wait(0.5)
            elif pending and not fresh:
                # Only transactions it leaves to time out: the long poll would return at
                # once, so wait a moment instead of spinning.
                stop.wait(min(1.0, poll_ms / 1000))

    def _answer(self, tx: Transaction) -> bool:
        """Handle and log one transaction; False when it should be tried again."""
        try:
            status = self.handle(tx)
        except DeviceError as exc:
            attempts = self._attempts.pop(tx.id, 0) + 1
            passing = isinstance(exc, NetworkError) or (
                isinstance(exc, ApiError) and exc.status >= 500
            )
            if passing and attempts < ATTEMPTS:
                self._attempts[tx.id] = attempts
                return False
            if isinstance(exc, ApiError) and exc.error == "transaction_finished":
                status = "too late (another device of the person answered, or it expired)"
            else:
                status = f"failed: {exc}"
        self._attempts.pop(tx.id, None)
        self._remember(tx.id)
        self._log(
            f"{tx.document_number}: {tx.kind.lower()} {tx.id} from {tx.rp_name!r} "
            f"-> {self.outcome}: {status}"
        )
        return True

    def _remember(self, transaction_id: str) -> None:
        self._seen[transaction_id] = None
        while len(self._seen) > _REMEMBER:
            self._seen.popitem(last=False)

    def _name(self) -> str:
        accounts = self.app.local_accounts()
        return accounts[0].document_number if accounts else "unregistered device"
