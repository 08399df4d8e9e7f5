"""Fuzz the RP API's session-start requests (v1, v2, v3): never a 500.

The first byte picks one of the start operations; the rest is the request body, handed
to the real view (parser, serializers, v3 field rules, error handlers). The one step that
needs the database, authenticating the relying party, is replaced by an exception that
ends the request: reaching it means the body was valid. A response of status 500 or
more, or any other exception, is a crash.
"""

from __future__ import annotations

from typing import Any

import _harness
import atheris

with atheris.instrument_imports(include=["api", "rest_framework.parsers", "signing.engine"]):
    _harness.django_setup()
    from rest_framework.test import APIRequestFactory

    from api.rp import services
    from api.rp import views as v2
    from api.rp.v3 import views as v3


class ReachedTheDatabase(Exception):
    """The body passed every check; the relying party would be looked up now."""


def _authenticate(**kwargs: Any) -> None:
    raise ReachedTheDatabase


services.authenticate = _authenticate  # type: ignore[assignment]

# (view, URL keyword arguments) of every session start.
_DOC = {"target_kind": "document", "target": "PNOEE-40504040001-MOCK-Q"}
_ETSI = {"target_kind": "etsi", "target": "PNOEE-40504040001"}
OPERATIONS: list[tuple[Any, dict[str, str]]] = [
    (v2.AuthenticationStart.as_view(), {"version": "1", **_ETSI}),
    (v2.AuthenticationStart.as_view(), {"version": "2", **_DOC}),
    (v2.SignatureStart.as_view(), {"version": "1", **_DOC}),
    (v2.SignatureStart.as_view(), {"version": "2", **_DOC}),
    (v2.CertificateChoiceStart.as_view(), {"version": "2", **_ETSI}),
    (v3.AuthenticationDeviceLink.as_view(), {}),
    (v3.AuthenticationNotification.as_view(), _ETSI),
    (v3.SignatureDeviceLink.as_view(), _DOC),
    (v3.SignatureNotification.as_view(), _DOC),
    (v3.SignatureLinked.as_view(), {"target": _DOC["target"]}),
    (v3.CertificateChoiceDeviceLink.as_view(), {}),
    (v3.CertificateChoiceNotification.as_view(), _ETSI),
    (v3.SigningCertificate.as_view(), {"target": _DOC["target"]}),
]
FACTORY = APIRequestFactory()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    view, kwargs = OPERATIONS[data[0] % len(OPERATIONS)]
    request = FACTORY.post("/rp", data[1:], content_type="application/json")
    try:
        response = view(request, **kwargs)
    except ReachedTheDatabase:
        return
    if response.status_code >= 500:
        raise AssertionError(f"status {response.status_code}: {response.data!r}")


if __name__ == "__main__":
    _harness.fuzz(test_one_input)
