"""§7 of docs/app-api.md: the app opens an RP API v3 device link (QR, Web2App, App2App)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.app.views import DeviceAPIView, transaction_json
from api.rp.v3.opening import device_link_open
from signing.engine.devicelink import MAX_LINK_CHARS

#: A body carries one link: anything much larger is refused unread.
MAX_BODY_BYTES = MAX_LINK_CHARS + 512


class DeviceLinkOpen(DeviceAPIView):
    """``POST /app/v1/device-links {"deviceLink": ...}`` → the session's transaction."""

    class Input(serializers.Serializer[Any]):
        deviceLink = serializers.CharField(  # noqa: N815 -- wire name
            max_length=MAX_LINK_CHARS, trim_whitespace=False
        )

    def post(self, request: Request) -> Response:
        if len(request.body) > MAX_BODY_BYTES:
            raise serializers.ValidationError(f"The body is larger than {MAX_BODY_BYTES} bytes.")
        ser = self.Input(data=request.data)
        ser.is_valid(raise_exception=True)
        opened = device_link_open(
            link=ser.validated_data["deviceLink"], device=self.device(request)
        )
        tx = opened.transaction
        tx.refresh_from_db()  # start_transaction may have finished it (no usable interaction)
        body: dict[str, Any] = {"transaction": transaction_json(tx)}
        if opened.callback is not None:
            body["callback"] = opened.callback
        return Response(body)
