"""Write a synthetic passport file for a person (demo and end-to-end tests only).

The passport is signed by the test CSCA kept in ``EMRTD_TEST_CSCA_DIR`` (created on first
use); its certificate is copied into ``EMRTD_CSCA_PATH`` when that is a folder, so the
server trusts the passports this command makes. Refused in live: a test CSCA there would
let anyone with the demo's files enrol as anybody.
"""

from __future__ import annotations

import datetime
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import passports as synthetic


def _ee_birth_date(personal_code: str) -> tuple[datetime.date, str] | None:
    """Date of birth and sex from an Estonian personal code (GYYMMDDSSSC), if it is one."""
    if len(personal_code) != 11 or not personal_code.isdigit() or personal_code[0] not in "123456":
        return None
    century = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}[personal_code[0]]
    try:
        born = datetime.date(
            century + int(personal_code[1:3]), int(personal_code[3:5]), int(personal_code[5:7])
        )
    except ValueError:
        return None
    return born, "M" if personal_code[0] in "135" else "F"


class Command(BaseCommand):
    help = "Write a synthetic eMRTD passport file (openeid-passport-1) signed by the test CSCA."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", type=Path, required=True, help="passport file to write")
        parser.add_argument("--photo", type=Path, required=True, help="face photo (any image)")
        parser.add_argument("--surname", required=True)
        parser.add_argument("--given-names", required=True)
        parser.add_argument("--personal-code", default=None, help="e.g. 38001085718")
        parser.add_argument("--document-number", default=None, help="default: random")
        parser.add_argument("--date-of-birth", type=datetime.date.fromisoformat, default=None)
        parser.add_argument("--sex", choices=["M", "F", "X"], default=None)
        parser.add_argument("--expiry-date", type=datetime.date.fromisoformat, default=None)
        parser.add_argument("--country", default="EE", help="CSCA country (ISO alpha-2)")
        parser.add_argument("--nationality", default="EST", help="ICAO alpha-3")
        parser.add_argument("--td", choices=["TD3", "TD2", "TD1"], default="TD3")
        parser.add_argument("--aa", choices=["rsa", "ec", "none"], default="rsa")
        parser.add_argument("--dsc", choices=["ec", "rsa", "rsa-pss"], default="ec")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_LIVE:
            raise CommandError("make_passport makes test passports; it is refused in live mode.")
        try:
            raw = options["photo"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read the photo: {exc}") from None
        try:
            photo = synthetic.photo_to_jpeg(raw)
        except (OSError, ValueError):  # Pillow's UnidentifiedImageError is an OSError
            raise CommandError("the photo is not an image Pillow can read") from None
        code = options["personal_code"]
        derived = _ee_birth_date(code) if code else None
        born = options["date_of_birth"] or (derived[0] if derived else None)
        if born is None:
            raise CommandError("--date-of-birth is needed (or an Estonian --personal-code).")
        sex = options["sex"] or (derived[1] if derived else "X")
        today = datetime.datetime.now(datetime.UTC).date()
        expiry = options["expiry_date"] or today.replace(year=today.year + 5, day=1)
        number = options["document_number"] or "K" + "".join(
            secrets.choice("0123456789") for _ in range(7)
        )
        country = options["country"].upper()
        if country not in synthetic.ALPHA2_TO_ALPHA3:
            raise CommandError(f"unknown country {country!r} (ISO 3166 alpha-2 expected)")
        csca = synthetic.test_csca(
            country, directory=settings.EMRTD_TEST_CSCA_DIR / country.lower()
        )
        self._publish(csca)
        try:
            passport = synthetic.make_passport(
                csca=csca,
                surname=options["surname"],
                given_names=options["given_names"],
                document_number=number,
                personal_code=code,
                nationality=options["nationality"],
                date_of_birth=born,
                sex=sex,
                expiry_date=expiry,
                photo_jpeg=photo,
                td=options["td"],
                aa=None if options["aa"] == "none" else options["aa"],
                dsc=options["dsc"],
            )
        except (ValueError, KeyError) as exc:
            raise CommandError(f"cannot make this passport: {exc}") from None
        passport.write(options["out"])
        self.stdout.write(
            f"Passport {number} ({options['td']}) for {options['given_names']} "
            f"{options['surname']} written to {options['out']}"
        )

    def _publish(self, csca: synthetic.TestCsca) -> None:
        """Put the test CSCA certificate into the trust store folder, if it is a folder."""
        store: Path = settings.EMRTD_CSCA_PATH
        if store.exists() and not store.is_dir():
            self.stderr.write(f"{store} is a file: add the test CSCA to it yourself.")
            return
        store.mkdir(parents=True, exist_ok=True)
        target = store / f"test-csca-{csca.country.lower()}.pem"
        pem = csca.certificate.public_bytes(serialization.Encoding.PEM)
        if not target.exists() or target.read_bytes() != pem:
            target.write_bytes(pem)
