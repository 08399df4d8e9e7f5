"""Passive authentication (Doc 9303 part 11 §5.1): are these data groups the issuer's?

Order of the checks, cheapest first, each failure with its own code:
limits of every input (``asn1_limits``) → SOD structure (``malformed``) → mandatory data
groups present (``missing_data_group``) → every data group's hash equals the signed one
(``dg_hash_mismatch``) → SOD signature by its DSC (``sod_signature_invalid``) → DSC issued
by a trusted CSCA (``csca_untrusted``), valid at ``at`` (``dsc_expired``) → DSC, CSCA and
MRZ issuing state name the same country (``issuing_state_mismatch``) → contents of DG1
(``mrz_check_digit``), DG2, DG14 and DG15.
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from enrolment.emrtd import limits, tlv
from enrolment.emrtd.countries import alpha2
from enrolment.emrtd.datagroups import (
    DG_TAGS,
    parse_dg1,
    parse_dg2,
    parse_dg14,
    parse_dg15,
)
from enrolment.emrtd.errors import (
    DataGroupHashMismatchError,
    IssuingStateMismatchError,
    MalformedError,
    MissingDataGroupError,
)
from enrolment.emrtd.mrz import Mrz
from enrolment.emrtd.sod import digest, parse_sod, verify_signed_data
from enrolment.emrtd.trust import CscaTrustStore, country_of

#: Without DG1 and DG2 there is nobody to enrol. DG14 and DG15 are required whenever the
#: SOD lists them: leaving DG15 out would skip active authentication, i.e. let a copied
#: chip pass as the original.
REQUIRED = (1, 2)
REQUIRED_IF_SIGNED = (14, 15)


@dataclass(frozen=True)
class PassiveAuthResult:
    mrz: Mrz
    face_image: bytes
    face_format: str  # "jpeg" | "jpeg2000"
    aa_public_key: Any | None  # cryptography RSA/EC public key from DG15
    dsc_subject: str
    csca_subject: str
    hash_algorithm: str
    data_groups_verified: list[int]
    #: ECDSA active authentication hash from DG14's ActiveAuthenticationInfo, if any.
    aa_hash_algorithm: str | None = None
    #: SecurityInfo protocol OIDs of DG14 (chip authentication, PACE …), for the record.
    dg14_protocols: tuple[str, ...] = ()


def check_data_group(number: int, data: bytes) -> None:
    """Limits and outer tag of one data group file."""
    if not isinstance(number, int) or number not in DG_TAGS:
        raise MalformedError(f"there is no data group {number!r}")
    what = f"DG{number}"
    tlv.validate(data, max_size=limits.dg_max(number), what=what)
    if data[0] != DG_TAGS[number]:
        raise MalformedError(f"{what}: tag {data[0]:02X}, expected {DG_TAGS[number]:02X}")


def passive_authenticate(
    *,
    sod: bytes,
    data_groups: Mapping[int, bytes],
    trust_store: CscaTrustStore,
    at: datetime.datetime,
) -> PassiveAuthResult:
    """Verify EF.SOD and the data groups read from a chip; return what they prove.

    ``at`` is the time of the check (aware); it decides certificate validity and the
    century of the birth date. Raises a subclass of
    :class:`~enrolment.emrtd.errors.EmrtdError`, nothing else.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")  # a programming error, not bad input
    if len(data_groups) > len(DG_TAGS):
        raise MalformedError("too many data groups")
    for number, data in data_groups.items():
        check_data_group(number, data)
    parsed = parse_sod(sod)

    for number in REQUIRED:
        if number not in data_groups:
            raise MissingDataGroupError(f"DG{number} is required", code="missing_data_group")
        if number not in parsed.dg_hashes:
            raise MissingDataGroupError(f"the SOD does not cover DG{number}")
    for number in REQUIRED_IF_SIGNED:
        if number in parsed.dg_hashes and number not in data_groups:
            raise MissingDataGroupError(f"DG{number} is listed in the SOD but was not read")
    for number, data in sorted(data_groups.items()):
        signed_hash = parsed.dg_hashes.get(number)
        if signed_hash is None:
            raise DataGroupHashMismatchError(f"DG{number} is not listed in the SOD")
        if not hmac.compare_digest(digest(parsed.hash_algorithm, data), signed_hash):
            raise DataGroupHashMismatchError(f"DG{number} does not match its hash in the SOD")

    verify_signed_data(parsed.signed, what="EF.SOD")
    csca = trust_store.verify_dsc(parsed.dsc, at=at)

    mrz = parse_dg1(data_groups[1], today=at.date())
    csca_country = country_of(csca)
    if csca_country is None or country_of(parsed.dsc) != csca_country:
        raise IssuingStateMismatchError("the DSC and its CSCA do not name the same country")
    if alpha2(mrz.issuing_state) != csca_country:
        raise IssuingStateMismatchError(
            f"issuing state {mrz.issuing_state} is not the CSCA's country {csca_country}"
        )
    face = parse_dg2(data_groups[2])
    dg14 = parse_dg14(data_groups[14]) if 14 in data_groups else None
    aa_key = parse_dg15(data_groups[15]) if 15 in data_groups else None
    return PassiveAuthResult(
        mrz=mrz,
        face_image=face.image,
        face_format=face.format,
        aa_public_key=aa_key,
        dsc_subject=parsed.dsc.subject.rfc4514_string(),
        csca_subject=csca.subject.rfc4514_string(),
        hash_algorithm=parsed.hash_algorithm,
        data_groups_verified=sorted(data_groups),
        aa_hash_algorithm=None if dg14 is None else dg14.aa_hash_algorithm,
        dg14_protocols=() if dg14 is None else dg14.protocols,
    )
