"""Rotating the device key and following a transport key rotation (docs/app-api.md §9).

Device key (§9.1): the new key is made and saved as ``pendingDeviceKey`` *before* the
request that registers it, then sent, signed with the current key, with the new key's
proof of possession bound to that request's nonce — once for every device id this state
holds (each registration made one). Only when every one has it does the new key become
the device key. If the app dies or an answer is lost on the way, the service may know the
new key already: every signed call that the service refuses as ``bad_signature`` is sent
again signed with the pending key (:meth:`device.session.Session.request`), and running
the rotation again finishes it with the same pending key (the service answers
``UNCHANGED`` where it has it).

Transport key (§9.2): :meth:`device.session.Session.update_transport_key`.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import ec

from device.errors import ApiError, ProtocolError, StateError
from device.session import Session, answer_of, is_bad_signature
from device.state import b64
from device.wire import API, required_string, to_json
from signing.engine import appauth, public_key_der
from signing.engine.rotation import prove_device_key

#: Answers of the service that say the new key itself is refused: it is dropped.
KEY_REFUSED = frozenset({"invalid_key", "bad_proof", "key_reused"})


class DeviceKeys:
    """The §9 calls of one device."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def device_ids(self) -> list[str]:
        """Every device id this state signs for (the newest registration's first)."""
        state = self._session.state
        ids = [self._session.signed_device()]
        for account in state.accounts.values():
            if account.device_id not in ids:
                ids.append(account.device_id)
        return ids

    def rotate_device_key(self) -> list[str]:
        """Give every device id of this state a new device key (§9.1); returns the
        service's status per device id (``ROTATED``, or ``UNCHANGED`` where an earlier,
        interrupted run had registered it already)."""
        session = self._session
        with session.lock:
            if session.state.device_key is None:
                raise StateError("no device key: register first")
            if session.state.pending_device_key is None:
                session.state.pending_device_key = ec.generate_private_key(ec.SECP256R1())
                session.save()  # before the service can learn it: never lose the key it knows
            new = session.state.pending_device_key
        statuses = []
        for number, device_id in enumerate(self.device_ids()):
            try:
                statuses.append(self._rotate_one(device_id, new))
            except ApiError as exc:
                if number == 0 and exc.error in KEY_REFUSED:
                    with session.lock:  # nothing took it: a later rotation starts afresh
                        session.state.pending_device_key = None
                        session.save()
                raise
        with session.lock:
            session.state.device_key = new
            session.state.pending_device_key = None
            session.save()
        return statuses

    def _rotate_one(self, device_id: str, new: ec.EllipticCurvePrivateKey) -> str:
        """One device id's rotation: signed with the current key, or — when the service
        refuses that (it took the new key from an answer that got lost) — with the new one."""
        response = None
        for signing_key in (self._session.state.device_key, new):
            nonce = appauth.new_nonce()
            body = to_json(
                {
                    "publicKey": b64(public_key_der(new.public_key())),
                    "proof": b64(prove_device_key(new, device_id, nonce)),
                }
            )
            response = self._session.send_once(
                "POST",
                f"{API}/device/key",
                body,
                device_id=device_id,
                signing_key=signing_key,
                nonce=nonce,
            )
            if not is_bad_signature(response):
                break
        assert response is not None  # noqa: S101 - the loop ran
        answer = answer_of(response)
        status = required_string(answer, "status")
        if status not in {"ROTATED", "UNCHANGED"}:
            raise ProtocolError(f"unexpected device key status {json.dumps(status)}")
        return status
