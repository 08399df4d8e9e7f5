"""Re-key from the app (docs/app-api.md §8): thin views over ``signing.services.renewal``."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from api.app.views import (
    Base64Field,
    DeviceAPIView,
    SignatureInput,
    _per_purpose,
    b64encode,
    open_poll,
)
from api.errors import error_body
from core import events
from core.asyncdb import db_to_async
from signing.services.channels import renewal_channel
from signing.services.errors import NotFound
from signing.services.expiry import account_valid_until
from signing.services.renewal import (
    RenewalStatus,
    renewal_complete,
    renewal_start,
    renewal_status,
    renewal_submit_shares,
)


def _items(request: Request, serializer: type[serializers.Serializer[Any]]) -> dict[str, Any]:
    raw = _per_purpose(request.data.get("keys") if isinstance(request.data, dict) else None, "keys")
    items = {}
    for purpose, item in raw.items():
        ser = serializer(data=item)
        if not ser.is_valid():
            raise serializers.ValidationError({f"keys.{purpose}": ser.errors})
        items[purpose] = ser.validated_data
    return items


class RenewalStart(DeviceAPIView):
    """§8.1 — the old PIN2 key proves the request for two new client moduli."""

    class KeyInput(serializers.Serializer[Any]):
        n1 = Base64Field(max_bytes=1024)

    def post(self, request: Request, document_number: str) -> Response:
        account = Account.objects.filter(
            device=self.device(request), document_number=document_number
        ).first()
        if account is None:
            raise NotFound("No such account.")
        moduli = {p: item["n1"] for p, item in _items(request, self.KeyInput).items()}
        proof = SignatureInput(data=request.data.get("proof"))
        proof.is_valid(raise_exception=True)
        started = renewal_start(
            account=account,
            moduli=moduli,
            envelope=proof.validated_data["s1p"],
            token=proof.validated_data["token"],
            rnonce=proof.validated_data["rnonce"],
        )
        body = started.answer.as_json()
        if started.renewal is not None and started.keys is not None:
            body["renewalId"] = str(started.renewal.pk)
            body["expiresAt"] = started.renewal.expires_at.isoformat().replace("+00:00", "Z")
            body["keys"] = {
                purpose: {
                    "n": b64encode(key.n.to_bytes((key.n.bit_length() + 7) // 8, "big")),
                    "token": b64encode(key.token),
                }
                for purpose, key in started.keys.items()
            }
        return Response(body)


class RenewalShares(DeviceAPIView):
    """§8.2 — d1″ of both new keys → new tokens and the certificate requests to sign."""

    class ShareInput(serializers.Serializer[Any]):
        d1pp = Base64Field(max_bytes=1024)
        token = Base64Field(max_bytes=64)

    def post(self, request: Request, renewal_id: Any) -> Response:
        items = _items(request, self.ShareInput)
        result = renewal_submit_shares(
            device_id=self.device(request).pk,
            renewal_id=renewal_id,
            shares={p: (item["d1pp"], item["token"]) for p, item in items.items()},
        )
        return Response(
            {
                "keys": {
                    purpose: {
                        "token": b64encode(item.token),
                        "csr": {
                            "tbs": b64encode(item.tbs),
                            "hash": b64encode(item.digest),
                            "hashType": "SHA256",
                            "padding": "PKCS1v15",
                        },
                    }
                    for purpose, item in result.items()
                }
            }
        )


def _account_json(account: Account) -> dict[str, Any]:
    valid_until = account_valid_until(account)
    return {
        "documentNumber": account.document_number,
        "state": account.state,
        "validUntil": None
        if valid_until is None
        else valid_until.isoformat().replace("+00:00", "Z"),
    }


class RenewalComplete(DeviceAPIView):
    """§8.3 — both new keys sign their certificate requests; a worker swaps the keys."""

    def post(self, request: Request, renewal_id: Any) -> Response:
        items = _items(request, SignatureInput)
        completed = renewal_complete(
            device_id=self.device(request).pk,
            renewal_id=renewal_id,
            signatures={p: (i["s1p"], i["token"], i["rnonce"]) for p, i in items.items()},
        )
        completed.account.refresh_from_db(fields=["state"])
        return Response(
            {
                "status": "OK",
                "state": completed.renewal.state,
                "keys": {p: answer.as_json() for p, answer in completed.keys.items()},
                "account": _account_json(completed.account),
            }
        )


def _status_json(status: RenewalStatus) -> dict[str, Any]:
    return {
        "ready": status.ready,
        "state": status.renewal.state,
        "certificates": {p: b64encode(der) for p, der in sorted(status.certificates.items())},
        "account": _account_json(status.account),
    }


@csrf_exempt  # authenticated by the device signature, not by a session cookie
async def renewal_certificates(request: HttpRequest, renewal_id: Any) -> JsonResponse:
    """§8.4 — wait until the renewal's keys are swapped (or it ended), or the deadline."""
    opened = await open_poll(request)
    if isinstance(opened, JsonResponse):
        return opened
    device, timeout = opened

    def load() -> dict[str, Any]:  # all of the database work, in a thread
        return _status_json(renewal_status(device_id=device.pk, renewal_id=renewal_id))

    try:
        first = await db_to_async(load)()
    except NotFound as exc:
        return JsonResponse(error_body(404, exc.message, exc.code), status=404)
    if first["ready"]:
        return JsonResponse(first)
    deadline = time.monotonic() + timeout
    found = await events.long_poll(
        renewal_channel(renewal_id), db_to_async(load), done=lambda s: s["ready"], deadline=deadline
    )
    return JsonResponse(found)
