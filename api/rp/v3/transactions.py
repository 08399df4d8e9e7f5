"""From a v3 session to the transactions a device answers.

A notification session gets its transactions when it starts; a device-link session when
an app opens its link (the account is then the opener's). Both go through
:func:`start_transaction`, so the two flows build the same transaction from the same
session fields.

What a v3 transaction carries in ``protocol_parameters`` (the app builds the ACSP_V2
payload from them and the server rebuilds it when the app answers):

``schemeName``, ``serverRandom``, ``rpChallenge``, ``rpName`` (the relying party's
``relyingPartyName`` as registered: the payload's rpName, not the display name the app
shows), ``interactions`` (the RP's Base64 string as received), ``initialCallbackUrl`` (""
for QR and notification flows), ``brokeredRpName`` ("") and
``signatureAlgorithm``/``hashAlgorithm`` (the v3 names); RAW_DIGEST_SIGNATURE
transactions carry ``signatureAlgorithm``/``hashAlgorithm`` only (the digest is the
transaction's hash). The flow type (QR, Web2App, App2App, Notification) is
``Transaction.flow_type``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta
from typing import Any

from django.conf import settings

from accounts.models import Account
from api.rp.models import RpSession
from signing import engine
from signing.engine.acsp import PROTOCOL
from signing.engine.devicelink import RAW_DIGEST_SIGNATURE as RAW_DIGEST
from signing.engine.devicelink import SCHEME_DEMO, SCHEME_LIVE
from signing.models import Transaction
from signing.services.transactions import transaction_create

ACSP_V2 = PROTOCOL
RAW_DIGEST_SIGNATURE = RAW_DIGEST
#: The legacy PKCS#1 v1.5 algorithms of RP API 3.2.1 and their hashes (v3 names).
LEGACY_ALGORITHMS = {
    "sha256WithRSAEncryption": "SHA-256",
    "sha384WithRSAEncryption": "SHA-384",
    "sha512WithRSAEncryption": "SHA-512",
}
PSS = "rsassa-pss"


class FlowType:
    QR = "QR"
    WEB2APP = "Web2App"
    APP2APP = "App2App"
    NOTIFICATION = "Notification"


def scheme_name() -> str:
    """``smart-id`` in live, ``smart-id-demo`` everywhere else (SK's demo uses the latter)."""
    return SCHEME_LIVE if settings.IS_LIVE else SCHEME_DEMO


def decode_interactions(raw: str) -> list[dict[str, str]]:
    """The interactions list behind the RP's Base64 string (validated by the views)."""
    try:
        value = json.loads(base64.b64decode(raw.encode("ascii"), validate=True))
    except (binascii.Error, ValueError, UnicodeError):
        return []
    if not isinstance(value, list):
        return []
    return [{str(k): str(v) for k, v in item.items()} for item in value if isinstance(item, dict)]


def hash_and_padding(parameters: dict[str, Any]) -> tuple[str, str]:
    """The engine hash name and padding ("PSS"/"PKCS1v15") of a session's algorithm."""
    algorithm = parameters.get("signatureAlgorithm", PSS)
    if algorithm in LEGACY_ALGORITHMS:
        return engine.v3_hash(LEGACY_ALGORITHMS[algorithm]).value, "PKCS1v15"
    return engine.v3_hash(parameters.get("hashAlgorithm")).value, "PSS"


def _acsp_parameters(session: RpSession, flow_type: str) -> dict[str, str]:
    params = session.protocol_parameters
    return {
        "schemeName": scheme_name(),
        "serverRandom": engine.new_server_random(),
        "rpChallenge": str(params["rpChallenge"]),
        "rpName": session.relying_party.name,
        "interactions": session.interactions,
        "initialCallbackUrl": (
            session.initial_callback_url
            if flow_type in (FlowType.WEB2APP, FlowType.APP2APP)
            else ""
        ),
        "brokeredRpName": "",
        "signatureAlgorithm": str(params.get("signatureAlgorithm", PSS)),
        "hashAlgorithm": str(params.get("hashAlgorithm", "")),
    }


def start_transaction(
    session: RpSession,
    account: Account,
    *,
    flow_type: str,
    ttl: timedelta,
    has_alternatives: bool = False,
) -> Transaction:
    """Create the transaction of ``session`` for ``account``'s device (and wake it);
    ``has_alternatives``: the session has transactions for other devices too."""
    kind = session.kind
    interactions = decode_interactions(session.interactions)
    vc = session.vc
    if kind == RpSession.Kind.CERTIFICATE_CHOICE:
        tx = transaction_create(
            account=account,
            kind=kind,
            rp_name=session.relying_party.display_name,
            interactions=[],
            ttl=ttl,
            group=session.pk,
            has_alternatives=has_alternatives,
            flow_type=flow_type,
        )
    elif session.signature_protocol == ACSP_V2:
        hash_type, _ = hash_and_padding(session.protocol_parameters)
        if flow_type == FlowType.NOTIFICATION and not vc:
            vc = engine.vc_for_rp_challenge(str(session.protocol_parameters["rpChallenge"]))
        tx = transaction_create(
            account=account,
            kind=kind,
            rp_name=session.relying_party.display_name,
            interactions=interactions,
            hash_type=hash_type,
            padding="PSS",
            ttl=ttl,
            group=session.pk,
            has_alternatives=has_alternatives,
            flow_type=flow_type,
            protocol=ACSP_V2,
            protocol_parameters=_acsp_parameters(session, flow_type),
            vc=vc,
        )
    else:
        hash_type, padding = hash_and_padding(session.protocol_parameters)
        digest = base64.b64decode(str(session.protocol_parameters["digest"]))
        tx = transaction_create(
            account=account,
            kind=kind,
            rp_name=session.relying_party.display_name,
            interactions=interactions,
            digest=digest,
            hash_type=hash_type,
            padding=padding,
            ttl=ttl,
            group=session.pk,
            has_alternatives=has_alternatives,
            flow_type=flow_type,
            protocol=RAW_DIGEST_SIGNATURE,
            protocol_parameters={
                "signatureAlgorithm": str(session.protocol_parameters.get("signatureAlgorithm")),
                "hashAlgorithm": str(session.protocol_parameters.get("hashAlgorithm", "")),
            },
            vc=vc if flow_type == FlowType.NOTIFICATION else "",
        )
    return tx
