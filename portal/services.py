"""Services of the portal: ID-card login, the trust configuration, e-mail verification.

The Web eID rules themselves live in the Django-free ``portal.webeid`` package; this
module binds them to the settings (trusted CA folder, OCSP, the virtual card), to the
session (the challenge) and to persons.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cryptography import x509
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Person
from accounts.services import InvalidPerson, person_get_or_create, person_set_contact
from audit.services import audit_record
from core.errors import DomainError
from portal import testcards, webeid
from portal.models import EmailVerification

SESSION_CHALLENGE = "portal_webeid_challenge"
MAX_CA_FILES = 200
MAX_CA_FILE_BYTES = 64 * 1024
MAX_CLIENT_CERT_CHARS = 16 * 1024
EMAIL_TOKEN_TTL = timedelta(hours=24)


class PortalError(DomainError):
    code = "portal_error"


class VerificationInvalid(PortalError):
    code = "verification_invalid"


# --- trust configuration ----------------------------------------------------------------


def site_origin() -> str:
    """The origin the card must have signed: PORTAL_ORIGIN, or SITE_URL's origin."""
    if settings.PORTAL_ORIGIN:
        return webeid.check_origin(settings.PORTAL_ORIGIN)
    parts = urlsplit(settings.SITE_URL)
    return webeid.check_origin(f"{parts.scheme}://{parts.netloc}")


def _load_ca_file(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()[: MAX_CA_FILE_BYTES + 1]
    if len(data) > MAX_CA_FILE_BYTES:
        raise ValueError(f"{path} is larger than 64 KiB")
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


@lru_cache(maxsize=4)
def _trusted_from_folder(folder: str, mtime: float) -> tuple[x509.Certificate, ...]:
    found: list[x509.Certificate] = []
    root = Path(folder)
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".pem", ".crt", ".cer"))
    for path in files[:MAX_CA_FILES]:
        found.extend(_load_ca_file(path))
    return tuple(found)


def trusted_cas() -> tuple[x509.Certificate, ...]:
    """The configured ID-card CAs, plus a test card CA when one is plugged in and on."""
    folder = Path(settings.PORTAL_TRUSTED_CA_DIR)
    cas: tuple[x509.Certificate, ...] = ()
    if folder.is_dir():
        cas = _trusted_from_folder(str(folder), folder.stat().st_mtime)
    issuer = testcards.active()
    if issuer is not None:
        cas = (*cas, issuer.certificate())
    return cas


def trust_config() -> webeid.TrustConfig:
    client: webeid.OcspClient = webeid.http_ocsp_client
    issuer = testcards.active()
    if issuer is not None:
        client = issuer.ocsp_client(client)
    return webeid.TrustConfig(
        trusted_cas=trusted_cas(),
        disallowed_policies=frozenset(settings.PORTAL_DISALLOWED_POLICIES)
        or webeid.DEFAULT_DISALLOWED_POLICIES,
        ocsp=webeid.OcspConfig(
            responder_url=settings.PORTAL_OCSP_URL or None,
            timeout=float(settings.PORTAL_OCSP_TIMEOUT),
            when_unreachable="allow"
            if settings.PORTAL_OCSP_WHEN_UNREACHABLE == "allow"
            else "fail-closed",
            client=client,
        ),
    )


# --- login -----------------------------------------------------------------------------


def challenge_issue(session: SessionBase) -> str:
    """A new challenge for this browser; it replaces any earlier one."""
    challenge = webeid.challenge_new(now=timezone.now())
    session[SESSION_CHALLENGE] = challenge.as_dict()
    return challenge.nonce


def challenge_take(session: SessionBase) -> str:
    """Remove the browser's challenge (single use) and return its nonce, or raise."""
    stored = webeid.Challenge.from_dict(session.pop(SESSION_CHALLENGE, None))
    return webeid.challenge_take(stored, now=timezone.now())


def _title(name: str) -> str:
    """ID-cards spell names in capitals; people read them in title case."""
    return "-".join(" ".join(w.capitalize() for w in part.split(" ")) for part in name.split("-"))


@transaction.atomic
def person_login(*, identity: webeid.Identity, method: str, source_ip: str | None) -> Person:
    """The person a validated ID-card certificate names (created on first login)."""
    actor = f"portal:{identity.semantics_identifier}"
    person = person_get_or_create(
        semantics_identifier=identity.semantics_identifier,
        given_name=_title(identity.given_name),
        surname=_title(identity.surname),
        actor=actor,
        source_ip=source_ip,
    )
    audit_record(
        actor=actor,
        action="portal.login",
        object_type="accounts.Person",
        object_id=person.pk,
        data={
            "method": method,
            "certificate_serial": f"{identity.certificate.serial_number:x}",
            "issuer": identity.issuer.subject.rfc4514_string(),
            "revocation": identity.revocation,
        },
        source_ip=source_ip,
    )
    return person


@transaction.atomic
def person_logout(*, person_id: int, source_ip: str | None) -> None:
    """Record the end of a portal session (the view flushes the session itself)."""
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return
    audit_record(
        actor=f"portal:{person.semantics_identifier}",
        action="portal.logout",
        object_type="accounts.Person",
        object_id=person.pk,
        source_ip=source_ip,
    )


def login_with_token(
    *, session: SessionBase, token: object, report: webeid.ClientReport | None
) -> webeid.Identity:
    """Validate a Web eID token against this browser's challenge (taken either way)."""
    nonce = challenge_take(session)
    return webeid.validate_token(
        token, origin=site_origin(), nonce=nonce, trust=trust_config(), report=report
    )


def client_certificate_from_header(value: str) -> x509.Certificate:
    """The certificate in the proxy's header: URL-encoded PEM ($ssl_client_escaped_cert)."""
    if not value or len(value) > MAX_CLIENT_CERT_CHARS:
        raise webeid.CertificateMalformed("No client certificate was presented.")
    pem = unquote(value).encode("ascii", "replace")
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise webeid.CertificateMalformed() from None


def peer_is_trusted_proxy(address: str) -> bool:
    """Is the direct peer one of SMARTID_TRUSTED_PROXIES (only they may name a certificate)?"""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        ip in ipaddress.ip_network(network, strict=False) for network in settings.TRUSTED_PROXIES
    )


def login_with_client_certificate(*, header_value: str) -> webeid.Identity:
    return webeid.validate_certificate(
        client_certificate_from_header(header_value), trust=trust_config()
    )


# --- contact data ------------------------------------------------------------------------


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(b"portal-email-v1\x00" + token.encode()).digest()


@transaction.atomic
def contact_update(*, person: Person, email: str, phone: str, verify_url: str, actor: str) -> bool:
    """Save the phone number; for a new e-mail address, send a verification link.

    Returns whether a link was sent. The address is the person's only once the link
    is opened (``email_verify``).
    """
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidPerson(_("The e-mail address is not valid.")) from None
    # One transaction: a bad phone number leaves the address untouched and vice versa.
    person_set_contact(person=person, phone=phone, actor=actor)
    if email == person.email:
        return False
    if not email:
        person_set_contact(person=person, email="", actor=actor)
        return False
    token = secrets.token_urlsafe(32)
    verification = EmailVerification.objects.create(
        person=person,
        email=email,
        token_hash=_token_hash(token),
        expires_at=timezone.now() + EMAIL_TOKEN_TTL,
    )
    audit_record(
        actor=actor,
        action="portal.email_verification_sent",
        object_type="portal.EmailVerification",
        object_id=verification.pk,
        data={"person": person.semantics_identifier},
    )
    link = verify_url.replace("TOKEN", token)
    transaction.on_commit(
        lambda: send_mail(
            subject=_("Confirm your e-mail address"),
            message=_(
                "Open this link to confirm your e-mail address for Open eID:\n\n%(link)s\n\n"
                "The link is valid for 24 hours. If you did not ask for this, ignore it."
            )
            % {"link": link},
            from_email=None,
            recipient_list=[email],
        )
    )
    return True


@transaction.atomic
def email_verify(*, person: Person, token: str) -> str:
    """Open a verification link: the address becomes the person's. Returns it."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise VerificationInvalid(_("This confirmation link is not valid."))
    row = (
        EmailVerification.objects.select_for_update()
        .filter(token_hash=_token_hash(token), person=person)
        .first()
    )
    if row is None or row.used_at is not None or row.expires_at <= timezone.now():
        raise VerificationInvalid(_("This confirmation link is not valid or has expired."))
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    person_set_contact(
        person=person, email=row.email, actor=f"portal:{person.semantics_identifier}"
    )
    return row.email
