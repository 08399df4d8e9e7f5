"""Split keys, the pool of pre-generated server halves, and transactions.

Secrets (d1″ and the server's RSA half) are stored only wrapped by the key store
(``pki.keystore``), each blob bound to its row by the wrap context.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Case, Q, When

from accounts.models import Account


class ServerKeyHalf(models.Model):
    """A pre-generated server half (n2, d2) waiting in the pool; taken at registration."""

    bits = models.PositiveSmallIntegerField()
    n2 = models.TextField(help_text="Hexadecimal")
    wrapped = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["bits", "id"])]

    def __str__(self) -> str:
        return f"pooled {self.bits}-bit server half #{self.pk}"


class KeyRenewal(models.Model):
    """A re-key of an ACTIVE account (docs/app-api.md §8): new keys wait here until the
    one database transaction that swaps them in (``signing.services.renewal``): the task
    ``complete_renewal``, once the app has signed both certificate requests (``ISSUING``)."""

    class State(models.TextChoices):
        OPEN = "OPEN", "Waiting for the app"
        ISSUING = "ISSUING", "Requests signed; the CA issues, then the keys are swapped"
        COMPLETE = "COMPLETE", "New keys active, old ones destroyed"
        ABANDONED = "ABANDONED", "Abandoned (expired, replaced, or the account left ACTIVE)"
        FAILED = "FAILED", "The CA refused a new certificate; the old keys stay"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="renewals")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(state__in=["OPEN", "ISSUING"]),
                name="one_open_renewal",
            )
        ]

    def __str__(self) -> str:
        return f"renewal {self.pk} of {self.account} ({self.state})"


class SplitKeyQuerySet(models.QuerySet["SplitKey"]):
    def current(self) -> SplitKeyQuerySet:
        """The keys the app talks to, the preferred one of each purpose first: never the
        new keys of an unfinished renewal (waiting for the app or for their certificates:
        the old keys serve until the swap); a live key before a destroyed one (the
        superseded keys of a re-key); a closed account's destroyed keys, newest first (so
        they answer REVOKED)."""
        waiting = [
            SplitKey.State.AWAITING_SHARE,
            SplitKey.State.AWAITING_CSR,
            SplitKey.State.ISSUING,
        ]
        return self.exclude(Q(renewal__isnull=False) & Q(state__in=waiting)).order_by(
            Case(When(state=SplitKey.State.DESTROYED, then=1), default=0), "-pk"
        )


class SplitKey(models.Model):
    """One split RSA key of an account: AUTH (PIN1) or SIGN (PIN2).

    The protocol state (one-time token, PIN tries, lock, retransmit record) mirrors
    ``signing.engine.protocol.KeyState`` field for field; it is only changed under a
    row lock by ``signing.services``.
    """

    class Purpose(models.TextChoices):
        AUTH = "AUTH", "Authentication (PIN1)"
        SIGN = "SIGN", "Signing (PIN2)"

    class State(models.TextChoices):
        AWAITING_SHARE = "AWAITING_SHARE", "Waiting for the app's d1″"
        AWAITING_CSR = "AWAITING_CSR", "Waiting for the signed certificate request"
        # The CSR is signed (``csr_signature``); a worker issues the certificate.
        ISSUING = "ISSUING", "Waiting for its certificate"
        ACTIVE = "ACTIVE", "Active"
        DESTROYED = "DESTROYED", "Destroyed"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="keys")
    # Set on the new keys of a re-key; None for the keys made at registration.
    renewal = models.ForeignKey(
        KeyRenewal, null=True, blank=True, on_delete=models.PROTECT, related_name="keys"
    )
    purpose = models.CharField(max_length=4, choices=Purpose.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.AWAITING_SHARE)
    bits = models.PositiveSmallIntegerField()
    n1 = models.TextField(unique=True, help_text="Hexadecimal; a modulus is never registered twice")
    n2 = models.TextField(help_text="Hexadecimal")
    wrapped_d1pp = models.BinaryField(null=True, editable=False)
    wrapped_server_half = models.BinaryField(null=True, editable=False)
    csr_info = models.BinaryField(
        null=True, editable=False, help_text="DER CertificationRequestInfo"
    )
    # The first split signature, over ``csr_info``: with it the issuance task rebuilds the
    # PKCS#10 request. ``csr_signed_at`` dates it (a stalled issuance is sent again).
    csr_signature = models.BinaryField(null=True, editable=False)
    csr_signed_at = models.DateTimeField(null=True, blank=True)
    certificate = models.OneToOneField(
        "pki.Certificate", null=True, blank=True, on_delete=models.PROTECT, related_name="split_key"
    )
    # --- protocol state (signing.engine.protocol.KeyState) ---
    token_hash = models.BinaryField(max_length=32, editable=False)
    fails = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    revoke_reason = models.CharField(max_length=16, blank=True)
    suspect = models.BooleanField(default=False)
    last_rnonce_hash = models.BinaryField(null=True, editable=False)
    last_request_digest = models.BinaryField(null=True, editable=False)
    last_response = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    objects = SplitKeyQuerySet.as_manager()

    class Meta:
        # A re-key adds new keys beside the active ones and destroys the old ones when
        # it completes: at most one active and one waiting key per account and purpose
        # (a registration's key waiting for its certificate, ISSUING, included).
        constraints = [
            models.UniqueConstraint(
                fields=["account", "purpose"],
                condition=Q(state="ACTIVE"),
                name="one_active_key_per_purpose",
            ),
            models.UniqueConstraint(
                fields=["account", "purpose"],
                condition=Q(state__in=["AWAITING_SHARE", "AWAITING_CSR", "ISSUING"]),
                name="one_waiting_key_per_purpose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.purpose}"


class Transaction(models.Model):
    """An authentication, signature or certificate choice waiting for the device."""

    class Kind(models.TextChoices):
        AUTHENTICATION = "AUTHENTICATION", "Authentication"
        SIGNATURE = "SIGNATURE", "Signature"
        CERTIFICATE_CHOICE = "CERTIFICATE_CHOICE", "Certificate choice"

    class State(models.TextChoices):
        PENDING = "PENDING", "Waiting for the user"
        COMPLETE = "COMPLETE", "Complete"

    class Result(models.TextChoices):
        OK = "OK"
        WRONG_PIN = "WRONG_PIN"
        LOCKED = "LOCKED"
        REVOKED = "REVOKED"
        CLONE_DETECTED = "CLONE_DETECTED"
        TIMEOUT = "TIMEOUT"
        WRONG_VC = "WRONG_VC"
        USER_REFUSED = "USER_REFUSED"
        USER_REFUSED_DISPLAYTEXTANDPIN = "USER_REFUSED_DISPLAYTEXTANDPIN"
        USER_REFUSED_VC_CHOICE = "USER_REFUSED_VC_CHOICE"
        USER_REFUSED_CONFIRMATIONMESSAGE = "USER_REFUSED_CONFIRMATIONMESSAGE"
        USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE = (
            "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE"
        )
        USER_REFUSED_CERT_CHOICE = "USER_REFUSED_CERT_CHOICE"
        REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP = "REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP"
        DOCUMENT_UNUSABLE = "DOCUMENT_UNUSABLE"
        # RP API v3: one refusal code naming the interaction (``refused_interaction``), and
        # a signature the app made over something else than the protocol's payload.
        USER_REFUSED_INTERACTION = "USER_REFUSED_INTERACTION"
        PROTOCOL_FAILURE = "PROTOCOL_FAILURE"
        CANCELLED = "CANCELLED"  # another device of the group answered first

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Transactions of one group are alternatives (one per device of the person): the
    # first answer decides and the others are cancelled. The RP API uses its session id.
    group = models.UUIDField(null=True, blank=True, db_index=True)
    #: Other transactions of the same group wait on the person's other devices (the first
    #: answer decides and cancels them); False spares the lookup when there are none.
    has_alternatives = models.BooleanField(default=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transactions")
    key = models.ForeignKey(SplitKey, null=True, blank=True, on_delete=models.PROTECT)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    rp_name = models.CharField(max_length=100)
    hash = models.BinaryField(null=True, editable=False)
    hash_type = models.CharField(max_length=10, blank=True)
    padding = models.CharField(max_length=8, blank=True)
    # RP API v3 (docs/spec/rp-api.md §5): "" for the v1/v2 hash signature, else the
    # signature protocol whose payload the app signs. ``protocol_parameters`` holds what
    # the payload is built from (server random, RP challenge, names, the interactions
    # string as received, callback URL, hash algorithm); ``user_challenge`` and
    # ``flow_type`` come with the app's answer.
    protocol = models.CharField(max_length=24, blank=True)
    protocol_parameters = models.JSONField(default=dict)
    user_challenge = models.CharField(max_length=43, blank=True)
    flow_type = models.CharField(max_length=12, blank=True)
    salt = models.BinaryField(null=True, editable=False)
    interactions = models.JSONField(default=list)
    #: The verification code of a v3 transaction, fixed at its start (authentication:
    #: from the RP challenge; signature: chosen by the server). Blank for v1/v2, whose
    #: code is computed from the hash.
    vc = models.CharField(max_length=4, blank=True)
    vc_choices = models.JSONField(default=list)

    class VcShownOn(models.TextChoices):
        NEW_DEVICE = "NEW_DEVICE", "The device being registered"

    #: Where the code to pick is shown when it is neither the hash's nor a relying
    #: party's: a registration prompt's ``vc`` is on the new device's screen and is never
    #: sent to the app that picks it (docs/app-api.md §3.2). Blank for every RP transaction.
    vc_shown_on = models.CharField(max_length=12, choices=VcShownOn.choices, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    result = models.CharField(max_length=48, choices=Result.choices, blank=True)
    interaction_used = models.CharField(max_length=60, blank=True)
    refused_interaction = models.CharField(max_length=60, blank=True)
    signature = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "state"]),
            # The admin's date hierarchy (min/max and month ranges of a big table).
            models.Index(fields=["created_at"], name="transaction_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.state})"


class ServiceKey(models.Model):
    """A key of the service itself, e.g. the transport key that s1′ is encrypted to.

    The private key is stored wrapped by the key store (context ``servicekey:<name>``).
    """

    name = models.CharField(max_length=40, unique=True)
    public_key = models.BinaryField(editable=False, help_text="DER SubjectPublicKeyInfo")
    wrapped_private_key = models.BinaryField(editable=False, help_text="empty once retired")
    created_at = models.DateTimeField(auto_now_add=True)
    # Transport key rotation (docs/app-api.md §9.2): the previous transport key's
    # signature over this one, and the end of its grace period once a successor exists.
    endorsement = models.BinaryField(null=True, editable=False)
    retire_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ExpiryNotice(models.Model):
    """An expiry notice sent for one validity period of an account (``not_after``) and one
    threshold (days before): the periodic task sends each at most once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="expiry_notices")
    not_after = models.DateTimeField()
    days_before = models.PositiveSmallIntegerField()
    emailed = models.BooleanField(default=False)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "not_after", "days_before"], name="one_notice_per_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.days_before} days before {self.not_after:%Y-%m-%d}"
