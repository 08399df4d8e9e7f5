"""The app's side of ACSP_V2 (RP API v3 authentication, docs/engine.md): what it signs.

The service cannot give the app a hash to sign: the ACSP_V2 payload contains the user
challenge, which the app draws itself. So the app builds the payload from the
transaction's ``protocolParameters``, the interaction it showed and the flow type, hashes
it, and signs its half of that digest; it sends the user challenge (and the digest, so a
disagreement is caught as a protocol failure, not as a wrong PIN) with the confirmation.

Before it signs, it checks that the texts it showed are the ones the relying party sent
(the Base64 string the signature covers): the app never signs a text it did not show.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from device.answers import ACSP_V2, Interaction, Transaction
from device.errors import ProtocolError
from signing.engine import (
    EngineError,
    acsp_v2_digest,
    acsp_v2_payload,
    new_user_challenge_verifier,
    user_challenge,
)


@dataclass(frozen=True)
class AcspSignature:
    """What one ACSP_V2 confirmation needs: the digest to sign and the challenge pair."""

    digest: bytes
    user_challenge: str
    verifier: str
    payload: str


def _offered(raw: str) -> list[tuple[str, str | None]]:
    """The (type, text) pairs of the relying party's Base64 interactions string."""
    try:
        value = json.loads(base64.b64decode(raw.encode("ascii"), validate=True))
    except (binascii.Error, ValueError, UnicodeError):
        raise ProtocolError("the transaction's interactions are not Base64 JSON") from None
    if not isinstance(value, list):
        raise ProtocolError("the transaction's interactions are not a list")
    pairs = []
    for item in value:
        if not isinstance(item, dict):
            raise ProtocolError("the transaction's interactions are not objects")
        text = item.get("displayText200") or item.get("displayText60")
        pairs.append((str(item.get("type")), None if text is None else str(text)))
    return pairs


def check_shown(tx: Transaction) -> None:
    """The interactions the service listed must be those of the relying party's string."""
    params = tx.protocol_parameters or {}
    signed = _offered(params.get("interactions", ""))
    shown = [(item.type, item.text) for item in tx.interactions]
    if signed != shown:
        raise ProtocolError("the interactions shown differ from the ones the signature covers")


def acsp_signature(tx: Transaction, interaction: Interaction) -> AcspSignature:
    """Draw a user challenge and build the digest to sign for ``tx`` shown as
    ``interaction`` (ProtocolError when the transaction is not a usable ACSP_V2 one).
    """
    if tx.protocol != ACSP_V2 or tx.protocol_parameters is None or tx.flow_type is None:
        raise ProtocolError("not an ACSP_V2 transaction")
    if tx.hash_type is None:
        raise ProtocolError("an ACSP_V2 transaction needs its hashType")
    check_shown(tx)
    params = tx.protocol_parameters
    verifier = new_user_challenge_verifier()
    challenge = user_challenge(verifier)
    try:
        payload = acsp_v2_payload(
            scheme=params["schemeName"],
            server_random=params["serverRandom"],
            rp_challenge=params["rpChallenge"],
            user_challenge=challenge,
            # the name the relying party sent (it rebuilds the payload with it); the
            # transaction's rpName is the name shown, which may differ
            rp_name=params.get("rpName") or tx.rp_name,
            brokered_rp_name=params.get("brokeredRpName", ""),
            interactions=params["interactions"],
            interaction_type_used=interaction.type,
            initial_callback_url=params["initialCallbackUrl"],
            flow_type=tx.flow_type,
        )
        digest = acsp_v2_digest(payload, tx.hash_type)
    except EngineError as exc:
        raise ProtocolError(f"cannot build the ACSP_V2 payload: {exc}") from None
    return AcspSignature(
        digest=digest, user_challenge=challenge, verifier=verifier, payload=payload
    )
