"""§9 of docs/app-api.md: rotating the device key and learning a new transport key."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.app.views import Base64Field, DeviceAPIView, b64encode
from core.net import client_address
from signing import keys
from signing.engine import appauth, rotation
from signing.engine.transport import MAX_SPKI_BYTES
from signing.services.devicekey import device_key_rotate


class DeviceKeyRotate(DeviceAPIView):
    """``POST /app/v1/device/key`` (§9.1): signed with the current key, carrying the new
    one and its proof of possession."""

    class Input(serializers.Serializer[Any]):
        publicKey = Base64Field(max_bytes=MAX_SPKI_BYTES)  # noqa: N815 -- wire name
        proof = Base64Field(max_bytes=rotation.MAX_SIGNATURE_BYTES)

    def post(self, request: Request) -> Response:
        ser = self.Input(data=request.data)
        ser.is_valid(raise_exception=True)
        device = self.device(request)
        answer = device_key_rotate(
            device=device,
            signed_with=bytes(device.public_key),
            public_key=ser.validated_data["publicKey"],
            proof=ser.validated_data["proof"],
            # Authentication checked it: canonical Base64 of 16 bytes, seen once.
            request_nonce=request.headers[appauth.HEADER_NONCE],
            source_ip=client_address(request),
        )
        return Response(answer.as_json())


def transport_key_json() -> dict[str, Any]:
    """The current transport key and the endorsement chain that leads to it (§9.2)."""
    ring = keys.transport_key_ring()
    chain = ring.keys[-rotation.MAX_CHAIN :]
    return {
        "keyId": ring.current.key_id,
        "publicKey": b64encode(ring.current.public_der),
        "chain": [
            {
                "keyId": key.key_id,
                "publicKey": b64encode(key.public_der),
                "endorsement": None if key.endorsement is None else b64encode(key.endorsement),
            }
            for key in chain
        ],
    }


class TransportKeyCurrent(DeviceAPIView):
    """``GET /app/v1/transport-key`` (§9.2)."""

    def get(self, request: Request) -> Response:
        return Response(transport_key_json())
