"""State of the certification authority: CAs, issued certificates, CRLs."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CertificateAuthority(models.Model):
    """A CA of the hierarchy: the root, or an issuing CA for Q or NQ accounts.

    The private key lives in the key store under ``key_label``; so does the key of
    the CA's delegated OCSP responder (``ocsp_key_label``). Only certificates are here.
    """

    class Kind(models.TextChoices):
        ROOT = "ROOT", "Root"
        QUALIFIED = "Q", "Issuing, qualified accounts"
        NON_QUALIFIED = "NQ", "Issuing, non-qualified accounts"

    slug = models.SlugField(max_length=40, unique=True, help_text="Used in /crl/<slug>.crl URLs.")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    common_name = models.CharField(max_length=64)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)
    key_label = models.CharField(max_length=64, unique=True, editable=False)
    certificate_der = models.BinaryField(editable=False)
    ocsp_key_label = models.CharField(max_length=64, blank=True, editable=False)
    ocsp_certificate_der = models.BinaryField(null=True, blank=True, editable=False)
    # Number of the last published CRL; each new CRL takes the next (RFC 5280 §5.2.3).
    crl_number = models.PositiveBigIntegerField(default=0, editable=False)
    # Bumped in the transaction of every status change of a certificate of this CA; a
    # CRL older than it is stale and is re-published before it is served.
    status_version = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "certificate authority"
        verbose_name_plural = "certificate authorities"
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind__in=["ROOT", "Q", "NQ"]),
                name="one_ca_per_kind",
            )
        ]

    def __str__(self) -> str:
        return self.common_name


class Certificate(models.Model):
    """An end-entity certificate issued to an account's split key."""

    class Purpose(models.TextChoices):
        AUTH = "AUTH", "Authentication"
        SIGN = "SIGN", "Signing"

    class Level(models.TextChoices):
        QUALIFIED = "QUALIFIED", "Qualified"
        ADVANCED = "ADVANCED", "Advanced"

    class Status(models.TextChoices):
        GOOD = "GOOD", "Good"
        ON_HOLD = "ON_HOLD", "On hold (suspended)"
        REVOKED = "REVOKED", "Revoked"

    class Reason(models.TextChoices):
        # RFC 5280 CRLReason names, as cryptography's ReasonFlags spells them.
        UNSPECIFIED = "unspecified", "Unspecified"
        KEY_COMPROMISE = "key_compromise", "Key compromise"
        AFFILIATION_CHANGED = "affiliation_changed", "Affiliation changed"
        SUPERSEDED = "superseded", "Superseded"
        CESSATION_OF_OPERATION = "cessation_of_operation", "Cessation of operation"
        CERTIFICATE_HOLD = "certificate_hold", "Certificate hold"
        PRIVILEGE_WITHDRAWN = "privilege_withdrawn", "Privilege withdrawn"

    issuer = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT)
    serial_number = models.CharField(max_length=64, help_text="Hexadecimal, lower case.")
    document_number = models.CharField(max_length=80, db_index=True)
    purpose = models.CharField(max_length=4, choices=Purpose.choices)
    level = models.CharField(max_length=10, choices=Level.choices)
    subject = models.CharField(max_length=400)
    der = models.BinaryField(editable=False)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.GOOD)
    revocation_reason = models.CharField(max_length=32, choices=Reason.choices, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "serial_number"], name="unique_serial"),
            # Idempotent issuance: a redelivered task finds the certificate that exists.
            # A re-key revokes the old certificate as superseded before the new one is
            # issued, so one current certificate per purpose stays the rule.
            models.UniqueConstraint(
                fields=["document_number", "purpose"],
                condition=~Q(revocation_reason="superseded"),
                name="one_certificate_per_purpose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_number} {self.purpose} ({self.serial_number})"

    @property
    def serial_int(self) -> int:
        return int(self.serial_number, 16)


class RevocationList(models.Model):
    """A published CRL. Numbers strictly increase per CA."""

    issuer = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT)
    number = models.PositiveBigIntegerField()
    der = models.BinaryField(editable=False)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    status_version = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "number"], name="unique_crl_number")
        ]
        ordering = ["issuer", "-number"]

    def __str__(self) -> str:
        return f"CRL {self.number} of {self.issuer}"
