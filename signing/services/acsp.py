"""ACSP_V2 (RP API v3 authentication): the digest that the app's answer completes.

An ACSP_V2 transaction starts without a digest: the payload (``signing.engine.acsp``)
holds two values that only the app's answer brings, the user challenge (the SHA-256 of a
verifier the app keeps for the callback URL) and the interaction the user answered on.
Everything else is fixed when the transaction is made (``Transaction.protocol_parameters``
and ``flow_type``, see ``api.rp.v3.transactions``). The app builds the payload, hashes it
and signs its half over that digest; the server rebuilds the same payload from what it
stored and the answer, and completes the split signature over its own digest, so what the
relying party verifies is always the payload of this transaction.
"""

from __future__ import annotations

import hmac

from signing import engine
from signing.engine.acsp import PROTOCOL
from signing.models import Transaction
from signing.services.errors import BadRequest, WrongState


def is_acsp(tx: Transaction) -> bool:
    return tx.protocol == PROTOCOL and tx.kind != Transaction.Kind.CERTIFICATE_CHOICE


def is_v3(tx: Transaction) -> bool:
    """An RP API v3 transaction (every v3 start names its flow type; v1/v2 never do)."""
    return bool(tx.protocol or tx.flow_type)


def check_user_challenge(value: object) -> str:
    """The app's userChallenge: 43 Base64URL characters (a SHA-256), else BadRequest."""
    if not engine.is_user_challenge(value):
        raise BadRequest(
            "userChallenge is required for ACSP_V2: 43 Base64URL characters (a SHA-256).",
            code="invalid_request",
        )
    assert isinstance(value, str)  # is_user_challenge checked it
    return value


def acsp_digest(tx: Transaction, *, interaction: str, user_challenge: str) -> bytes:
    """HASH(ACSP_V2 payload) of ``tx`` answered on ``interaction`` with ``user_challenge``."""
    params = tx.protocol_parameters
    try:
        payload = engine.acsp_v2_payload(
            scheme=str(params.get("schemeName", "")),
            server_random=str(params.get("serverRandom", "")),
            rp_challenge=str(params.get("rpChallenge", "")),
            user_challenge=user_challenge,
            rp_name=str(params.get("rpName", "")),
            brokered_rp_name=str(params.get("brokeredRpName", "")),
            interactions=str(params.get("interactions", "")),
            interaction_type_used=interaction,
            initial_callback_url=str(params.get("initialCallbackUrl", "")),
            flow_type=tx.flow_type,
        )
        return engine.acsp_v2_digest(payload, tx.hash_type)
    except engine.InvalidInput as exc:
        # The stored parameters come from a validated RP request; the user challenge was
        # checked before: nothing the app sent can get here.
        raise WrongState(f"The transaction's ACSP_V2 parameters are unusable: {exc}") from None


def digest_differs(presented: bytes | None, digest: bytes) -> bool:
    """True when the app said which digest it signed and it is not the server's."""
    return presented is not None and not hmac.compare_digest(presented, digest)
