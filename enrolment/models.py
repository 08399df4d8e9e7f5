"""Enrolment: registration tickets that a verified identity turns into an account."""

from __future__ import annotations

import uuid

from django.conf import settings
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
    # An RA office ticket exists from the moment its paper is printed (the paper carries
    # it) but may only be redeemed once the officer has the signed paper back.
    on_hold = models.BooleanField(default=False)
    # Demo only: a fixed 4-character document number suffix (e.g. MOCK), as the
    # published demo accounts have; empty = a random one.
    document_suffix = models.CharField(max_length=4, blank=True)
    account = models.OneToOneField(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="ticket"
    )

    def __str__(self) -> str:
        return f"ticket for {self.person} ({self.identity_source})"


# --- Registration authority office (issue 6) --------------------------------------------
# The RA office (ra_office/) is an interface; the authority, its branches, its officers and
# their applications are domain state that enrolment services read and change.


class RegistrationAuthority(models.Model):
    """An organisation (e.g. a bank) whose officers identify people face to face."""

    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "registration authorities"

    def __str__(self) -> str:
        return self.name


class Branch(models.Model):
    """A customer office of a registration authority; officers see only their branch."""

    authority = models.ForeignKey(
        RegistrationAuthority, on_delete=models.PROTECT, related_name="branches"
    )
    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "branches"

    def __str__(self) -> str:
        return f"{self.authority.name}, {self.name}"


class Officer(models.Model):
    """The RA office profile of a Django user: role and branch.

    A user without this profile (even a superuser) cannot use the RA office. Failed logins
    are counted per user name and client address in the cache (``ra_office.throttle``),
    not here: a lock on the officer would let anyone lock them out from anywhere.
    """

    class Role(models.TextChoices):
        OFFICER = "OFFICER", "Officer"
        SUPERVISOR = "SUPERVISOR", "Supervisor"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ra_officer"
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="officers")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.OFFICER)
    totp_confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.role}, {self.branch.code})"

    @property
    def username(self) -> str:
        return str(self.user.get_username())

    @property
    def actor(self) -> str:
        """How the audit log names this officer."""
        return f"officer:{self.username}"

    @property
    def is_supervisor(self) -> bool:
        return self.role == self.Role.SUPERVISOR


class RegistryPerson(models.Model):
    """One row of the local population registry: the default registry backend.

    A real deployment points ``RA_POPULATION_REGISTRY`` at an adapter of the national
    registry; this table serves the embedded mode, the demo and the tests.
    """

    class Status(models.TextChoices):
        ALIVE = "ALIVE", "Alive"
        DECEASED = "DECEASED", "Deceased"

    semantics_identifier = models.CharField(max_length=60, unique=True)
    given_name = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ALIVE)
    # Free text the registry attaches (e.g. "document reported stolen"): a warning that
    # sends the application to a supervisor, never a block by itself.
    warning = models.CharField(max_length=200, blank=True)
    # Contacts the registry holds: where a remote registration's one-time code goes.
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)

    def __str__(self) -> str:
        return f"{self.surname}, {self.given_name} ({self.semantics_identifier})"


class Application(models.Model):
    """An enrolment application taken by an officer at a branch (docs/ra-office.md).

    DRAFT → REGISTRY_CHECKED | BLOCKED → (AWAITING_APPROVAL → APPROVED) → PAPER_PRINTED
    → SIGNED → TICKET_RELEASED; every state but the final ones may go to CANCELLED.
    The services in ``enrolment.applications`` are the only writers.
    """

    class State(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        REGISTRY_CHECKED = "REGISTRY_CHECKED", "Registry checked"
        BLOCKED = "BLOCKED", "Blocked"
        AWAITING_APPROVAL = "AWAITING_APPROVAL", "Awaiting approval"
        APPROVED = "APPROVED", "Approved"
        PAPER_PRINTED = "PAPER_PRINTED", "Paper printed"
        SIGNED = "SIGNED", "Signed paper received"
        TICKET_RELEASED = "TICKET_RELEASED", "Ticket released"
        CANCELLED = "CANCELLED", "Cancelled"

    class DocumentType(models.TextChoices):
        ID_CARD = "ID_CARD", "Identity card"
        PASSPORT = "PASSPORT", "Passport"
        RESIDENCE_PERMIT = "RESIDENCE_PERMIT", "Residence permit card"

    number = models.CharField(max_length=20, unique=True)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="applications")
    created_by = models.ForeignKey(
        Officer, on_delete=models.PROTECT, related_name="applications_created"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    # The applicant as the officer typed it from the document; the Person is found or
    # created only once the registry has confirmed these data.
    semantics_identifier = models.CharField(max_length=60)
    given_name = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="ra_applications"
    )
    document_type = models.CharField(max_length=20, choices=DocumentType.choices)
    document_number = models.CharField(max_length=20)
    document_country = models.CharField(max_length=2)
    document_expiry = models.DateField()
    document_checked = models.BooleanField(default=False)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    level = models.CharField(max_length=10, choices=Account.Level.choices)
    representative_name = models.CharField(max_length=200, blank=True)
    representative_identifier = models.CharField(max_length=60, blank=True)
    representative_consent = models.BooleanField(default=False)
    registry_result = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)
    approved_by = models.ForeignKey(
        Officer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ticket = models.OneToOneField(
        RegistrationTicket,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="application",
    )
    # The ticket code, AES-GCM sealed under a key derived from SECRET_KEY, so the code
    # printed on the paper can be shown again at release; wiped when no longer needed.
    ticket_code_sealed = models.BinaryField(null=True, blank=True, editable=False)
    signed_scan = models.BinaryField(null=True, blank=True, editable=False)
    signed_scan_type = models.CharField(max_length=40, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["branch", "state"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} ({self.semantics_identifier})"

    @property
    def needs_approval(self) -> bool:
        return bool(self.flags)


class OnboardingApplication(models.Model):
    """A remote registration from the app: identity evidence checked by the pipeline.

    The app authenticates its calls with a bearer secret returned once at creation (only
    its hash is kept). The pipeline (``enrolment.tasks``) runs one step at a time, each in
    its own database transaction, so a killed worker redoes at most the step it was in.
    """

    class Source(models.TextChoices):
        EMRTD = "EMRTD", "Biometric passport and face"
        MOBILE_ID = "MOBILE_ID", "Mobile-ID"
        EXISTING_ACCOUNT = "EXISTING_ACCOUNT", "Existing account"

    class State(models.TextChoices):
        COLLECTING = "COLLECTING", "Waiting for the app's evidence"
        CHECKING = "CHECKING", "Being checked"
        REVIEW = "REVIEW", "Waiting for a manual review"
        SECONDARY = "SECONDARY", "Waiting for the secondary authentication"
        APPROVED = "APPROVED", "Approved (registration ticket issued)"
        REJECTED = "REJECTED", "Rejected"
        EXPIRED = "EXPIRED", "Expired"

    FINAL_STATES = frozenset({State.APPROVED, State.REJECTED, State.EXPIRED})

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.BinaryField(max_length=32, editable=False)
    source = models.CharField(max_length=20, choices=Source.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.COLLECTING)
    level = models.CharField(max_length=10, choices=Account.Level.choices)
    # The pipeline step to run next ("" when none is due) and the outcome of each step.
    step = models.CharField(max_length=30, blank=True)
    checks = models.JSONField(default=dict)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    # Consent to the processing of biometric data (face image, selfie frames).
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_text = models.CharField(max_length=300, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    # eMRTD: the active-authentication nonce and the liveness challenge.
    aa_challenge = models.BinaryField(max_length=8, null=True, editable=False)
    liveness_steps = models.JSONField(default=list)
    liveness_issued_at = models.DateTimeField(null=True, blank=True)
    liveness_deadline = models.DateTimeField(null=True, blank=True)
    # The identity established by the checks (from the chip, Mobile-ID or the account).
    identity = models.JSONField(default=dict)
    face_distance = models.FloatField(null=True, blank=True)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="onboardings"
    )
    # Mobile-ID: the MID session and the code the phone shows.
    mobile_id_session = models.CharField(max_length=100, blank=True)
    verification_code = models.CharField(max_length=8, blank=True)
    # Existing account: the account whose PIN2 signs the application, and the transaction.
    existing_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    existing_transaction_id = models.UUIDField(null=True, blank=True)
    # Secondary authentication: a one-time code sent to a verified contact.
    secondary_channel = models.CharField(max_length=10, blank=True)
    secondary_address = models.CharField(max_length=254, blank=True)
    secondary_code_hash = models.BinaryField(max_length=32, null=True, editable=False)
    secondary_sent_at = models.DateTimeField(null=True, blank=True)
    secondary_tries = models.PositiveSmallIntegerField(default=0)
    secondary_confirmed_at = models.DateTimeField(null=True, blank=True)
    # Manual review (RA office).
    reviewed_by = models.CharField(max_length=200, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    # The outcome: the ticket, whose code is kept sealed to the app's P-256 key (appKey,
    # engine.transport_seal_secret), so only the app that started the application reads it.
    ticket = models.OneToOneField(
        RegistrationTicket, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ticket_code_box = models.BinaryField(null=True, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    biometrics_deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "decided_at"])]

    def __str__(self) -> str:
        return f"onboarding {self.pk} ({self.source}, {self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES


class OnboardingEvidence(models.Model):
    """One piece of uploaded evidence: a chip file (EF.SOD, DGn) or a selfie frame.

    Biometric rows (DG2, frames) are deleted after the decision plus the retention period.
    """

    class Kind(models.TextChoices):
        SOD = "SOD", "EF.SOD"
        DATA_GROUP = "DG", "Data group"
        AA_SIGNATURE = "AA", "Active-authentication signature"
        FRAME = "FRAME", "Selfie frame"

    application = models.ForeignKey(
        OnboardingApplication, on_delete=models.CASCADE, related_name="evidence"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    number = models.PositiveSmallIntegerField(default=0)  # DG number or frame index
    data = models.BinaryField(editable=False)
    captured_at_ms = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "kind", "number"], name="one_evidence_per_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.number} of {self.application_id}"


class SeenFrame(models.Model):
    """A hash of every accepted selfie frame, so a frame replayed in another application
    is refused. Hashes only (SHA-256 and a perceptual hash): no image is kept here.
    """

    frame_hash = models.CharField(max_length=80, unique=True)
    application = models.ForeignKey(
        OnboardingApplication, on_delete=models.CASCADE, related_name="+"
    )
    seen_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.frame_hash
