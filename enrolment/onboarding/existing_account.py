"""An existing qualified account as the identity source: the person signs the application
with PIN2 on the device that holds it, and the signature is verified as an RP would.

Step: ``existing_account`` (waits for the PIN2 transaction, then checks its signature).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from accounts.models import Account
from enrolment.models import OnboardingApplication
from enrolment.onboarding.common import OnboardingError, StepFailed, StepRetry
from pki.models import Certificate
from signing import engine
from signing.models import Transaction
from signing.services.expiry import is_expired
from signing.services.transactions import transaction_create

RP_NAME = "Open eID registration"
PROMPT = (
    "A new device asks to register an account in your name. Pick the code that device "
    "shows. If you did not start this on a device of yours, refuse."
)
SHORT_PROMPT = "Pick the code your new device shows"
TRANSACTION_TTL = timedelta(minutes=5)


def usable_account(document_number: str) -> Account:
    """The active qualified account with this document number, or an error."""
    account = (
        Account.objects.select_related("person", "device")
        .filter(document_number=document_number)
        .first()
    )
    if (
        account is None
        or account.state != Account.State.ACTIVE
        or account.level != Account.Level.QUALIFIED
        or is_expired(account)  # an expired account vouches for nothing
    ):
        raise OnboardingError(
            "Registration with an existing account needs an active qualified account.",
            code="existing_account_unusable",
        )
    return account


def existing_account_statement(application: OnboardingApplication) -> bytes:
    """The application the person signs with PIN2 (the digest of this text is signed)."""
    assert application.existing_account is not None
    return (
        "Open eID application for a new account\n"
        f"application: {application.pk}\n"
        f"applicant: {application.existing_account.person.semantics_identifier}\n"
        f"level: {application.level}\n"
        f"signed with: {application.existing_account.document_number}\n"
    ).encode()


def signing_request_create(application: OnboardingApplication) -> None:
    """Ask the existing account's device for the PIN2 signature of the statement, bound
    to the new device: the code the new device shows (``verification_code``, chosen here
    at random) must be picked among decoys on the old one. The prompt offers code choices
    only, so it cannot be approved blind, and a wrong pick ends it with WRONG_VC, as in
    an RP's signature with a code choice (signing.services.answers).
    """
    assert application.existing_account is not None
    digest = hashlib.sha256(existing_account_statement(application)).digest()
    code = engine.random_code()
    tx = transaction_create(
        account=application.existing_account,
        kind=Transaction.Kind.SIGNATURE,
        rp_name=RP_NAME,
        interactions=[
            {"type": "confirmationMessageAndVerificationCodeChoice", "displayText200": PROMPT},
            {"type": "verificationCodeChoice", "displayText60": SHORT_PROMPT},
        ],
        digest=digest,
        hash_type="SHA256",
        padding="PSS",
        ttl=TRANSACTION_TTL,
        vc=code,
        vc_shown_on=Transaction.VcShownOn.NEW_DEVICE,
    )
    application.existing_transaction_id = tx.pk
    application.verification_code = code
    application.save(update_fields=["existing_transaction_id", "verification_code"])


def step_existing_account(application: OnboardingApplication) -> dict[str, Any]:
    tx = (
        Transaction.objects.filter(pk=application.existing_transaction_id).first()
        if application.existing_transaction_id is not None
        else None
    )
    if tx is None:
        raise StepFailed("existing_transaction_missing", "The signing transaction is gone.")
    if tx.state != Transaction.State.COMPLETE:
        raise StepRetry("waiting for the PIN2 signature")
    if tx.result == Transaction.Result.WRONG_VC:
        raise StepFailed(
            "existing_account_wrong_code",
            "The code picked on the other device is not the one this device showed.",
        )
    if tx.result != Transaction.Result.OK or tx.signature is None:
        raise StepFailed(
            "existing_account_refused", f"The existing account did not sign ({tx.result})."
        )
    _verify_signature(application, bytes(tx.signature), bytes(tx.salt or b""))
    person = application.existing_account.person if application.existing_account else None
    assert person is not None
    application.identity |= {
        "semantics_identifier": person.semantics_identifier,
        "given_name": person.given_name,
        "surname": person.surname,
        "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else "",
    }
    return {"transaction": str(tx.pk), "result": tx.result}


def _verify_signature(application: OnboardingApplication, signature: bytes, salt: bytes) -> None:
    """Check the PIN2 signature with the account's signing certificate (as an RP would)."""
    assert application.existing_account is not None
    certificate = (
        Certificate.objects.filter(
            document_number=application.existing_account.document_number,
            purpose=Certificate.Purpose.SIGN,
            status=Certificate.Status.GOOD,
        )
        .order_by("-id")
        .first()
    )
    if certificate is None:
        raise StepFailed("existing_account_unusable", "The account has no signing certificate.")
    public_key = x509.load_der_x509_certificate(bytes(certificate.der)).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    digest = hashlib.sha256(existing_account_statement(application)).digest()
    try:
        public_key.verify(
            signature,
            digest,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=len(salt) or 32),
            Prehashed(hashes.SHA256()),
        )
    except InvalidSignature:
        raise StepFailed(
            "existing_signature_invalid", "The PIN2 signature does not verify."
        ) from None
