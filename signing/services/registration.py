"""Registration of an account's keys (docs/app-api.md §2): moduli, shares, CSR signature.

The app sends n1 per purpose and gets the composite modulus n and a one-time token; then
its share d1″, for a CSR to sign; its first split signature, on that CSR, goes to the CA,
which issues the certificate in a worker (``signing.services.issuance``). The account
becomes ACTIVE when both certificates exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from asn1crypto import csr as acsr
from asn1crypto import keys as akeys
from asn1crypto import x509 as ax509
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from audit.services import audit_record
from signing import engine, keys
from signing.models import SplitKey
from signing.services.errors import BadRequest, NotFound, WrongState
from signing.services.issuance import issuance_enqueue
from signing.services.keystate import Answer, answer_for, decrypt_s1p, int_from, key_length, sign
from signing.services.lifecycle import close_account

PURPOSES = (SplitKey.Purpose.AUTH, SplitKey.Purpose.SIGN)


def _locked_keys(account: Account) -> dict[str, SplitKey]:
    return {
        k.purpose: k
        for k in SplitKey.objects.select_for_update().filter(account=account).order_by("purpose")
    }


def _require_pending(account: Account) -> Account:
    row = Account.objects.select_for_update().get(pk=account.pk)
    if row.state != Account.State.PENDING:
        raise WrongState("The registration is finished.")
    return row


# --- registration ------------------------------------------------------------------


@dataclass(frozen=True)
class NewKey:
    n: int
    token: bytes


@transaction.atomic
def registration_submit_moduli(
    *, account: Account, moduli: Mapping[str, bytes]
) -> dict[str, NewKey]:
    """Step 2: validate n1 per purpose, pair it with a pooled server half, make n."""
    account = _require_pending(account)
    if set(moduli) != set(PURPOSES):
        raise BadRequest("Send n1 for both AUTH and SIGN.")
    if SplitKey.objects.filter(account=account).exists():
        raise WrongState("The moduli were already submitted.")
    bits = settings.SPLITKEY_BITS
    result: dict[str, NewKey] = {}
    seen: set[int] = set()
    for purpose in PURPOSES:
        n1 = int_from(moduli[purpose], length=(bits + 7) // 8, what="n1")
        n2_hex, wrapped_half = keys.pool_take(bits=bits)
        n2 = int(n2_hex, 16)
        known = seen | ({n1} if SplitKey.objects.filter(n1=format(n1, "x")).exists() else set())
        try:
            engine.validate_client_modulus(n1, bits, n2, known=known)
            composite = engine.composite_public_key(n1, n2)
        except engine.ModulusRejected as exc:
            raise BadRequest(f"n1 rejected: {exc.reason.value}.", code="modulus_rejected") from None
        seen.add(n1)
        state, token = engine.new_key_state()
        key = SplitKey(
            account=account,
            purpose=purpose,
            bits=bits,
            n1=format(n1, "x"),
            n2=n2_hex,
            wrapped_server_half=wrapped_half,
        )
        _save_state_new(key, state)
        result[purpose] = NewKey(n=composite.n, token=token)
    audit_record(
        actor=f"device:{account.device_id}",
        action="keys.moduli_submitted",
        object_type="accounts.Account",
        object_id=account.pk,
        data={"bits": bits},
    )
    return result


def _save_state_new(key: SplitKey, state: engine.KeyState) -> None:
    key.token_hash = state.token_hash
    key.save()


@dataclass(frozen=True)
class CsrToSign:
    token: bytes
    tbs: bytes
    digest: bytes


def store_shares(
    found: Mapping[str, SplitKey],
    shares: Mapping[str, tuple[bytes, bytes]],
    *,
    document_number: str,
) -> dict[str, CsrToSign]:
    """Each key's d1″ (wrapped), its certificate request to sign and a new token, for keys
    waiting for their shares (a registration's, or a re-key's new ones): every token is
    checked before anything is stored."""
    for purpose in PURPOSES:
        _check_token(found[purpose], shares[purpose][1])
    result: dict[str, CsrToSign] = {}
    for purpose in PURPOSES:
        key = found[purpose]
        d1pp = int_from(shares[purpose][0], length=key_length(key), what="d1″")
        if not 0 < d1pp < int(key.n1, 16):
            raise BadRequest("d1″ is out of range.")
        key.wrapped_d1pp = keys.wrap_d1pp(key, d1pp)
        composite = engine.composite_public_key(int(key.n1, 16), int(key.n2, 16))
        key.csr_info = _csr_info(composite, document_number)
        key.state = SplitKey.State.AWAITING_CSR
        token, token_hash = engine.new_token()
        key.token_hash = token_hash
        key.save(update_fields=["wrapped_d1pp", "csr_info", "state", "token_hash"])
        tbs = bytes(key.csr_info)
        result[purpose] = CsrToSign(token=token, tbs=tbs, digest=hashlib.sha256(tbs).digest())
    return result


def _csr_info(composite: engine.CompositeKey, document_number: str) -> bytes:
    info = acsr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": ax509.Name.build({"common_name": document_number}),
            "subject_pk_info": {
                "algorithm": {"algorithm": "rsa"},
                "public_key": akeys.RSAPublicKey(
                    {"modulus": composite.n, "public_exponent": composite.e}
                ),
            },
            "attributes": [],
        }
    )
    return bytes(info.dump())


def _check_token(key: SplitKey, token: bytes) -> None:
    if not isinstance(token, bytes) or not engine.token_matches(token, bytes(key.token_hash)):
        raise BadRequest("The one-time token does not match.", code="token_mismatch")


@transaction.atomic
def registration_submit_shares(
    *, account: Account, shares: Mapping[str, tuple[bytes, bytes]]
) -> dict[str, CsrToSign]:
    """Step 3: store d1″ (wrapped) per purpose, rotate the token, build the CSR to sign."""
    account = _require_pending(account)
    if set(shares) != set(PURPOSES):
        raise BadRequest("Send d1″ for both AUTH and SIGN.")
    found = _locked_keys(account)
    if set(found) != set(PURPOSES) or any(
        k.state != SplitKey.State.AWAITING_SHARE for k in found.values()
    ):
        raise WrongState("The shares were already submitted, or the moduli were not.")
    result = store_shares(found, shares, document_number=account.document_number)
    audit_record(
        actor=f"device:{account.device_id}",
        action="keys.shares_submitted",
        object_type="accounts.Account",
        object_id=account.pk,
        data={},
    )
    return result


@transaction.atomic
def registration_sign_csr(
    *, account: Account, purpose: str, envelope: object, token: bytes, rnonce: bytes
) -> Answer:
    """Step 4: the first split signature (PIN1 or PIN2) on the CSR; hand it to the CA.

    The key state and the signed request commit together; the certificate is issued by
    a worker afterwards (``signing.services.issuance``: the key is ``ISSUING`` until then)
    and the account becomes ACTIVE when both certificates exist. The answer carries the
    certificate when it is already there (a retransmit, or the embedded mode, where the
    task runs inside this transaction: see :func:`registration_certificate`).
    """
    account = Account.objects.select_for_update().select_related("person").get(pk=account.pk)
    key = SplitKey.objects.select_for_update().filter(account=account, purpose=purpose).first()
    if key is None:
        raise NotFound("No such key.")
    if key.state in (SplitKey.State.ISSUING, SplitKey.State.ACTIVE):
        # A retransmit after a lost answer: the engine answers from its cache.
        pass
    elif key.state != SplitKey.State.AWAITING_CSR or account.state != Account.State.PENDING:
        raise WrongState("This key is not waiting for its certificate request signature.")
    s1_prime = decrypt_s1p(
        envelope, aad=engine.registration_aad(str(account.uuid), purpose), key=key
    )
    info = bytes(key.csr_info or b"")
    outcome = sign(
        key,
        digest=hashlib.sha256(info).digest(),
        hash_alg="SHA256",
        padding="PKCS1v15",
        salt=None,
        s1_prime=s1_prime,
        token=token,
        rnonce=rnonce,
        now=timezone.now(),
    )
    answer = answer_for(outcome)
    if outcome.revoke:
        close_account(account, actor=f"device:{account.device_id}", reason=outcome.status.value)
    if outcome.status != engine.OutcomeStatus.SIGNED:
        return answer
    assert outcome.signature is not None
    if outcome.replayed:
        return answer
    if key.state != SplitKey.State.AWAITING_CSR:
        raise WrongState("This key is not waiting for its certificate request signature.")
    key.csr_signature = outcome.signature
    key.csr_signed_at = timezone.now()
    key.state = SplitKey.State.ISSUING
    key.save(update_fields=["csr_signature", "csr_signed_at", "state"])
    audit_record(
        actor=f"device:{account.device_id}",
        action="keys.csr_signed",
        object_type="signing.SplitKey",
        object_id=key.pk,
        data={"purpose": purpose},
    )
    issuance_enqueue(account_id=account.pk)
    return answer


def registration_certificate(*, account: Account, purpose: str) -> bytes | None:
    """DER of the key's certificate once issued, else None (still ``ISSUING``)."""
    key = (
        SplitKey.objects.filter(account=account, purpose=purpose)
        .select_related("certificate")
        .first()
    )
    if key is None or key.certificate is None:
        return None
    return bytes(key.certificate.der)


@dataclass(frozen=True)
class IssuanceStatus:
    """What the app's certificate long poll answers (docs/app-api.md §2.5)."""

    state: str
    document_number: str
    certificates: dict[str, bytes]
    #: No key is waiting for its certificate: each has one, or the registration ended.
    ready: bool


def registration_issuance_status(*, account: Account) -> IssuanceStatus:
    """The certificates issued so far, and whether any is still being issued."""
    account.refresh_from_db(fields=["state"])
    keys = list(SplitKey.objects.filter(account=account).select_related("certificate"))
    return IssuanceStatus(
        state=account.state,
        document_number=account.document_number,
        certificates={
            k.purpose: bytes(k.certificate.der) for k in keys if k.certificate is not None
        },
        ready=not any(k.state == SplitKey.State.ISSUING for k in keys),
    )
