"""Each RP API version answers in its own end-result vocabulary.

A transaction's result is stored once (``signing.Transaction.Result``); what the relying
party reads depends on the version of the session it started:

========================================  =========================  ===================
Transaction result                        v1                         v2
========================================  =========================  ===================
OK, TIMEOUT, WRONG_VC                     same                       same
USER_REFUSED                              USER_REFUSED               USER_REFUSED
USER_REFUSED_<interaction> (v2 codes)     USER_REFUSED               same
USER_REFUSED_CERT_CHOICE                  USER_REFUSED               same
USER_REFUSED_INTERACTION + interaction    USER_REFUSED               USER_REFUSED_<the
                                                                     interaction's code>
REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP DOCUMENT_UNUSABLE          same
PROTOCOL_FAILURE                          DOCUMENT_UNUSABLE          DOCUMENT_UNUSABLE
WRONG_PIN, LOCKED, REVOKED, CLONE_...,    DOCUMENT_UNUSABLE          DOCUMENT_UNUSABLE
DOCUMENT_UNUSABLE
========================================  =========================  ===================

PROTOCOL_FAILURE and USER_REFUSED_INTERACTION are results of v3 transactions only (the
ACSP_V2 digest check and the v3 refusal), so a v1/v2 session cannot in fact produce them;
the rows above only make sure no v3 word could ever reach a v1/v2 client.

v3 (:func:`end_result_v3`) answers USER_REFUSED_INTERACTION with ``details.interaction``
for every interaction refusal (a v2-style stored code is translated back to its
interaction), DOCUMENT_UNUSABLE for the PIN/lock/revocation/clone results (as v2 does: the
user learns the reason in the app), and SERVER_ERROR for a result it does not know.
EXPECTED_LINKED_SESSION (the app, waiting for the signature linked to a device-link
certificate choice, received another transaction) is in the vocabulary but never produced:
the reference app shows pending transactions as a list and has no waiting mode in which a
different transaction could be an error. ACCOUNT_UNUSABLE (known to the java client, not in
SK's OpenAPI enum) is never produced either.
"""

from __future__ import annotations

from signing.models import Transaction

R = Transaction.Result

V1_END_RESULTS = ("OK", "USER_REFUSED", "TIMEOUT", "DOCUMENT_UNUSABLE", "WRONG_VC")
V2_END_RESULTS = (
    *V1_END_RESULTS,
    "REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP",
    "USER_REFUSED_CERT_CHOICE",
    "USER_REFUSED_DISPLAYTEXTANDPIN",
    "USER_REFUSED_VC_CHOICE",
    "USER_REFUSED_CONFIRMATIONMESSAGE",
    "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE",
)
V3_END_RESULTS = (
    "OK",
    "USER_REFUSED",
    "TIMEOUT",
    "DOCUMENT_UNUSABLE",
    "WRONG_VC",
    "REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP",
    "USER_REFUSED_CERT_CHOICE",
    "USER_REFUSED_INTERACTION",
    "PROTOCOL_FAILURE",
    "EXPECTED_LINKED_SESSION",
    "SERVER_ERROR",
)

#: The v2 refusal code of each interaction (and back, for v3).
V2_REFUSAL_BY_INTERACTION = {
    "displayTextAndPIN": "USER_REFUSED_DISPLAYTEXTANDPIN",
    "verificationCodeChoice": "USER_REFUSED_VC_CHOICE",
    "confirmationMessage": "USER_REFUSED_CONFIRMATIONMESSAGE",
    "confirmationMessageAndVerificationCodeChoice": (
        "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE"
    ),
}
INTERACTION_BY_V2_REFUSAL = {code: kind for kind, code in V2_REFUSAL_BY_INTERACTION.items()}

# No word of their own for the RP: "check the app or support" (docs/rp-integration.md).
_UNUSABLE = {R.WRONG_PIN, R.LOCKED, R.REVOKED, R.CLONE_DETECTED, R.DOCUMENT_UNUSABLE}
_SAME_IN_V2 = {
    R.OK,
    R.TIMEOUT,
    R.WRONG_VC,
    R.USER_REFUSED,
    R.USER_REFUSED_CERT_CHOICE,
    R.REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP,
    *(R(code) for code in INTERACTION_BY_V2_REFUSAL),
}


def end_result_v2(tx: Transaction) -> str:
    """The v2 end result of a finished transaction."""
    result = tx.result
    if result == R.USER_REFUSED_INTERACTION:
        return V2_REFUSAL_BY_INTERACTION.get(tx.refused_interaction, "USER_REFUSED")
    if result in _SAME_IN_V2:
        return str(result)
    return "DOCUMENT_UNUSABLE"


def end_result_v1(tx: Transaction) -> str:
    """The v1 end result: every refusal is USER_REFUSED, the rest DOCUMENT_UNUSABLE."""
    result = end_result_v2(tx)
    if result in V1_END_RESULTS:
        return result
    return "USER_REFUSED" if result.startswith("USER_REFUSED") else "DOCUMENT_UNUSABLE"


def end_result_v3(tx: Transaction) -> tuple[str, str]:
    """The v3 end result and, for USER_REFUSED_INTERACTION, the refused interaction."""
    result = tx.result
    if result == R.USER_REFUSED_INTERACTION:
        if not tx.refused_interaction:  # nothing to name: a plain refusal
            return "USER_REFUSED", ""
        return "USER_REFUSED_INTERACTION", tx.refused_interaction
    if result in INTERACTION_BY_V2_REFUSAL:
        return "USER_REFUSED_INTERACTION", INTERACTION_BY_V2_REFUSAL[result]
    if result in _UNUSABLE:
        return "DOCUMENT_UNUSABLE", ""
    if result in V3_END_RESULTS:
        return str(result), ""
    return "SERVER_ERROR", ""


def end_result(version: int, tx: Transaction) -> str:
    """The end result a session of ``version`` reports for ``tx`` (without details)."""
    if version == 1:
        return end_result_v1(tx)
    if version == 2:
        return end_result_v2(tx)
    return end_result_v3(tx)[0]
