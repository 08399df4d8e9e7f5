"""Enrolment: registration tickets that a verified identity turns into an account."""

from __future__ import annotations

from django.db import models

from accounts.models import Account, Person


class RegistrationTicket(models.Model):
    """A one-time code that lets a device register an account for a verified person.

    Created by whoever verified the person (RA officer, portal, biometrics, an admin);
    redeemed once by the app. Only the SHA-256 of the code is stored.
    """

    class Source(models.TextChoices):
        ID_CARD = "ID_CARD", "ID-card"
        RA_OFFICER = "RA_OFFICER", "Registration authority officer"
        EMRTD = "EMRTD", "Biometric passport and face"
        EXISTING_ACCOUNT = "EXISTING_ACCOUNT", "Existing account"
        MOBILE_ID = "MOBILE_ID", "Mobile-ID"
        ADMIN = "ADMIN", "Administrator"

    code_hash = models.BinaryField(max_length=32, unique=True, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="tickets")
    identity_source = models.CharField(max_length=20, choices=Source.choices)
    level = models.CharField(max_length=10, choices=Account.Level.choices)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Demo only: a fixed 4-character document number suffix (e.g. MOCK), as the
    # published demo accounts have; empty = a random one.
    document_suffix = models.CharField(max_length=4, blank=True)
    account = models.OneToOneField(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="ticket"
    )

    def __str__(self) -> str:
        return f"ticket for {self.person} ({self.identity_source})"
