"""Persons, their devices and their accounts (one account per device)."""

from __future__ import annotations

import uuid

from django.db import models


class Person(models.Model):
    """A natural person, identified by an ETSI semantics identifier (``PNOEE-…``)."""

    semantics_identifier = models.CharField(max_length=60, unique=True)
    given_name = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    country = models.CharField(max_length=2)
    date_of_birth = models.DateField(null=True, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "persons"

    def __str__(self) -> str:
        return f"{self.surname}, {self.given_name} ({self.semantics_identifier})"

    @property
    def identity_type(self) -> str:
        """``PNO``, ``IDC`` or ``PAS`` — split on the first hyphen (rp-api.md §3)."""
        return self.semantics_identifier.split("-", 1)[0][:3]

    @property
    def national_id(self) -> str:
        """The identifier after the first hyphen; a Latvian one keeps its own hyphen."""
        return self.semantics_identifier.split("-", 1)[1]


class Device(models.Model):
    """A phone (here: a reference app) with the public key that signs its requests."""

    class State(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        DISABLED = "DISABLED", "Disabled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="devices")
    platform = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    public_key = models.BinaryField(editable=False, help_text="DER SubjectPublicKeyInfo, EC P-256")
    interactions = models.JSONField(default=list, help_text="Interaction types the app can show")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    registered_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_ip = models.GenericIPAddressField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.platform})"


class Account(models.Model):
    """A Smart-ID account: one device of one person, with its two split keys.

    Only the transitions in ``TRANSITIONS`` are allowed (``accounts.services``).
    """

    class Level(models.TextChoices):
        QUALIFIED = "QUALIFIED", "Qualified"
        ADVANCED = "ADVANCED", "Advanced (non-qualified)"

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending registration"
        ACTIVE = "ACTIVE", "Active"
        LOCKED = "LOCKED", "Locked by an administrator"
        SUSPENDED = "SUSPENDED", "Suspended by its owner"
        REVOKED = "REVOKED", "Revoked (closed)"

    TRANSITIONS: dict[str, frozenset[str]] = {
        State.PENDING: frozenset({State.ACTIVE, State.REVOKED}),
        State.ACTIVE: frozenset({State.LOCKED, State.SUSPENDED, State.REVOKED}),
        State.LOCKED: frozenset({State.ACTIVE, State.REVOKED}),
        State.SUSPENDED: frozenset({State.ACTIVE, State.REVOKED}),
        State.REVOKED: frozenset(),
    }

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="accounts")
    device = models.OneToOneField(Device, on_delete=models.PROTECT, related_name="account")
    document_number = models.CharField(max_length=80, unique=True)
    level = models.CharField(max_length=10, choices=Level.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.document_number

    @property
    def is_qualified(self) -> bool:
        return self.level == self.Level.QUALIFIED

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]
