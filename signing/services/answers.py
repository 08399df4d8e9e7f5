"""The device's answer to a transaction: the split signature (PIN), or a refusal.

A wrong PIN counts against the key; the last allowed try, or a detected clone, closes the
account (``signing.services.lifecycle``). A retransmit of an answer whose reply was lost
gets the identical reply; any other answer to a finished transaction gets 409.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from accounts.models import Device
from audit.services import audit_record
from core.compiled import Arg, CompiledQuery
from signing import engine
from signing.engine.vc import verification_code
from signing.models import SplitKey, Transaction
from signing.services.acsp import (
    acsp_digest,
    check_user_challenge,
    digest_differs,
    is_acsp,
    is_v3,
)
from signing.services.errors import BadRequest, NotFound, TransactionFinished
from signing.services.keystate import Answer, answer_for, decrypt_s1p, sign
from signing.services.lifecycle import close_account
from signing.services.transactions import (
    VC_INTERACTIONS,
    expire_if_due,
    finish,
    first_supported_interaction,
    transaction_expire,
)

REFUSAL_RESULTS = {
    "displayTextAndPIN": Transaction.Result.USER_REFUSED_DISPLAYTEXTANDPIN,
    "verificationCodeChoice": Transaction.Result.USER_REFUSED_VC_CHOICE,
    "confirmationMessage": Transaction.Result.USER_REFUSED_CONFIRMATIONMESSAGE,
    "confirmationMessageAndVerificationCodeChoice": (
        Transaction.Result.USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE
    ),
    "certificateChoice": Transaction.Result.USER_REFUSED_CERT_CHOICE,
}

#: The device's answer locks its transaction (with the account read along, not locked)
#: and then the transaction's key: compiled once (core/compiled.py).
_LOCK_TRANSACTION = CompiledQuery(
    lambda: (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(pk=Arg("id", Transaction._meta.pk), account__device=Arg("device", Device._meta.pk))[
            :1
        ]
    )
)
_LOCK_KEY = CompiledQuery(
    lambda: SplitKey.objects.select_for_update().filter(pk=Arg("id", SplitKey._meta.pk))[:1]
)


def transaction_confirm(
    *,
    device: Device,
    transaction_id: uuid.UUID | str,
    interaction: str,
    envelope: object = None,
    token: bytes = b"",
    rnonce: bytes = b"",
    vc: str | None = None,
    user_challenge: str | None = None,
    digest: bytes | None = None,
) -> Answer:
    """The user answered on the device: verify, complete the signature, record the result.

    ACSP_V2 (RP API v3 authentication): ``user_challenge`` is required and completes the
    payload (``signing.services.acsp``); ``digest``, when given, is the digest the app
    signed: if it is not the server's, the transaction ends with PROTOCOL_FAILURE and no
    share is evaluated (no PIN try counts, no token rotates).
    """

    def attempt() -> Answer:
        return _confirm(
            device=device,
            transaction_id=transaction_id,
            interaction=interaction,
            envelope=envelope,
            token=token,
            rnonce=rnonce,
            vc=vc,
            user_challenge=user_challenge,
            presented_digest=digest,
        )

    try:
        return attempt()
    except _Overdue:
        # A late answer: the transaction ends with TIMEOUT (committed on its own, since
        # the attempt's transaction rolled back), then the answer is judged as for any
        # finished transaction (a retransmit of an earlier answer still gets its reply).
        transaction_expire(transaction_id=transaction_id)
    try:
        return attempt()
    except _Overdue:  # still pending after the expiry: it was not ours to expire
        raise TransactionFinished("The transaction is finished.") from None


class _Overdue(Exception):
    """The transaction is past its time but still PENDING: expire it first."""


@transaction.atomic
def _confirm(
    *,
    device: Device,
    transaction_id: uuid.UUID | str,
    interaction: str,
    envelope: object,
    token: bytes,
    rnonce: bytes,
    vc: str | None,
    user_challenge: str | None,
    presented_digest: bytes | None,
) -> Answer:
    # The transaction, locked, with its account read along (not locked).
    tx = _LOCK_TRANSACTION.first(id=transaction_id, device=device.pk)
    if tx is None:
        raise NotFound("No such transaction.")
    if tx.state == Transaction.State.PENDING and tx.expires_at <= timezone.now():
        raise _Overdue
    account = tx.account
    if tx.kind == Transaction.Kind.CERTIFICATE_CHOICE:
        if tx.state != Transaction.State.PENDING or expire_if_due(tx):
            raise TransactionFinished("The transaction is finished.")
        if interaction != "certificateChoice":
            raise BadRequest(
                "A certificate choice is confirmed with the certificateChoice interaction."
            )
        finish(tx, Transaction.Result.OK, interaction="certificateChoice")
        return Answer(status="OK")
    assert tx.key_id is not None  # every non-choice transaction has a key
    key = _LOCK_KEY.first(id=tx.key_id)
    if key is None:  # never: a transaction's key row is protected from deletion
        raise NotFound("No such transaction.")
    if tx.state != Transaction.State.PENDING or expire_if_due(tx):
        return _replay_or_finished(tx, key, envelope=envelope, token=token, rnonce=rnonce)
    expected = first_supported_interaction(tx, device)
    if interaction != expected:
        raise BadRequest("Use the first interaction of the list that this app supports.")
    if interaction in VC_INTERACTIONS and vc is None:
        # An approval without a pick is not a wrong pick: refused, nothing changes.
        raise BadRequest(
            "A verification-code choice needs the chosen code (vc).", code="vc_required"
        )
    acsp = is_acsp(tx)
    if acsp:
        user_challenge = check_user_challenge(user_challenge)  # before anything changes
    # A code fixed at the start (v3: tx.vc) or computed from the hash (v1/v2); ACSP_V2 has
    # no hash yet, so only a fixed code can be right.
    code = tx.vc if acsp else (tx.vc or verification_code(bytes(tx.hash or b"")))
    if interaction in VC_INTERACTIONS and vc != code:
        finish(tx, Transaction.Result.WRONG_VC, interaction=interaction)
        return Answer(status="WRONG_VC")
    if acsp:
        assert user_challenge is not None  # checked above
        digest = acsp_digest(tx, interaction=interaction, user_challenge=user_challenge)
        if digest_differs(presented_digest, digest):
            # The app signed something else: evaluating its share would count a PIN try
            # for the app's mistake (or let a wrong payload pass as a wrong PIN).
            finish(tx, Transaction.Result.PROTOCOL_FAILURE, interaction=interaction)
            return Answer(status="PROTOCOL_FAILURE")
        tx.hash = digest
        tx.user_challenge = user_challenge
        tx.save(update_fields=["hash", "user_challenge"])
    else:
        digest = bytes(tx.hash or b"")
    s1_prime = decrypt_s1p(envelope, aad=engine.transaction_aad(str(tx.pk)), key=key)
    outcome = sign(
        key,
        digest=digest,
        hash_alg=tx.hash_type,
        padding=tx.padding,
        salt=None if tx.salt is None else bytes(tx.salt),
        s1_prime=s1_prime,
        token=token,
        rnonce=rnonce,
        now=timezone.now(),
    )
    answer = answer_for(outcome)
    result = {
        "OK": Transaction.Result.OK,
        "WRONG_PIN": Transaction.Result.WRONG_PIN,
        "LOCKED": Transaction.Result.LOCKED,
        "REVOKED": Transaction.Result.REVOKED,
        "CLONE_DETECTED": Transaction.Result.CLONE_DETECTED,
    }[answer.status]
    finish(tx, result, signature=outcome.signature, interaction=interaction)
    actor = f"device:{device.pk}"
    if (
        outcome.status in (engine.OutcomeStatus.WRONG_PIN, engine.OutcomeStatus.CLONE)
        or outcome.revoke
    ):
        audit_record(
            actor=actor,
            action=f"key.{outcome.status.value}",
            object_type="signing.SplitKey",
            object_id=key.pk,
            data={
                "fails": outcome.fails,
                "transaction": str(tx.pk),
                "locked_until": outcome.locked_until.isoformat() if outcome.locked_until else None,
            },
        )
    if outcome.revoke:
        reason = "clone" if outcome.status == engine.OutcomeStatus.CLONE else "pin_tries"
        close_account(account, actor=actor, reason=reason)
    return answer


def _replay_or_finished(
    tx: Transaction, key: SplitKey, *, envelope: object, token: bytes, rnonce: bytes
) -> Answer:
    """A finished transaction: the identical answer to a retransmit, else 409."""
    if key.last_rnonce_hash is not None and isinstance(rnonce, bytes) and rnonce:
        try:
            s1_prime = decrypt_s1p(envelope, aad=engine.transaction_aad(str(tx.pk)), key=key)
        except BadRequest:
            raise TransactionFinished("The transaction is finished.") from None
        try:
            request = engine.SignRequest(
                digest=bytes(tx.hash or b""),
                hash_alg=tx.hash_type,
                padding=tx.padding,
                s1_prime=s1_prime,
                token=token,
                rnonce=rnonce,
                salt=None if tx.salt is None else bytes(tx.salt),
            )
        except engine.InvalidInput:
            raise TransactionFinished("The transaction is finished.") from None
        decision = engine.classify_retransmit(
            engine.RetransmitRecord(
                bytes(key.last_rnonce_hash),
                bytes(key.last_request_digest or b""),
                bytes(key.last_response or b""),
            ),
            rnonce,
            request.request_digest(),
        )
        if decision.kind == engine.Retransmit.REPLAY and decision.response is not None:
            return answer_for(engine.Outcome.from_bytes(decision.response, replayed=True))
    raise TransactionFinished("The transaction is finished.")


def transaction_refuse(
    *, device: Device, transaction_id: uuid.UUID | str, interaction: str | None
) -> Answer:
    """The user cancelled: on a named screen (``USER_REFUSED_<screen>``), or in general
    (``interaction`` None: ``USER_REFUSED``, v1's only refusal).

    RP API v3 transactions: the named screen must be one the transaction offered (else
    BadRequest, nothing changes), and the result is USER_REFUSED_INTERACTION with
    ``refused_interaction``; a certificate choice refused on its screen stays
    USER_REFUSED_CERT_CHOICE in every version.
    """
    transaction_expire(transaction_id=transaction_id)
    return _refuse(device=device, transaction_id=transaction_id, interaction=interaction)


@transaction.atomic
def _refuse(*, device: Device, transaction_id: uuid.UUID | str, interaction: str | None) -> Answer:
    tx = (
        Transaction.objects.select_for_update()
        .filter(pk=transaction_id, account__device=device)
        .first()
    )
    if tx is None:
        raise NotFound("No such transaction.")
    if tx.state != Transaction.State.PENDING or expire_if_due(tx):
        raise TransactionFinished("The transaction is finished.")
    if interaction is None:
        finish(tx, Transaction.Result.USER_REFUSED)
        return Answer(status="REFUSED")
    if tx.kind == Transaction.Kind.CERTIFICATE_CHOICE and interaction == "certificateChoice":
        finish(tx, Transaction.Result.USER_REFUSED_CERT_CHOICE, interaction=interaction)
        return Answer(status="REFUSED")
    if is_v3(tx):
        # RP API v3 has one refusal code naming the screen: it must be one that was shown.
        if interaction not in {i.get("type") for i in tx.interactions}:
            raise BadRequest(
                "The refusal names an interaction this transaction did not offer.",
                code="interaction_not_offered",
            )
        finish(
            tx,
            Transaction.Result.USER_REFUSED_INTERACTION,
            interaction=interaction,
            refused_interaction=interaction,
        )
        return Answer(status="REFUSED")
    if interaction not in REFUSAL_RESULTS:
        raise BadRequest("Unknown interaction.")
    finish(tx, REFUSAL_RESULTS[interaction], interaction=interaction)
    return Answer(status="REFUSED")
