"""What ``GET /v3/session/{id}`` answers (docs/spec/rp-api.md §5, "Status v3 fields").

RUNNING until the decisive transaction completes (the long poll and its caching are the
v1/v2 ones, api.rp.views). A device-link session has no transaction until an app opens
its link; one nobody opens within ``SESSION_TTL`` of its creation ends with TIMEOUT.

The final body: ``result{endResult, documentNumber, details{interaction}}`` in the v3
vocabulary (api.rp.v3.vocabulary), then for OK ``signatureProtocol``, ``signature``
(ACSP_V2: value, serverRandom, userChallenge, flowType, rsassa-pss and its parameters;
RAW_DIGEST_SIGNATURE: value, flowType, the algorithm and, for PSS, its parameters; a
device-link certificate choice: the flowType only), ``cert``, ``interactionTypeUsed``,
``deviceIpAddress``; ``ignoredProperties`` whenever the request had some.
"""

from __future__ import annotations

import base64
from typing import Any

from django.utils import timezone

from accounts.seen import device_last_ip
from api.rp import metrics, services
from api.rp.models import RpSession
from api.rp.v3 import vocabulary
from api.rp.v3.transactions import ACSP_V2, PSS
from signing import engine
from signing.models import Transaction

#: interactionTypeUsed's values (SK's v3 document).
INTERACTION_TYPES = (
    "displayTextAndPIN",
    "confirmationMessage",
    "confirmationMessageAndVerificationCodeChoice",
)


def session_status(session: RpSession) -> services.Status:
    """The relying party's view of a v3 session now."""
    if session.flow == RpSession.Flow.DEVICE_LINK:
        unopened = _unopened(session)
        if unopened is not None:
            return unopened
    return services.session_status(session, complete_body)


def link_deadline(session: RpSession) -> Any:
    """When an unopened device link stops being answerable (its session times out)."""
    return session.created_at + services.SESSION_TTL


def _unopened(session: RpSession) -> services.Status | None:
    if Transaction.objects.filter(group=session.pk).exists():
        return None
    extra = {"ignoredProperties": session.ignored_properties} if session.ignored_properties else {}
    deadline = link_deadline(session)
    now = timezone.now()
    if now < deadline:
        return services.Status({"state": "RUNNING", **extra}, False, deadline)
    readable_until = deadline + services.READABLE_AFTER_COMPLETION
    if now > readable_until:
        raise services.NotFound("Session not found.")
    body = {"state": "COMPLETE", "result": {"endResult": "TIMEOUT"}, **extra}
    metrics.count_unopened_timeout(session, keep=readable_until - now)
    return services.Status(body, True, None, readable_until)


def complete_body(session: RpSession, tx: Transaction) -> dict[str, Any]:
    end_result, interaction = vocabulary.end_result_v3(tx)
    result: dict[str, Any] = {"endResult": end_result}
    body: dict[str, Any] = {"state": "COMPLETE", "result": result}
    if end_result == "USER_REFUSED_INTERACTION" and interaction:
        result["details"] = {"interaction": interaction}
    if end_result == "OK":
        result["documentNumber"] = tx.account.document_number
        if session.signature_protocol:
            body["signatureProtocol"] = session.signature_protocol
        signature = _signature(session, tx)
        if signature is not None:
            body["signature"] = signature
        certificate = services.transaction_certificate_der(tx)
        if certificate is not None:
            body["cert"] = {
                "value": base64.b64encode(certificate).decode(),
                "certificateLevel": tx.account.level,
            }
        if tx.interaction_used in INTERACTION_TYPES:  # not a certificate choice's
            body["interactionTypeUsed"] = tx.interaction_used
        if session.share_device_ip and (address := device_last_ip(tx.account.device)):
            body["deviceIpAddress"] = address
    if session.ignored_properties:
        body["ignoredProperties"] = session.ignored_properties
    return body


def _signature(session: RpSession, tx: Transaction) -> dict[str, Any] | None:
    if tx.kind == Transaction.Kind.CERTIFICATE_CHOICE:
        if session.flow == RpSession.Flow.DEVICE_LINK:
            return {"flowType": tx.flow_type}
        return None
    if tx.signature is None:
        return None
    value = base64.b64encode(bytes(tx.signature)).decode()
    params = session.protocol_parameters
    algorithm = str(params.get("signatureAlgorithm", PSS))
    if session.signature_protocol == ACSP_V2:
        signature: dict[str, Any] = {
            "value": value,
            "serverRandom": str(tx.protocol_parameters.get("serverRandom", "")),
            "userChallenge": tx.user_challenge,
            "flowType": tx.flow_type,
            "signatureAlgorithm": PSS,
        }
    else:
        signature = {"value": value, "flowType": tx.flow_type, "signatureAlgorithm": algorithm}
    if signature["signatureAlgorithm"] == PSS:
        signature["signatureAlgorithmParameters"] = engine.pss_parameters(
            str(params["hashAlgorithm"])
        )
    return signature
