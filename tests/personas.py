"""The people and relying parties of the whole test suite: the same everywhere.

* **Alice** — the citizen. She has accounts, logs in to the portal, applies at the RA
  office, onboards remotely with her passport and her face (Eileen Collins, the photo that
  scikit-image ships), and her RP A authenticates her.
* **Bob** — the outsider: a citizen too, and the one who must never see Alice's things
  (her accounts, her transactions, her contact links); in the RA office he is an officer of
  another branch; his face is another real person's (OpenCV's ``basketball1.png``).
* **Olga** — an RA officer of branch A, where Alice applies.
* **Sven** — the supervisor of branch A.
* **RP A** — the relying party of the tests (a bank); **RP B** — another one.

This module holds only data; ``tests/factories.py`` builds database rows from it, and
``tests/conftest.py`` exposes both as fixtures (``alice``, ``bob``, ``office``, ``rp_a``…).
A test that needs someone else (a deceased person, a Latvian code) makes a *variant* with
:func:`citizen`, never a new fixed persona.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

PIN1, PIN2 = "1234", "12345"
WRONG1, WRONG2 = "9999", "99999"
#: The RA officers' password (the MD5 hasher keeps it cheap in tests).
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Citizen:
    """A natural person as the registry, the CA and the ID-card know them."""

    given_name: str
    surname: str
    #: The national personal code without country or type (``49002124277``).
    personal_code: str
    date_of_birth: date | None
    country: str = "EE"
    sex: str = "F"
    email: str = ""
    phone: str = ""

    @property
    def semantics_identifier(self) -> str:
        """ETSI EN 319 412-1 form: ``PNOEE-49002124277``."""
        return f"PNO{self.country}-{self.personal_code}"

    @property
    def document_number(self) -> str:
        """The document number of a qualified account in the fake world (``…-MOCK-Q``)."""
        return f"{self.semantics_identifier}-MOCK-Q"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surname}"


def citizen(semantics_identifier: str, **changes: object) -> Citizen:
    """A variant: someone with this identifier, named as Smart-ID names its test numbers."""
    kind_country, code = semantics_identifier.split("-", 1)
    fields: dict[str, object] = {
        "given_name": "OK",
        "surname": "TESTNUMBER",
        "personal_code": code,
        "country": kind_country[3:],
        "date_of_birth": None,
    }
    return Citizen(**(fields | changes))  # type: ignore[arg-type]


#: Both codes are valid (check digit, date of birth) and have a virtual demo ID-card.
ALICE = Citizen(
    given_name="Alice",
    surname="Tamm",
    personal_code="49002124277",
    date_of_birth=date(1990, 2, 12),
    sex="F",
    email="alice@example.org",
    phone="+372 5555 1234",
)
BOB = Citizen(
    given_name="Bob",
    surname="Kask",
    personal_code="38812245713",
    date_of_birth=date(1988, 12, 24),
    sex="M",
    email="bob@example.org",
    phone="+372 5555 9876",
)


@dataclass(frozen=True)
class OfficerPersona:
    username: str
    given_name: str
    surname: str
    #: ``OFFICER`` or ``SUPERVISOR`` (``enrolment.models.Officer.Role``).
    role: str
    #: Branch code: ``a`` (where Alice applies) or ``b``.
    branch: str


OLGA = OfficerPersona("olga", "Olga", "Ohvitser", "OFFICER", "a")
SVEN = OfficerPersona("sven", "Sven", "Saar", "SUPERVISOR", "a")
#: Bob the outsider, as an officer of the other branch.
BOB_OFFICER = OfficerPersona("bob", BOB.given_name, BOB.surname, "OFFICER", "b")
OFFICERS = (OLGA, SVEN, BOB_OFFICER)


@dataclass(frozen=True)
class RelyingPartyPersona:
    uuid: str
    name: str
    display_name: str


RP_A = RelyingPartyPersona("de305d54-75b4-431b-adb2-eb6b9e546014", "BANK123", "Bank 123")
RP_B = RelyingPartyPersona("7e1b6b77-4a5c-4b0e-9f1d-3c2a8d9e0f51", "SHOP456", "Shop 456")
