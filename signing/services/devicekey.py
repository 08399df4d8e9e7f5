"""Rotating a device's request-signing key (docs/app-api.md §9.1)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction

from accounts.models import Device
from audit.models import AuditRecord
from audit.services import audit_record
from signing import engine
from signing.engine import rotation
from signing.services.errors import BadRequest, NotFound, WrongState


@dataclass(frozen=True)
class DeviceKeyAnswer:
    status: str  # "ROTATED" | "UNCHANGED"
    key_id: str

    def as_json(self) -> dict[str, str]:
        return {"status": self.status, "keyId": self.key_id}


def device_key_rotate(
    *,
    device: Device,
    signed_with: bytes,
    public_key: bytes,
    proof: bytes,
    request_nonce: str,
    source_ip: str | None = None,
) -> DeviceKeyAnswer:
    """Replace ``device``'s key by ``public_key`` once ``proof`` (the new key's signature of
    :func:`signing.engine.rotation.device_key_statement` with this request's nonce) verifies.

    ``signed_with`` is the key that authenticated the request. The swap happens under the
    device row's lock and only if that key is still the device's: of two rotations racing,
    one wins and the other is refused (409 ``wrong_state``). Sending the key the device
    has already (signed by it, after a lost answer) is ``UNCHANGED``: nothing is written.
    The old key signs nothing from the commit on (every request reads the key afresh).
    """
    try:
        rotation.verify_device_key_proof(public_key, proof, str(device.pk), request_nonce)
    except engine.InvalidKey:
        raise BadRequest("publicKey must be an EC P-256 key.", code="invalid_key") from None
    except engine.EngineError:
        raise BadRequest(
            "The proof of possession does not verify with the new key.", code="bad_proof"
        ) from None
    key_id = rotation.key_id(public_key)
    with transaction.atomic():
        locked = Device.objects.select_for_update().filter(pk=device.pk, state=Device.State.ACTIVE)
        row = locked.first()
        if row is None:
            raise NotFound("Unknown or disabled device.")
        current = bytes(row.public_key)
        if current == public_key:
            return DeviceKeyAnswer(status="UNCHANGED", key_id=key_id)
        if current != signed_with:
            raise WrongState("The device key changed while this request was on its way.")
        if _taken(public_key, current, row):
            raise BadRequest("This key is registered already.", code="key_reused")
        row.public_key = public_key
        row.save(update_fields=["public_key"])
        audit_record(
            actor=f"device:{row.pk}",
            action="device.key_rotated",
            object_type="accounts.Device",
            object_id=str(row.pk),
            data={
                "previous_key_sha256": hashlib.sha256(current).hexdigest(),
                "key_sha256": hashlib.sha256(public_key).hexdigest(),
            },
            source_ip=source_ip,
        )
    return DeviceKeyAnswer(status="ROTATED", key_id=key_id)


def _taken(public_key: bytes, current: bytes, device: Device) -> bool:
    """Another device holds ``public_key`` — other than one that moved to it from this
    device's current key: one app registered several times (one device id per
    registration, one device key) rotates them one after the other."""
    holders = [
        str(pk)
        for pk in Device.objects.filter(public_key=public_key)
        .exclude(pk=device.pk)
        .values_list("pk", flat=True)
    ]
    if not holders:
        return False
    same_app = AuditRecord.objects.filter(
        action="device.key_rotated",
        object_id__in=holders,
        data__previous_key_sha256=hashlib.sha256(current).hexdigest(),
        data__key_sha256=hashlib.sha256(public_key).hexdigest(),
    ).values_list("object_id", flat=True)
    return set(holders) != set(same_app)
