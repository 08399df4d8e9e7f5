"""Admin pages about people: every look at one is an audit record (who looked at whom).

The support desk looks people up when they call; the log must be able to answer "who
has seen this person's data, and when". A detail (or history) page writes ``admin.lookup`` and a
search writes ``admin.search`` before the page is sent (in the same request: when the
record cannot be written, the page is not shown either).
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.views.main import SEARCH_VAR
from django.http import HttpRequest, HttpResponse

from audit.services import audit_record
from core.admin import ReadOnlyAdmin, admin_actor
from core.net import client_address

#: Longest search term kept in the log (longer ones are cut).
SEARCH_TERM_MAX = 100


class AuditedLookupAdmin(ReadOnlyAdmin):
    """A read-only admin whose rows name a person; ``lookup_subject`` says whom."""

    def lookup_subject(self, obj: Any) -> str:
        """The person the row belongs to (semantics identifier or document number)."""
        raise NotImplementedError

    def _record_lookup(self, request: HttpRequest, obj: Any, page: str) -> None:
        audit_record(
            actor=admin_actor(request),
            action="admin.lookup",
            object_type=self.model._meta.label,
            object_id=obj.pk,
            data={"subject": self.lookup_subject(obj), "page": page},
            source_ip=client_address(request) or None,
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        original = context.get("original")
        if request.method == "GET" and response.status_code == 200 and original is not None:
            self._record_lookup(request, original, "detail")
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        context = getattr(response, "context_data", None) or {}
        obj = context.get("object")
        if response.status_code == 200 and obj is not None:
            self._record_lookup(request, obj, "history")
        return response

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        term = request.GET.get(SEARCH_VAR, "").strip()
        if request.method == "GET" and response.status_code == 200 and term:
            audit_record(
                actor=admin_actor(request),
                action="admin.search",
                object_type=self.model._meta.label,
                object_id="",
                data={"term": term[:SEARCH_TERM_MAX]},
                source_ip=client_address(request) or None,
            )
        return response
