"""Shared admin base: read-only models whose changes go through services.

Who sees what is decided by permissions, which the operator roles grant
(``smartid.roles``, docs/operations-roles.md): Django's ``view_<model>`` for a page, a
custom permission for every action that changes something, and ``restricted_fields``
for the few columns no role may read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse

from core.bigtables import BigTableChangeList, BigTablePaginator


def admin_actor(request: HttpRequest) -> str:
    """How the audit log names the person behind an admin request."""
    return f"admin:{request.user.get_username()}"


class StrictAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Admin pages for big tables whose refusals are refusals.

    No second, unfiltered count (``show_full_result_count``), an estimated count and a
    cheap date hierarchy on big tables (``core.bigtables``), and searches use exact
    lookups on indexed columns (``search_fields`` such as ``"document_number__exact"``),
    one field at a time (``get_search_results``).

    A POST naming an action the user may not run is a 403, and a malformed selected id a
    400 (Django would answer a redirect and a server error); either way nothing happens.
    """

    show_full_result_count = False
    list_per_page = 50
    paginator = BigTablePaginator

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BigTableChangeList

    # --- searches that use indexes ----------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """The rows whose first matching search field equals the term exactly.

        Identifiers of different kinds (a personal code, a document number, an
        application number) never look alike, so a term matches one field; trying the
        fields one by one keeps every query on its own index, where an ``OR`` across a
        join would scan the table.
        """
        term = search_term.strip()
        fields = self.get_search_fields(request)
        if not term or not fields:
            return queryset, False
        for field in fields:
            try:
                found = queryset.filter(**{field: term})
                if found.exists():
                    return found, False
            except (ValidationError, ValueError):
                continue  # not a value of this field's type (e.g. a name for a UUID)
        return queryset.none(), False

    # --- actions ----------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            pk_field = self.model._meta.pk
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                try:
                    pk_field.to_python(value)
                except Exception:  # noqa: BLE001 -- any invalid id is the client's error
                    return HttpResponseBadRequest("Invalid selection.")
            for name in request.POST.getlist("action"):
                if name and name not in self.get_actions(request):
                    raise PermissionDenied
        return super().changelist_view(request, extra_context)


class ReadOnlyAdmin(StrictAdmin):
    """No add, change or delete in the admin; actions call services.

    ``restricted_fields`` maps a permission to the fields only its holders see (no role
    holds those permissions: docs/operations-roles.md).
    """

    #: permission -> fields shown only to users holding it.
    restricted_fields: Mapping[str, Sequence[str]] = {}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # --- fields no role may read -----------------------------------------------------

    def hidden_fields(self, request: HttpRequest) -> set[str]:
        """The restricted fields this user may not see."""
        hidden: set[str] = set()
        for permission, fields in self.restricted_fields.items():
            if not request.user.has_perm(permission):
                hidden.update(fields)
        return hidden

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or ())
        return [*exclude, *sorted(self.hidden_fields(request) - set(exclude))]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        hidden = self.hidden_fields(request)
        return [f for f in super().get_fields(request, obj) if f not in hidden]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        hidden = self.hidden_fields(request)
        return [f for f in super().get_readonly_fields(request, obj) if f not in hidden]

    def get_list_display(self, request: HttpRequest) -> Any:
        hidden = self.hidden_fields(request)
        return [f for f in super().get_list_display(request) if f not in hidden]


def ask_then_apply(
    modeladmin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    form_class: type[forms.Form],
    title: str,
    consequences: str,
    apply: Callable[[dict[str, Any]], None],
) -> HttpResponse | None:
    """An admin action that asks for a form (a reason) before it changes anything.

    The first POST (from the list) shows the selected rows, what will happen and the form;
    the confirming POST runs ``apply`` with the cleaned data. An invalid form is shown
    again with its errors (status 400) and nothing changes.
    """
    status = 200
    if request.POST.get("confirm") == "yes":
        form = form_class(request.POST)
        if form.is_valid():
            apply(form.cleaned_data)
            return None
        status = 400
    else:
        form = form_class()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "consequences": consequences,
        "form": form,
        "objects": list(queryset[:100]),
        "more": max(0, queryset.count() - 100),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
        "form_url": "",
    }
    return TemplateResponse(request, "admin/ask_then_apply.html", context, status=status)


def reason_field(help_text: str = "Recorded in the audit log.") -> forms.CharField:
    """The free-text reason every operator change carries."""
    return forms.CharField(
        min_length=5,
        max_length=200,
        strip=True,
        help_text=help_text,
        widget=forms.TextInput(attrs={"size": 60}),
    )
