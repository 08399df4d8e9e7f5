"""Opening an RP API v3 device link (docs/app-api.md, ``POST /app/v1/device-links``): what
the app does when the user scans a QR code or follows a Web2App/App2App link.

The app hands the link to the service, which checks it (authCode, QR age, first opening,
the account) and answers with the one transaction the link stands for. The app answers
that transaction and no other: it never signs on the strength of a link alone, and a
link the service refuses ends there (:class:`~device.errors.ApiError`, nothing signed).

It checks that the answer fits the link it opened — the session type, the flow type,
one of its own accounts, and for a same-device link the callback the signature covers —
and builds the callback URL the phone would open when done
(:func:`signing.engine.callback_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device.answers import (
    ACSP_V2,
    CERTIFICATE_CHOICE,
    RAW_DIGEST_SIGNATURE,
    Transaction,
    parse_transaction,
)
from device.errors import InputError, ProtocolError
from device.session import Session
from device.wire import API, field, json_object, required_string, to_json
from signing.engine import (
    DeviceLink,
    DeviceLinkType,
    EngineError,
    InvalidDeviceLink,
    SessionType,
    callback_url,
    parse_device_link,
)

#: The transaction kind and protocol each session type of a link stands for.
_EXPECTED = {
    SessionType.AUTH: ("AUTHENTICATION", ACSP_V2),
    SessionType.SIGN: ("SIGNATURE", RAW_DIGEST_SIGNATURE),
    SessionType.CERT: (CERTIFICATE_CHOICE, None),
}


@dataclass(frozen=True)
class OpenedLink:
    """A device link the service accepted: its transaction, and for a same-device link
    the callback (``initialCallbackUrl`` and ``sessionSecretDigest``)."""

    link: DeviceLink
    transaction: Transaction
    initial_callback_url: str | None = None
    session_secret_digest: str | None = None

    def callback_url(self, user_challenge_verifier: str | None = None) -> str | None:
        """The URL to open when done (None for a QR code: the user is on another screen).
        An authentication passes the verifier of its user challenge; a refusal or a
        signature passes none.
        """
        if self.initial_callback_url is None or self.session_secret_digest is None:
            return None
        try:
            return callback_url(
                self.initial_callback_url,
                session_secret_digest=self.session_secret_digest,
                user_challenge_verifier=user_challenge_verifier,
            )
        except EngineError as exc:
            raise ProtocolError(f"cannot build the callback URL: {exc}") from None


class DeviceLinks:
    """The device-link flow of one device."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def open(self, url: str) -> OpenedLink:
        """Open ``url``: InputError for something that is not a device link (nothing is
        sent), ApiError when the service refuses it, ProtocolError when its answer does
        not fit the link.
        """
        try:
            link = parse_device_link(url)
        except InvalidDeviceLink as exc:
            raise InputError(str(exc)) from None
        answer = self._session.send(
            "POST",
            f"{API}/device-links",
            to_json({"deviceLink": url}),
            device_id=self._session.signed_device(),
        )
        tx = parse_transaction(field(answer, "transaction"))
        _check_fits(link, tx)
        with self._session.lock:
            ours = tx.document_number in self._session.state.accounts
        if not ours:
            raise ProtocolError("the service answered with an account of another device")
        initial, digest = _callback(answer, link, tx)
        return OpenedLink(link, tx, initial, digest)


def _check_fits(link: DeviceLink, tx: Transaction) -> None:
    kind, protocol = _EXPECTED[link.session_type]
    if tx.kind != kind or tx.protocol != protocol:
        raise ProtocolError(f"a {link.session_type.value} link, but a {tx.kind} transaction")
    if tx.flow_type != link.link_type.value:
        raise ProtocolError(f"a {link.link_type.value} link, but a {tx.flow_type} transaction")
    if tx.state != "PENDING":
        raise ProtocolError(f"the link's transaction is {tx.state}")


def _callback(
    answer: Mapping[str, Any], link: DeviceLink, tx: Transaction
) -> tuple[str | None, str | None]:
    raw = answer.get("callback")
    if link.link_type is DeviceLinkType.QR:
        if raw is not None:
            raise ProtocolError("a QR code has no callback")
        return None, None
    if raw is None:
        raise ProtocolError(f"a {link.link_type.value} link needs a callback")
    callback = json_object(raw, "callback")
    initial = required_string(callback, "initialCallbackUrl")
    digest = required_string(callback, "sessionSecretDigest")
    signed = (tx.protocol_parameters or {}).get("initialCallbackUrl")
    if tx.protocol == ACSP_V2 and signed != initial:
        raise ProtocolError("the callback is not the one the signature covers")
    opened = OpenedLink(link, tx, initial, digest)
    opened.callback_url()  # checks both values
    return initial, digest
