"""Synthetic passports of the personas (signed by a test CSCA) and the selfie folders the
reference app reads, for the eMRTD and remote-onboarding tests."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo import passports as synthetic
from device.onboarding import POSE_FILES
from enrolment.emrtd import CscaTrustStore, PassiveAuthResult, passive_authenticate
from tests import factories
from tests.personas import ALICE, Citizen

#: The moment of every check; the test CSCA and DSCs are valid around the real "now".
NOW = datetime.datetime.now(datetime.UTC)
#: Alice's passport of the eMRTD tests: a fixed expiry (the tests check dates against it)
#: and her second given name (the MRZ separates given names with a filler).
ALICE_PASSPORT: dict[str, Any] = factories.passport_fields(
    ALICE, given_names=f"{ALICE.given_name} Mari", expiry_date=datetime.date(2031, 5, 31)
)

MakePassport = Callable[..., synthetic.SyntheticPassport]


def check(
    passport: synthetic.SyntheticPassport,
    store: CscaTrustStore,
    *,
    at: datetime.datetime = NOW,
) -> PassiveAuthResult:
    return passive_authenticate(
        sod=passport.sod, data_groups=passport.data_groups, trust_store=store, at=at
    )


def make_passport(
    csca: synthetic.TestCsca, photo: bytes, who: Citizen = ALICE, **changes: Any
) -> synthetic.SyntheticPassport:
    """The citizen's passport with this photo, valid for five more years."""
    fields = factories.passport_fields(who, document_number="K0123456") | changes
    return synthetic.make_passport(csca=csca, photo_jpeg=photo, **fields)


@dataclass
class Evidence:
    """What the reference app reads for a passport onboarding: the chip file and selfies."""

    passport: Path
    selfies: Path


def write_selfies(folder: Path, frames: dict[str, list[bytes]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for pose, items in frames.items():
        for i, data in enumerate(items, 1):
            (folder / f"{POSE_FILES[pose]}-{i:02d}.jpg").write_bytes(data)
    return folder
