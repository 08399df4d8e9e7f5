"""ASN.1 types and encoders for extensions that `cryptography`'s builder lacks.

The types are declared with asn1crypto (no hand-built DER): ETSI EN 319 412-5
QCStatements (RFC 3739 syntax) and RFC 3739 SubjectDirectoryAttributes with the
date of birth.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509

OID_QC_STATEMENTS = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")
OID_SUBJECT_DIRECTORY_ATTRIBUTES = x509.ObjectIdentifier("2.5.29.9")


class SemanticsInformation(core.Sequence):
    _fields = [
        ("semantics_identifier", core.ObjectIdentifier, {"optional": True}),
        ("name_registration_authorities", ax509.GeneralNames, {"optional": True}),
    ]


class QcType(core.SequenceOf):
    _child_spec = core.ObjectIdentifier


class PdsLocation(core.Sequence):
    _fields = [("url", core.IA5String), ("language", core.PrintableString)]


class PdsLocations(core.SequenceOf):
    _child_spec = PdsLocation


class QcStatementId(core.ObjectIdentifier):
    _map = {
        "1.3.6.1.5.5.7.11.2": "semantics_v2",
        "0.4.0.1862.1.1": "qc_compliance",
        "0.4.0.1862.1.4": "qc_sscd",
        "0.4.0.1862.1.5": "qc_pds",
        "0.4.0.1862.1.6": "qc_type",
    }


class QcStatement(core.Sequence):
    _fields = [
        ("statement_id", QcStatementId),
        ("statement_info", core.Any, {"optional": True}),
    ]
    _oid_pair = ("statement_id", "statement_info")
    _oid_specs = {
        "semantics_v2": SemanticsInformation,
        "qc_pds": PdsLocations,
        "qc_type": QcType,
    }


class QcStatements(core.SequenceOf):
    _child_spec = QcStatement


# ETSI EN 319 412-1 §5.1.3: the semantics identifier of natural persons.
SEMANTICS_NATURAL = "0.4.0.194121.1.1"
# ETSI EN 319 412-5 §4.2.3: QcType esign.
QCT_ESIGN = "0.4.0.1862.1.6.1"


def qc_statements_der(*, qualified: bool, pds_url: str) -> bytes:
    """QCStatements of a signing certificate.

    Every certificate names its serialNumber's semantics (natural person); a
    qualified one adds QcCompliance, QcSSCD, QcType=esign and the PKI disclosure
    statement (QcPDS), as the Smart-ID qualified signing profile does.
    """
    statements: list[dict[str, object]] = [
        {
            "statement_id": "semantics_v2",
            "statement_info": {"semantics_identifier": SEMANTICS_NATURAL},
        }
    ]
    if qualified:
        statements += [
            {"statement_id": "qc_compliance"},
            {"statement_id": "qc_sscd"},
            {"statement_id": "qc_type", "statement_info": [QCT_ESIGN]},
            {"statement_id": "qc_pds", "statement_info": [{"url": pds_url, "language": "en"}]},
        ]
    return bytes(QcStatements(statements).dump())


def date_of_birth_der(birth_date: date) -> bytes:
    """SubjectDirectoryAttributes with dateOfBirth as GeneralizedTime YYYYMMDD120000Z."""
    noon = datetime(birth_date.year, birth_date.month, birth_date.day, 12, 0, tzinfo=UTC)
    attributes = ax509.SubjectDirectoryAttributes([{"type": "pda_date_of_birth", "values": [noon]}])
    return bytes(attributes.dump())
