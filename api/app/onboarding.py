"""Remote onboarding endpoints of the app API (docs/app-api.md §6): thin over
``enrolment.onboarding``. The app authenticates with ``Authorization: Bearer <secret>``,
the secret it received when it started the application.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from api.app.views import Base64Field, b64encode
from core.net import client_address
from enrolment import onboarding
from enrolment.models import OnboardingApplication

Source = OnboardingApplication.Source
#: One selfie frame: its Base64 must fit the 1 MiB request body limit (a 640 px JPEG is
#: about 60 KB; docs/app-api.md §6.5).
MAX_FRAME_BYTES = 700 * 1024
State = OnboardingApplication.State


class OpenAPIView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []


class ApplicationAPIView(OpenAPIView):
    """An endpoint of one application: the bearer secret must be that application's."""

    def application(self, request: Request, application_id: Any) -> OnboardingApplication:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        return onboarding.onboarding_for_app(application_id=application_id, token=token)


def status_json(application: OnboardingApplication) -> dict[str, Any]:
    """What the app shows: the state, the progress of every step, what to do next."""
    steps = onboarding.STEPS_BY_SOURCE[Source(application.source)]
    progress = []
    for step in steps:
        check = application.checks.get(step)
        if check is not None:
            status = "ok" if check.get("ok") else "failed"
        elif step == application.step and application.state == State.CHECKING:
            status = "running"
        else:
            status = "pending"
        progress.append({"step": step, "status": status})
    body: dict[str, Any] = {
        "applicationId": str(application.pk),
        "source": application.source,
        "state": application.state,
        "steps": progress,
    }
    if application.verification_code:
        body["verificationCode"] = application.verification_code
    if application.state == State.REJECTED:
        body["failure"] = {
            "error": application.failure_code,
            "message": application.failure_message,
        }
    if application.state == State.SECONDARY:
        body["secondary"] = {
            "channel": application.secondary_channel,
            "address": onboarding.mask_address(application.secondary_address),
        }
    sealed = onboarding.ticket_envelope(application)
    if application.state == State.APPROVED and sealed is not None:
        body["ticket"] = sealed
    return body


class OnboardingStart(OpenAPIView):
    """§6.1 — open an application."""

    class Input(serializers.Serializer[Any]):
        source = serializers.ChoiceField(choices=Source.values)  # type: ignore[assignment]
        level = serializers.ChoiceField(
            choices=Account.Level.values, default=Account.Level.QUALIFIED
        )
        appKey = Base64Field(max_bytes=256)  # noqa: N815 -- wire name

        email = serializers.EmailField(required=False, default="")
        phoneNumber = serializers.RegexField(  # noqa: N815 -- wire name
            r"^\+[0-9]{7,15}$", required=False, default=""
        )
        nationalIdentityNumber = serializers.RegexField(  # noqa: N815 -- wire name
            r"^[0-9A-Za-z-]{5,20}$", required=False, default=""
        )
        documentNumber = serializers.CharField(  # noqa: N815 -- wire name
            max_length=80, required=False, default=""
        )

    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        started = onboarding.onboarding_start(
            source=values["source"],
            level=values["level"],
            app_public_key=values["appKey"],
            # JSON true only: "yes" or 1 is not a person's consent.
            consent=isinstance(request.data, dict)
            and request.data.get("consentBiometrics") is True,
            email=values["email"],
            phone_number=values["phoneNumber"],
            national_identity_number=values["nationalIdentityNumber"],
            document_number=values["documentNumber"],
            source_ip=client_address(request),
        )
        application = started.application
        application.refresh_from_db()
        body = status_json(application) | {"token": started.token}
        if application.aa_challenge is not None:
            body["aaChallenge"] = b64encode(bytes(application.aa_challenge))
        if application.source == Source.EMRTD:
            body["consentText"] = application.consent_text
        return Response(body, status=201)


class OnboardingStatus(ApplicationAPIView):
    """§6.2 — the application's state and progress."""

    def get(self, request: Request, application_id: Any) -> Response:
        application = self.application(request, application_id)
        if application.step == "existing_account":
            onboarding.onboarding_advance_if_waiting(application_id=application.pk)
            application.refresh_from_db()
        return Response(status_json(application))


class OnboardingPassport(ApplicationAPIView):
    """§6.3 — the chip's files (EF.SOD, DG1, DG2, optional DG14/DG15) and the AA answer."""

    class Input(serializers.Serializer[Any]):
        sod = Base64Field(max_bytes=onboarding.MAX_SOD_BYTES)
        dataGroups = serializers.DictField(  # noqa: N815 -- wire name
            child=Base64Field(max_bytes=max(onboarding.MAX_DG_BYTES.values())),
            allow_empty=False,
        )
        aaSignature = Base64Field(max_bytes=1024, required=False)  # noqa: N815 -- wire name

    def put(self, request: Request, application_id: Any) -> Response:
        application = self.application(request, application_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        groups: dict[int, bytes] = {}
        for key, raw in values["dataGroups"].items():
            if not (
                isinstance(key, str) and re.fullmatch(r"[0-9]{1,2}", key) and 1 <= int(key) <= 16
            ):
                raise serializers.ValidationError({"dataGroups": f"Unknown data group {key!r}."})
            groups[int(key)] = raw
        onboarding.onboarding_passport_submit(
            application_id=application.pk,
            sod=values["sod"],
            data_groups=groups,
            aa_signature=values.get("aaSignature"),
        )
        application.refresh_from_db()
        return Response(status_json(application))


class OnboardingLiveness(ApplicationAPIView):
    """§6.4 — a fresh liveness challenge: the steps to perform and the deadline."""

    def post(self, request: Request, application_id: Any) -> Response:
        application = self.application(request, application_id)
        challenge = onboarding.onboarding_liveness_start(application_id=application.pk)
        return Response(
            {
                "steps": challenge.steps,
                "issuedAtMs": onboarding.utc_ms(challenge.issued_at),
                "deadlineMs": onboarding.utc_ms(challenge.deadline),
            }
        )


class OnboardingFrame(ApplicationAPIView):
    """§6.5 — one selfie frame (one per request keeps every body small)."""

    class Input(serializers.Serializer[Any]):
        index = serializers.IntegerField(min_value=0, max_value=onboarding.MAX_FRAMES - 1)
        capturedAtMs = serializers.IntegerField(min_value=0, max_value=2**53)  # noqa: N815
        data = Base64Field(max_bytes=MAX_FRAME_BYTES)  # type: ignore[assignment]

    def put(self, request: Request, application_id: Any) -> Response:
        application = self.application(request, application_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        onboarding.onboarding_frame_add(
            application_id=application.pk,
            index=values["index"],
            data=values["data"],
            captured_at_ms=values["capturedAtMs"],
        )
        return Response({"index": values["index"]})


class OnboardingSubmit(ApplicationAPIView):
    """§6.6 — evidence complete: the checks start (or 429/503 when too many run)."""

    def post(self, request: Request, application_id: Any) -> Response:
        application = self.application(request, application_id)
        onboarding.onboarding_submit(
            application_id=application.pk, source_ip=client_address(request)
        )
        application.refresh_from_db()
        return Response(status_json(application), status=202)


class OnboardingSecondary(ApplicationAPIView):
    """§6.7 — the one-time code from the secondary authentication."""

    class Input(serializers.Serializer[Any]):
        code = serializers.CharField(max_length=32)  # as printed too: "1247 3521" (tickets.py)

    def post(self, request: Request, application_id: Any) -> Response:
        application = self.application(request, application_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        application = onboarding.onboarding_secondary_confirm(
            application_id=application.pk, code=data.validated_data["code"]
        )
        return Response(status_json(application))
