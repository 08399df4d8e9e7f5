"""The demo's population registry: the persons and contacts the local registry table holds in
the demo and the tests (``enrolment.registry`` is the adapter; this is only its data)."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from audit.services import audit_record
from enrolment.models import RegistryPerson

ACTOR = "demo_setup"

#: Registry rows of the demo and the tests: (identifier, given name, surname, born,
#: status, warning). The personal codes are valid (check digit, date of birth). The demo's
#: other sources name the same people the same way (``tests/demo`` checks it): the holders
#: of the virtual ID-cards (``demo.virtualcard.DEMO_CARDS``) and the Mobile-ID simulator's
#: subscribers who answer OK (``demo.mobileid.simulator.SUBSCRIBERS``).
DEMO_REGISTRY: tuple[tuple[str, str, str, date, str, str], ...] = (
    ("PNOEE-38001085718", "Mari-Liis", "Männik", date(1980, 1, 8), "ALIVE", ""),
    ("PNOEE-49002124277", "Alice", "Tamm", date(1990, 2, 12), "ALIVE", ""),
    ("PNOEE-38812245713", "Bob", "Kask", date(1988, 12, 24), "ALIVE", ""),
    ("PNOEE-60001019906", "Mary Änn", "O’Connež-Šuslik Testnumber", date(2000, 1, 1), "ALIVE", ""),
    ("PNOEE-60001017869", "Jaan", "Testnumber", date(2000, 1, 1), "ALIVE", ""),
    ("PNOEE-49403136515", "Õie", "Ääremaa", date(1994, 3, 13), "ALIVE", ""),
    ("PNOEE-37605030299", "Jüri", "Tamm", date(1976, 5, 3), "ALIVE", ""),
    ("PNOEE-51107121760", "Mia", "Kask", date(2011, 7, 12), "ALIVE", ""),
    ("PNOEE-36001010005", "Toomas", "Vana", date(1960, 1, 1), "DECEASED", ""),
    (
        "PNOEE-48803280224",
        "Kati",
        "Karu",
        date(1988, 3, 28),
        "ALIVE",
        "Identity document reported lost on 2024-05-02",
    ),
    ("PNOEE-47101010033", "Tiina", "Saar", date(1971, 1, 1), "ALIVE", ""),
)


#: Contacts the demo registry holds (where remote onboarding sends its one-time code).
DEMO_CONTACTS = {"PNOEE-47101010033": "tiina.saar@example.test"}


@transaction.atomic
def demo_registry_load(*, actor: str = ACTOR) -> int:
    """Put the demo persons into the local registry; idempotent. Returns rows created."""
    created = 0
    for identifier, given, surname, born, status, warning in DEMO_REGISTRY:
        row, new = RegistryPerson.objects.get_or_create(
            semantics_identifier=identifier,
            defaults={
                "given_name": given,
                "surname": surname,
                "date_of_birth": born,
                "status": status,
                "warning": warning,
                "email": DEMO_CONTACTS.get(identifier, ""),
            },
        )
        if new:
            created += 1
            audit_record(
                actor=actor,
                action="registry.person_added",
                object_type="enrolment.RegistryPerson",
                object_id=row.pk,
                data={"semantics_identifier": identifier},
            )
    return created
