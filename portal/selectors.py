"""Reads of the portal: a person's accounts, their certificates with live status, history."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as cocsp
from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.models import Account, Person
from enrolment.models import OnboardingApplication
from pki import ocsp as pki_ocsp
from pki.models import Certificate
from pki.services import ca_certificate
from signing.models import Transaction
from signing.services.expiry import with_valid_until

HISTORY_LIMIT = 50
#: What a person reads for each OCSP status (the code stays in English for tests and CSS).
OCSP_LABELS = {
    "good": gettext_lazy("good"),
    "revoked": gettext_lazy("revoked"),
    "on hold": gettext_lazy("on hold"),
    "unknown": gettext_lazy("unknown"),
}


@dataclass(frozen=True)
class CertificateView:
    row: Certificate
    ocsp_status: str  # "good", "revoked", "on hold", "unknown"

    @property
    def ocsp_label(self) -> str:
        return str(OCSP_LABELS.get(self.ocsp_status, self.ocsp_status))

    @property
    def pem(self) -> str:
        return (
            x509.load_der_x509_certificate(bytes(self.row.der))
            .public_bytes(Encoding.PEM)
            .decode("ascii")
        )


def ocsp_status(row: Certificate) -> str:
    """The certificate's status as our own OCSP responder answers it right now.

    The portal asks the responder (in-process, with a nonce so no cached answer is
    used) rather than reading the row, so the person sees what relying parties see.
    """
    certificate = x509.load_der_x509_certificate(bytes(row.der))
    issuer = ca_certificate(row.issuer)
    request = (
        cocsp.OCSPRequestBuilder()
        .add_certificate(certificate, issuer, hashes.SHA256())
        .add_extension(x509.OCSPNonce(b"portal-status-check"), critical=False)
        .build()
    )
    response = cocsp.load_der_ocsp_response(pki_ocsp.respond(request.public_bytes(Encoding.DER)))
    if response.response_status != cocsp.OCSPResponseStatus.SUCCESSFUL:
        return "unknown"
    status = response.certificate_status
    if status == cocsp.OCSPCertStatus.GOOD:
        return "good"
    if status == cocsp.OCSPCertStatus.REVOKED:
        if response.revocation_reason == x509.ReasonFlags.certificate_hold:
            return "on hold"
        return "revoked"
    return "unknown"


def person_accounts(person: Person) -> list[Account]:
    """The person's accounts, newest first, each annotated with ``valid_until``."""
    return list(
        with_valid_until(Account.objects.filter(person=person))
        .select_related("device")
        .order_by("-created_at")
    )


def account_certificates(account: Account) -> list[CertificateView]:
    rows = (
        Certificate.objects.filter(split_key__account=account)
        .exclude(der=b"")
        .select_related("issuer")
        .order_by("purpose", "-pk")  # after a re-key: the current one, then the superseded
    )
    return [CertificateView(row, ocsp_status(row)) for row in rows]


def account_certificate(account: Account, purpose: str) -> Certificate | None:
    return (
        Certificate.objects.filter(split_key__account=account, purpose=purpose)
        .exclude(der=b"")
        .order_by("-pk")  # the current one after a re-key
        .first()
    )


def account_history(account: Account) -> list[Transaction]:
    return list(Transaction.objects.filter(account=account).order_by("-created_at")[:HISTORY_LIMIT])


def pending_applications(person: Person) -> list[OnboardingApplication]:
    """Remote applications for this person that are not decided yet: above all a new
    account requested from another device with one of this person's accounts (PIN2), so a
    person sees at once an application they did not make.
    """
    return list(
        OnboardingApplication.objects.filter(
            Q(person=person)
            | Q(existing_account__person=person)
            | Q(identity__semantics_identifier=person.semantics_identifier)
        )
        .exclude(state__in=OnboardingApplication.FINAL_STATES)
        .order_by("-created_at")[:20]
    )
