"""RP API v3 session starts: one view class per operation of docs/spec/rp-api.md §5.

The status long poll is the v1/v2 one (api.rp.views.session_status), which answers v3
sessions with api.rp.v3.status and v3 errors as problem details.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.rp import services
from api.rp.models import RpSession
from api.rp.v3 import problems
from api.rp.v3 import serializers as fields
from api.rp.v3 import services as v3
from api.rp.v3.transactions import ACSP_V2, RAW_DIGEST_SIGNATURE
from api.rp.views import AnyJSONParser
from core.net import client_address

AUTH_LEVELS = ("ADVANCED", "QUALIFIED")
SIGN_LEVELS = ("ADVANCED", "QUALIFIED", "QSCD")

Kind = RpSession.Kind
Flow = RpSession.Flow


class V3View(APIView):
    """No DRF authentication (the body names the relying party); errors are problems."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [AnyJSONParser]

    def get_exception_handler(self) -> Any:
        return problems.exception_handler

    def relying_party(self, request: Request, data: dict[str, Any]) -> Any:
        rp = services.authenticate(
            rp_uuid=data["relyingPartyUUID"],
            rp_name=data["relyingPartyName"],
            address=client_address(request._request),
        )
        # v1/v2 compare the name case-insensitively. In v3 the name is part of the device
        # link's authCode and of the ACSP_V2 payload, which the relying party computes from
        # the name it sends: another spelling would start a session whose links and
        # signatures can never match. Refused like a wrong name, but saying why (a guard
        # against a common integration mistake, rp-api.md §7).
        if rp.name != data["relyingPartyName"]:
            raise services.Unauthorized(
                "relyingPartyName must be spelled exactly as registered (it is part of "
                "the authCode and of the ACSP_V2 payload)."
            )
        return rp


class SessionStart(V3View):
    """POST of every session-creating v3 operation; the class attributes say which."""

    kind: str = ""
    flow: str = ""
    linked = False

    def post(self, request: Request, target_kind: str = "", target: str = "") -> Response:
        data = request.data
        levels = AUTH_LEVELS if self.kind == Kind.AUTHENTICATION else SIGN_LEVELS
        common = fields.common(data, levels=levels)
        device_link = self.flow == Flow.DEVICE_LINK
        protocol, parameters, interactions, nonce = "", {}, "", ""
        if self.kind == Kind.AUTHENTICATION:
            fields.forbid(data, ("nonce",))  # §5: the rpChallenge is the freshness
            protocol = ACSP_V2
            parameters = fields.protocol_parameters(data, ACSP_V2)
        else:
            nonce = fields.nonce(data)
            if self.kind == Kind.SIGNATURE:
                protocol = RAW_DIGEST_SIGNATURE
                parameters = fields.protocol_parameters(data, RAW_DIGEST_SIGNATURE)
        if protocol:
            # confirmationMessageAndVerificationCodeChoice: notification only, and not in
            # the linked flow (no verification code is shown there).
            allowed = (
                fields.DEVICE_LINK_INTERACTIONS
                if device_link or self.linked
                else fields.NOTIFICATION_INTERACTIONS
            )
            interactions = fields.interactions(data, allowed)
        if device_link:
            callback = fields.callback_url(data)
        else:
            fields.forbid(data, ("initialCallbackUrl",))
            callback = ""
        if self.kind == Kind.AUTHENTICATION and not device_link:
            fields.vc_type(data)
        linked_id = fields.linked_session_id(data) if self.linked else ""
        rp = self.relying_party(request, common)
        session = v3.session_start(
            rp=rp,
            request=v3.V3Request(
                kind=self.kind,
                flow=self.flow,
                target_kind=target_kind,
                target=target,
                certificate_level=common["certificateLevel"],
                share_device_ip=common["shareMdClientIpAddress"],
                ignored_properties=common["ignoredProperties"],
                body=data,
                signature_protocol=protocol,
                protocol_parameters=parameters,
                interactions=interactions,
                initial_callback_url=callback,
                nonce=nonce,
                capabilities=list(common["capabilities"]),
                linked_session_id=linked_id,
            ),
        )
        return Response(v3.start_answer(session, settings.RP_V3_DEVICE_LINK_BASE))


class AuthenticationDeviceLink(SessionStart):
    kind, flow = Kind.AUTHENTICATION, Flow.DEVICE_LINK


class AuthenticationNotification(SessionStart):
    kind, flow = Kind.AUTHENTICATION, Flow.NOTIFICATION


class SignatureDeviceLink(SessionStart):
    kind, flow = Kind.SIGNATURE, Flow.DEVICE_LINK


class SignatureNotification(SessionStart):
    kind, flow = Kind.SIGNATURE, Flow.NOTIFICATION


class SignatureLinked(SessionStart):
    kind, flow, linked = Kind.SIGNATURE, Flow.NOTIFICATION, True


class CertificateChoiceDeviceLink(SessionStart):
    kind, flow = Kind.CERTIFICATE_CHOICE, Flow.DEVICE_LINK


class CertificateChoiceNotification(SessionStart):
    kind, flow = Kind.CERTIFICATE_CHOICE, Flow.NOTIFICATION


class SigningCertificate(V3View):
    """POST /v3/signature/certificate/{docNo}: the signing certificate, no interaction."""

    def post(self, request: Request, target: str) -> Response:
        common = fields.common(request.data, levels=SIGN_LEVELS)
        rp = self.relying_party(request, common)
        return Response(
            v3.signing_certificate(
                rp=rp, document_number=target, certificate_level=common["certificateLevel"]
            )
        )
