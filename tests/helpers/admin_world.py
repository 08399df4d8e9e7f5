"""A row of every model the admin shows, and one user per operator role (the role ×
admin URL matrix and the support desk's tests meet the same world)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from django.contrib.auth.models import Group, User
from django.db.models import Model
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_set_state
from api.rp.models import RpSession, Usage
from audit.models import AuditRecord
from enrolment import applications as ra
from enrolment.models import OnboardingApplication, RegistrationTicket, RegistryPerson
from enrolment.services import ticket_create
from pki.models import Certificate, CertificateAuthority, RevocationList
from signing.models import ServerKeyHalf, ServiceKey, SplitKey, Transaction
from smartid.roles import operator_create, roles_sync
from tests import factories
from tests.factories import Office
from tests.personas import ALICE, RP_A

ROLE_OF = {"support": "support", "ca": "ca-operator", "auditor": "auditor", "rp": "rp-manager"}
USERNAME = {
    "nobody": "nora",
    "support": "sam",
    "ca": "carl",
    "auditor": "aude",
    "rp": "rita",
    "super": "root",
}
#: Bytes stored in every secret column: they must never show on any page.
SECRET = bytes(range(200, 232))
#: Marks in fields only a holder of a restricted permission may see.
RESTRICTED_MARKS = ("ca-key-label-matrix", "turn-left-matrix", "0.4242")


M = TypeVar("M", bound=Model)


@dataclass
class World:
    users: dict[str, User]
    objects: dict[str, Model]

    def row(self, prefix: str, model: type[M]) -> M:
        """The world's row of one admin (``accounts_account``), fresh from the database."""
        obj = self.objects[prefix]
        assert isinstance(obj, model)
        obj.refresh_from_db()
        return obj


def admin_world(office: Office) -> World:
    """One row of every admin model (secret columns filled with ``SECRET``), the
    operators of every role, a staff user without one (nobody) and a superuser."""
    roles_sync()
    person = factories.person(ALICE)
    account = factories.account(person)
    account = account_set_state(account=account, state=Account.State.ACTIVE, actor="test")
    now = timezone.now()
    ca = CertificateAuthority.objects.create(
        slug="matrix-q",
        kind=CertificateAuthority.Kind.QUALIFIED,
        common_name="Matrix Q",
        key_label="ca-key-label-matrix",
        certificate_der=SECRET,
    )
    certificate = Certificate.objects.create(
        issuer=ca,
        serial_number="0badc0de",
        document_number=account.document_number,
        purpose=Certificate.Purpose.AUTH,
        level=Certificate.Level.QUALIFIED,
        subject=f"CN={ALICE.surname}\\,{ALICE.given_name}",
        der=SECRET,
        not_before=now,
        not_after=now + timedelta(days=365),
    )
    key = SplitKey.objects.create(
        account=account,
        purpose=SplitKey.Purpose.AUTH,
        state=SplitKey.State.ACTIVE,
        bits=1024,
        n1="c0ffee",
        n2="beef",
        wrapped_d1pp=SECRET,
        wrapped_server_half=SECRET,
        token_hash=SECRET,
        certificate=certificate,
    )
    ticket, _ = ticket_create(
        person=person,
        identity_source=RegistrationTicket.Source.ADMIN,
        level=Account.Level.QUALIFIED,
        created_by="test",
    )
    application = ra.application_create(
        officer=office.olga, data=factories.application_input(), source_ip="127.0.0.1"
    )
    relying_party = factories.relying_party(RP_A)
    objects: dict[str, Model] = {
        "accounts_person": person,
        "accounts_account": account,
        "accounts_device": account.device,
        "pki_certificateauthority": ca,
        "pki_certificate": certificate,
        "pki_revocationlist": RevocationList.objects.create(
            issuer=ca, number=1, der=SECRET, this_update=now, next_update=now
        ),
        "signing_splitkey": key,
        "signing_transaction": Transaction.objects.create(
            account=account,
            key=key,
            kind=Transaction.Kind.AUTHENTICATION,
            rp_name=RP_A.name,
            hash=SECRET,
            signature=SECRET,
            expires_at=now + timedelta(minutes=2),
        ),
        "signing_serverkeyhalf": ServerKeyHalf.objects.create(bits=1024, n2="ab", wrapped=SECRET),
        "signing_servicekey": ServiceKey.objects.create(
            name="matrix", public_key=b"pk", wrapped_private_key=SECRET
        ),
        "enrolment_registrationticket": ticket,
        "enrolment_application": application,
        "enrolment_onboardingapplication": OnboardingApplication.objects.create(
            token_hash=SECRET,
            source=OnboardingApplication.Source.EMRTD,
            level="QUALIFIED",
            state=OnboardingApplication.State.REVIEW,
            person=person,
            aa_challenge=SECRET[:8],
            face_distance=0.4242,
            liveness_steps=["turn-left-matrix"],
            ticket_code_box=SECRET,
        ),
        "enrolment_registrationauthority": office.branch_a.authority,
        "enrolment_branch": office.branch_a,
        "enrolment_officer": office.olga,
        "enrolment_registryperson": RegistryPerson.objects.get(
            semantics_identifier=ALICE.semantics_identifier
        ),
        "rp_relyingparty": relying_party,
        "rp_rpsession": RpSession.objects.create(
            relying_party=relying_party,
            kind=RpSession.Kind.AUTHENTICATION,
            api_version=3,
            fingerprint="f" * 64,
            certificate_level="QUALIFIED",
            session_token="matrixsessiontoken",
            session_secret=SECRET,
        ),
        "rp_usage": Usage.objects.create(
            month=date(2026, 11, 1),
            relying_party=relying_party,
            api_version=3,
            kind=RpSession.Kind.AUTHENTICATION,
            certificate_level="QUALIFIED",
            end_result="OK",
            count=7,
        ),
        "auth_user": User.objects.create_user("victim", "v@example.test", "pw-victim"),
        "auth_group": Group.objects.create(name="Victim group"),
    }
    objects["audit_auditrecord"] = AuditRecord.objects.latest("sequence")
    users: dict[str, User] = {
        "nobody": User.objects.create_user("nora", is_staff=True),
        "super": User.objects.create_superuser("root", "root@example.test", "pw"),
    }
    for persona, role in ROLE_OF.items():
        users[persona], _ = operator_create(
            username=USERNAME[persona], roles=[role], actor="test", password="pw-for-tests-1"
        )
    return World(users=users, objects=objects)
