"""The app API (docs/app-api.md): one APIView per operation, thin over the services."""

from __future__ import annotations

import base64
import dataclasses
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, Device
from api import wireinput
from api.app.auth import DeviceAuthError, DeviceSignatureAuthentication, authenticate_device
from api.errors import error_body
from core import events
from core.asyncdb import db_to_async
from core.net import client_address
from enrolment import services as enrolment
from signing import keys
from signing.engine import (
    InvalidBase64,
    b64decode_strict,
    composite_public_key,
    encoded_length,
    transport,
)
from signing.engine.acsp import PROTOCOL as ACSP_V2
from signing.models import SplitKey, Transaction
from signing.services.answers import transaction_confirm, transaction_refuse
from signing.services.channels import device_channel, registration_channel
from signing.services.errors import NotFound
from signing.services.expiry import validity, with_valid_until
from signing.services.keystate import key_refresh, key_summary
from signing.services.registration import (
    IssuanceStatus,
    registration_certificate,
    registration_issuance_status,
    registration_sign_csr,
    registration_submit_moduli,
    registration_submit_shares,
)
from signing.services.transactions import pending_for_device, transaction_for_device

MAX_POLL_MS = 120_000
DEFAULT_POLL_MS = 30_000


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


class Base64Field(serializers.CharField):
    """Canonical standard Base64 (with padding) → bytes, with a size limit in decoded bytes."""

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        super().__init__(max_length=encoded_length(max_bytes), **kwargs)

    def to_internal_value(self, data: Any) -> bytes:  # type: ignore[override]
        text = super().to_internal_value(data)  # max_length: the size before decoding
        try:
            raw = b64decode_strict(text, what=self.field_name or "value")
        except InvalidBase64:
            raise serializers.ValidationError("Not valid Base64.") from None
        if len(raw) > self.max_bytes:
            raise serializers.ValidationError(f"Longer than {self.max_bytes} bytes.")
        return raw


class HasDevice(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Device)


class DeviceAPIView(APIView):
    authentication_classes = [DeviceSignatureAuthentication]
    permission_classes = [HasDevice]

    def device(self, request: Request) -> Device:
        assert isinstance(request.auth, Device)
        return request.auth

    def registration(self, request: Request, registration_id: Any) -> Account:
        """The device's own registration (another device's id: 404)."""
        account = Account.objects.filter(uuid=registration_id, device=self.device(request)).first()
        if account is None:
            raise NotFound("No such registration.")
        return account


INTERACTION_TYPES = [
    "displayTextAndPIN",
    "confirmationMessage",
    "verificationCodeChoice",
    "confirmationMessageAndVerificationCodeChoice",
]


class RegistrationCreate(APIView):
    """§2.1 — the ticket authenticates; the device key is registered here."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    class DeviceInput(serializers.Serializer[Any]):
        platform = serializers.CharField(max_length=40)
        name = serializers.CharField(max_length=100)
        publicKey = Base64Field(max_bytes=200)  # noqa: N815 -- wire name
        interactions = serializers.ListField(
            child=serializers.ChoiceField(choices=INTERACTION_TYPES), max_length=10
        )

    class Input(serializers.Serializer[Any]):
        ticket = serializers.CharField(max_length=64)
        device = serializers.DictField()

    def post(self, request: Request) -> Response:
        outer = self.Input(data=request.data)
        outer.is_valid(raise_exception=True)
        inner = self.DeviceInput(data=outer.validated_data["device"])
        if not inner.is_valid():
            raise serializers.ValidationError({"device": inner.errors})
        data = inner.validated_data
        try:
            transport.load_p256_public_key(data["publicKey"])
        except Exception:  # noqa: BLE001 -- any parse failure is the client's error
            raise serializers.ValidationError(
                {"device": {"publicKey": "Not an EC P-256 key."}}
            ) from None
        account, device = enrolment.ticket_redeem(
            code=outer.validated_data["ticket"],
            platform=data["platform"],
            device_name=data["name"],
            public_key=data["publicKey"],
            interactions=sorted(set(data["interactions"])),
        )
        person = account.person
        return Response(
            {
                "registrationId": str(account.uuid),
                "deviceId": str(device.pk),
                "documentNumber": account.document_number,
                "keyBits": signing_bits(),
                "transportKey": b64encode(keys.transport_public_key_der()),
                "person": {
                    "givenName": person.given_name,
                    "surname": person.surname,
                    "semanticsIdentifier": person.semantics_identifier,
                },
                "level": account.level,
            },
            status=201,
        )


def signing_bits() -> int:
    return int(settings.SPLITKEY_BITS)


def _per_purpose(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"AUTH", "SIGN"}:
        raise serializers.ValidationError({field: "Give exactly AUTH and SIGN."})
    return value


class RegistrationKeys(DeviceAPIView):
    """§2.2 — n1 per purpose → n and the first one-time token."""

    class KeyInput(serializers.Serializer[Any]):
        n1 = Base64Field(max_bytes=1024)

    def post(self, request: Request, registration_id: Any) -> Response:
        account = self.registration(request, registration_id)
        raw = _per_purpose(
            request.data.get("keys") if isinstance(request.data, dict) else None, "keys"
        )
        moduli = {}
        for purpose, item in raw.items():
            ser = self.KeyInput(data=item)
            if not ser.is_valid():
                raise serializers.ValidationError({f"keys.{purpose}": ser.errors})
            moduli[purpose] = ser.validated_data["n1"]
        created = registration_submit_moduli(account=account, moduli=moduli)
        return Response(
            {
                "keys": {
                    purpose: {
                        "n": b64encode(key.n.to_bytes((key.n.bit_length() + 7) // 8, "big")),
                        "token": b64encode(key.token),
                    }
                    for purpose, key in created.items()
                }
            }
        )


class RegistrationShares(DeviceAPIView):
    """§2.3 — d1″ per purpose → a new token and the CSR to sign."""

    class ShareInput(serializers.Serializer[Any]):
        d1pp = Base64Field(max_bytes=1024)
        token = Base64Field(max_bytes=64)

    def post(self, request: Request, registration_id: Any) -> Response:
        account = self.registration(request, registration_id)
        raw = _per_purpose(
            request.data.get("keys") if isinstance(request.data, dict) else None, "keys"
        )
        shares = {}
        for purpose, item in raw.items():
            ser = self.ShareInput(data=item)
            if not ser.is_valid():
                raise serializers.ValidationError({f"keys.{purpose}": ser.errors})
            shares[purpose] = (ser.validated_data["d1pp"], ser.validated_data["token"])
        result = registration_submit_shares(account=account, shares=shares)
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


class SignatureInput(serializers.Serializer[Any]):
    s1p = serializers.DictField(child=serializers.CharField(max_length=2048))
    token = Base64Field(max_bytes=64)
    rnonce = Base64Field(max_bytes=64)


class RegistrationCsrSignature(DeviceAPIView):
    """§2.4 — the first split signature; the certificate follows (in the answer, or §2.5)."""

    def post(self, request: Request, registration_id: Any, purpose: str) -> Response:
        account = self.registration(request, registration_id)
        if purpose not in SplitKey.Purpose.values:
            raise NotFound("No such key.")
        ser = SignatureInput(data=request.data)
        ser.is_valid(raise_exception=True)
        answer = registration_sign_csr(
            account=account,
            purpose=purpose,
            envelope=ser.validated_data["s1p"],
            token=ser.validated_data["token"],
            rnonce=ser.validated_data["rnonce"],
        )
        if answer.status == "OK" and answer.certificate is None:
            # Issued already when the task ran as the request committed (embedded mode)
            # or a worker was quick; otherwise the app waits on §2.5.
            certificate = registration_certificate(account=account, purpose=purpose)
            answer = dataclasses.replace(answer, certificate=certificate)
        account.refresh_from_db()
        body = answer.as_json()
        body["account"] = {"documentNumber": account.document_number, "state": account.state}
        return Response(body)


def transaction_json(tx: Transaction) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(tx.pk),
        "state": tx.state,
        "kind": tx.kind,
        "documentNumber": tx.account.document_number,
        "rpName": tx.rp_name,
        "interactions": tx.interactions,
        "expiresAt": tx.expires_at.isoformat().replace("+00:00", "Z"),
    }
    acsp = tx.protocol == ACSP_V2
    if tx.key is not None and (tx.hash is not None or acsp):
        n = composite_public_key(int(tx.key.n1, 16), int(tx.key.n2, 16)).n
        body.update(
            {
                "purpose": tx.key.purpose,
                "hashType": tx.hash_type,
                "padding": tx.padding,
                "n": b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")),
            }
        )
        # ACSP_V2: the digest is HASH(payload), which the app's user challenge completes.
        if tx.hash is not None and not acsp:
            body["hash"] = b64encode(bytes(tx.hash))
        if tx.salt is not None:
            body["salt"] = b64encode(bytes(tx.salt))
    if tx.vc_choices:
        body["vcChoices"] = tx.vc_choices
    if tx.vc_shown_on:  # the code is on that screen only: the app never gets ``vc``
        body["vcShownOn"] = tx.vc_shown_on
    if tx.protocol or tx.flow_type:  # RP API v3 (docs/app-api.md §7)
        if tx.protocol:
            body["protocol"] = tx.protocol
        body["flowType"] = tx.flow_type
        body["protocolParameters"] = tx.protocol_parameters
        if tx.vc and not tx.vc_shown_on:
            body["vc"] = tx.vc
    return body


class TransactionDetail(DeviceAPIView):
    def get(self, request: Request, transaction_id: Any) -> Response:
        tx = transaction_for_device(device=self.device(request), transaction_id=transaction_id)
        return Response(transaction_json(tx))


class TransactionConfirm(DeviceAPIView):
    class Input(serializers.Serializer[Any]):
        interaction = serializers.CharField(max_length=60)
        s1p = serializers.DictField(child=serializers.CharField(max_length=2048), required=False)
        token = Base64Field(max_bytes=64, required=False)
        rnonce = Base64Field(max_bytes=64, required=False)
        vc = serializers.RegexField(r"^\d{4}$", required=False)
        # ACSP_V2 (RP API v3 authentication): required there, checked by the service.
        userChallenge = serializers.CharField(max_length=64, required=False)  # noqa: N815 -- wire name
        digest = Base64Field(max_bytes=64, required=False)

    def post(self, request: Request, transaction_id: Any) -> Response:
        ser = self.Input(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        answer = transaction_confirm(
            device=self.device(request),
            transaction_id=transaction_id,
            interaction=data["interaction"],
            envelope=data.get("s1p"),
            token=data.get("token", b""),
            rnonce=data.get("rnonce", b""),
            vc=data.get("vc"),
            user_challenge=data.get("userChallenge"),
            digest=data.get("digest"),
        )
        return Response(answer.as_json())


class TransactionRefuse(DeviceAPIView):
    class Input(serializers.Serializer[Any]):
        # Absent: a general refusal (USER_REFUSED); named: the screen it happened on.
        interaction = serializers.CharField(max_length=60, required=False)

    def post(self, request: Request, transaction_id: Any) -> Response:
        ser = self.Input(data=request.data)
        ser.is_valid(raise_exception=True)
        answer = transaction_refuse(
            device=self.device(request),
            transaction_id=transaction_id,
            interaction=ser.validated_data.get("interaction"),
        )
        return Response(answer.as_json())


class KeyRefresh(DeviceAPIView):
    class Input(serializers.Serializer[Any]):
        token = Base64Field(max_bytes=64)
        rnonce = Base64Field(max_bytes=64)

    def post(self, request: Request, document_number: str, purpose: str) -> Response:
        ser = self.Input(data=request.data)
        ser.is_valid(raise_exception=True)
        answer = key_refresh(
            device=self.device(request),
            document_number=document_number,
            purpose=purpose,
            token=ser.validated_data["token"],
            rnonce=ser.validated_data["rnonce"],
        )
        return Response(answer.as_json())


class AccountList(DeviceAPIView):
    def get(self, request: Request) -> Response:
        device = self.device(request)
        now = timezone.now()
        accounts = []
        for account in with_valid_until(Account.objects.filter(device=device)):
            current: dict[str, SplitKey] = {}
            for key in SplitKey.objects.current().filter(account=account):
                current.setdefault(key.purpose, key)
            valid = validity(account.valid_until, now)  # type: ignore[attr-defined]
            accounts.append(
                {
                    "documentNumber": account.document_number,
                    "state": account.state,
                    "level": account.level,
                    "keys": {p: key_summary(k, now) for p, k in sorted(current.items())},
                    # §8: validity, and whether the app should offer a re-key now.
                    "validUntil": _utc(valid.valid_until),
                    "expired": valid.expired,
                    "renewalDue": valid.renewal_due,
                }
            )
        # §9.2: the app compares it with its pin and fetches the new key when it differs.
        return Response(
            {"accounts": accounts, "transportKeyId": keys.transport_key_ring().current.key_id}
        )


# --- the long poll: a plain async view (DRF's APIView is synchronous) -----------------


def _poll_timeout(request: HttpRequest) -> float | None:
    raw = request.GET.get("timeoutMs", str(DEFAULT_POLL_MS))
    timeout = wireinput.timeout_ms(raw, low=0, high=MAX_POLL_MS)
    return None if timeout is None else timeout / 1000


async def open_poll(request: HttpRequest) -> tuple[Device, float] | JsonResponse:
    """The start of every long poll of the app: GET only, the device's signature, a sane
    ``timeoutMs``; the device and the timeout in seconds, or the error answer."""
    if request.method != "GET":
        return JsonResponse(error_body(405, "Method not allowed", "method_not_allowed"), status=405)
    try:
        device = await db_to_async(authenticate_device)(
            "GET", request.get_full_path(), request.body, request.headers, client_address(request)
        )
    except DeviceAuthError as exc:
        return JsonResponse(error_body(401, exc.message, exc.error), status=401)
    timeout = _poll_timeout(request)
    if timeout is None:
        return JsonResponse(
            error_body(400, f"timeoutMs must be 0..{MAX_POLL_MS}.", "invalid_request"), status=400
        )
    return device, timeout


@csrf_exempt  # authenticated by the device signature, not by a session cookie
async def pending_transactions(request: HttpRequest) -> JsonResponse:
    """§3.1 — wait until a transaction is pending for this device, or the deadline."""
    opened = await open_poll(request)
    if isinstance(opened, JsonResponse):
        return opened
    device, timeout = opened
    deadline = time.monotonic() + timeout
    load = db_to_async(lambda: [transaction_json(t) for t in pending_for_device(device)])
    found = await events.long_poll(device_channel(device.pk), load, done=bool, deadline=deadline)
    return JsonResponse({"transactions": found})


def _issuance_json(status: IssuanceStatus) -> dict[str, Any]:
    return {
        "ready": status.ready,
        "account": {"documentNumber": status.document_number, "state": status.state},
        "certificates": {p: b64encode(der) for p, der in sorted(status.certificates.items())},
    }


@csrf_exempt  # authenticated by the device signature, not by a session cookie
async def registration_certificates(request: HttpRequest, registration_id: Any) -> JsonResponse:
    """§2.5 — wait until no certificate of the registration is being issued, or the deadline."""
    opened = await open_poll(request)
    if isinstance(opened, JsonResponse):
        return opened
    device, timeout = opened
    account = await db_to_async(
        lambda: Account.objects.filter(uuid=registration_id, device=device).first()
    )()
    if account is None:
        return JsonResponse(error_body(404, "No such registration.", "not_found"), status=404)
    deadline = time.monotonic() + timeout
    load = db_to_async(lambda: registration_issuance_status(account=account))
    found = await events.long_poll(
        registration_channel(account.uuid), load, done=lambda s: s.ready, deadline=deadline
    )
    return JsonResponse(_issuance_json(found))
