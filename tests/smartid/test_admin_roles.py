"""Role × admin URL matrix: every URL of the admin site, every persona, one expectation.

The URLs are enumerated from the admin site itself (``test_the_table_covers_every_url``),
so a newly registered model, or a new page of one, fails until it has rows here. Each
persona's test walks the whole table and collects deviations; there must be none.

Expectations: an HTTP status, or "L" (redirect to the admin login), "index" (redirect
to the admin index), "done" (a redirect after the change was made). A refused request
(403, 404, "L") changes nothing, audit log included; a page about a person that is
shown writes exactly one ``admin.lookup`` record naming the viewer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from accounts.models import Account
from audit.models import AuditRecord
from tests.factories import Office
from tests.helpers.admin_world import USERNAME, World, admin_world

PERSONAS = ("anon", "nobody", "support", "ca", "auditor", "rp", "super")


def exp(allowed: Iterable[str], yes: Any = 200, no: Any = 403) -> tuple[Any, ...]:
    """The expectations in PERSONAS order: ``yes`` for the allowed, ``no`` for the others,
    and the login page for the anonymous visitor."""
    chosen = set(allowed)
    return tuple("L" if p == "anon" else (yes if p in chosen else no) for p in PERSONAS)


def read_only(prefix: str, viewers: Iterable[str]) -> dict[str, tuple[Any, ...]]:
    """A read-only model admin: viewers read list, detail and history; nobody writes."""
    return {
        f"{prefix}_changelist GET": exp(viewers),
        f"{prefix}_add GET": exp(()),
        f"{prefix}_add POST": exp(()),
        f"{prefix}_change GET": exp(viewers),
        f"{prefix}_change POST": exp(()),
        f"{prefix}_delete GET": exp(()),
        f"{prefix}_delete POST": exp(()),
        f"{prefix}_history GET": exp(viewers),
    }


def editable(
    prefix: str, editors: Iterable[str], deleters: Iterable[str] = ()
) -> dict[str, tuple[Any, ...]]:
    """An admin with forms: an empty POST is a form with errors (200, nothing saved)."""
    return {
        f"{prefix}_changelist GET": exp(editors),
        f"{prefix}_add GET": exp(editors),
        f"{prefix}_add POST": exp(editors),
        f"{prefix}_change GET": exp(editors),
        f"{prefix}_change POST": exp(editors),
        f"{prefix}_delete GET": exp(deleters),
        f"{prefix}_history GET": exp(editors),
        f"{prefix}_delete POST": exp(deleters, yes="done"),  # last: the row is gone then
    }


SUPPORT = ("support", "super")
TABLE: dict[str, tuple[Any, ...]] = {
    # The site's own pages. Every staff member may change their own password.
    "index GET": exp(PERSONAS),
    "login GET": (200, *["index"] * 6),
    "logout POST": ("index", *[200] * 6),
    "password_change GET": exp(PERSONAS),
    "password_change POST": exp(PERSONAS),  # empty: a form with errors
    "password_change_done GET": exp(PERSONAS),
    "autocomplete GET": exp(()),  # no field to complete: refused
    "jsi18n GET": exp(PERSONAS),
    "view_on_site GET": exp((), no=404),  # no model here has a public page
    "app_list[auth] GET": exp(["super"], no=404),
    "app_list[audit] GET": exp(["auditor", "super"], no=404),
    "app_list[accounts] GET": exp(SUPPORT, no=404),
    "app_list[pki] GET": exp(["support", "ca", "super"], no=404),
    "app_list[signing] GET": exp(SUPPORT, no=404),
    "app_list[enrolment] GET": exp(SUPPORT, no=404),
    "app_list[rp] GET": exp(["rp", "super"], no=404),
    # Operators and their groups: superusers only.
    "auth_user_password_change GET": exp(["super"]),
    "auth_user_password_change POST": exp(["super"]),  # empty: a form with errors
    **editable("auth_user", ["super"], deleters=["super"]),
    **editable("auth_group", ["super"], deleters=["super"]),
    # The support desk's lookup of a person, and its guided suspension.
    **read_only("accounts_person", SUPPORT),
    **read_only("accounts_account", SUPPORT),
    "accounts_account_suspend GET": exp(SUPPORT),
    "accounts_account_suspend POST": exp(SUPPORT, yes="done"),
    **read_only("accounts_device", SUPPORT),
    **read_only("signing_transaction", SUPPORT),
    **read_only("enrolment_registrationticket", SUPPORT),
    **read_only("enrolment_application", SUPPORT),
    **read_only("enrolment_onboardingapplication", SUPPORT),
    # The CA: certificates are also the support desk's (status), the rest the operator's.
    **read_only("pki_certificate", ["support", "ca", "super"]),
    **read_only("pki_certificateauthority", ["ca", "super"]),
    **read_only("pki_revocationlist", ["ca", "super"]),
    # Key records: nobody but the superuser.
    **read_only("signing_splitkey", ["super"]),
    **read_only("signing_serverkeyhalf", ["super"]),
    **read_only("signing_servicekey", ["super"]),
    # The audit log and its verification.
    **read_only("audit_auditrecord", ["auditor", "super"]),
    "audit_auditrecord_verify GET": exp(["auditor", "super"]),
    "audit_auditrecord_verify POST": exp(["auditor", "super"]),
    # Relying parties (never deleted: their sessions refer to them) and their sessions.
    **editable("rp_relyingparty", ["rp", "super"]),
    **read_only("rp_rpsession", ["rp", "super"]),
    **read_only("rp_usage", ["rp", "super"]),
    "rp_usage_statement GET": exp(["rp", "super"]),  # the form (no month chosen yet)
    # The RA office's configuration, officers and the population registry.
    **editable("enrolment_registrationauthority", ["super"]),
    **editable("enrolment_branch", ["super"]),
    **read_only("enrolment_officer", ["super"]),
    **read_only("enrolment_registryperson", ["super"]),
}

# Actions, POSTed to the list with one row selected: "ask" = the reason form is shown
# (nothing changes until it is confirmed), "confirm" = Django's delete confirmation page.
ASK = ("ca", "super")
ACTIONS: dict[str, tuple[Any, ...]] = {
    "accounts_person create_ticket": exp(["super"], yes="done"),
    "accounts_account close_account": exp(["super"], yes="done"),
    "pki_certificate revoke": exp(ASK, yes="ask"),
    "pki_certificate hold": exp(ASK, yes="ask"),
    "pki_certificate release": exp(ASK, yes="ask"),
    "pki_certificateauthority publish_crl": exp(ASK, yes="ask"),
    "auth_user delete_selected": exp(["super"], yes="confirm"),
    "auth_group delete_selected": exp(["super"], yes="confirm"),
    **{
        f"{prefix} delete_selected": exp(())
        for prefix in (
            "accounts_person",
            "accounts_account",
            "accounts_device",
            "signing_transaction",
            "signing_splitkey",
            "signing_serverkeyhalf",
            "signing_servicekey",
            "enrolment_registrationticket",
            "enrolment_application",
            "enrolment_onboardingapplication",
            "enrolment_registrationauthority",
            "enrolment_branch",
            "enrolment_officer",
            "enrolment_registryperson",
            "pki_certificate",
            "pki_certificateauthority",
            "pki_revocationlist",
            "audit_auditrecord",
            "rp_relyingparty",
            "rp_rpsession",
            "rp_usage",
        )
    },
}

#: Model admins whose shown pages are audited lookups.
AUDITED = {
    "accounts_person",
    "accounts_account",
    "accounts_device",
    "signing_transaction",
    "enrolment_registrationticket",
    "enrolment_application",
    "enrolment_onboardingapplication",
    "pki_certificate",
}


def _admin_patterns(patterns: Iterable[Any]) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _admin_patterns(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern


def _prefix(model: type[Model]) -> str:
    return f"{model._meta.app_label}_{model._meta.model_name}"


def test_the_table_covers_every_url() -> None:
    names = {p.name for p in _admin_patterns(admin.site.get_urls())}
    rows = {key.split(" ")[0].split("[")[0] for key in TABLE}
    assert rows == names, "an admin URL is missing from (or extra in) TABLE"
    labels = {model._meta.app_label for model in admin.site._registry}
    listed = {key.split("[")[1].split("]")[0] for key in TABLE if key.startswith("app_list[")}
    assert listed == labels, "an app of the admin is missing from (or extra in) TABLE"


def test_the_actions_table_covers_every_action() -> None:
    found = set()
    for model, model_admin in admin.site._registry.items():
        # Every action, before Django filters them by the user's permissions.
        for _, name, _ in model_admin._get_base_actions():  # type: ignore[attr-defined]
            found.add(f"{_prefix(model)} {name}")
    assert found == set(ACTIONS), "an admin action is missing from (or extra in) ACTIONS"


def _snapshot(world: World) -> dict[str, Any]:
    """Everything a request could change: row counts of every admin model, and the
    state of the rows the table's writes aim at."""
    state: dict[str, Any] = {
        _prefix(model): model._default_manager.count() for model in admin.site._registry
    }
    for prefix, obj in world.objects.items():
        fresh = type(obj)._default_manager.filter(pk=obj.pk).values().first()
        state[f"{prefix}#{obj.pk}"] = fresh
    state["group_members"] = sorted(Group.objects.values_list("name", "user__username"))
    return state


def _url(name: str, world: World) -> str:
    if "[" in name:
        return reverse("admin:app_list", kwargs={"app_label": name.split("[")[1][:-1]})
    if name == "view_on_site":
        person = world.objects["accounts_person"]
        content_type = ContentType.objects.get_for_model(person)
        return reverse("admin:view_on_site", args=[content_type.pk, person.pk])
    if name == "auth_user_password_change":
        return reverse("admin:auth_user_password_change", args=[world.objects["auth_user"].pk])
    prefix, _, page = name.rpartition("_")
    if prefix in world.objects and page in ("change", "delete", "history", "suspend"):
        return reverse(f"admin:{name}", args=[world.objects[prefix].pk])
    return reverse(f"admin:{name}")


POST_DATA = {
    "accounts_account_suspend": {"reason": "phone stolen, owner called", "confirm": "on"},
    "logout": {},
}


def _check(
    persona: str, key: str, expected: Any, response: Any, before: dict[str, Any], world: World
) -> list[str]:
    """The deviations of one answer (empty when it is as the table says)."""
    deviations: list[str] = []
    status = response.status_code
    location = response.get("Location", "")
    if isinstance(expected, int):
        ok = status == expected
    elif expected == "L":
        ok = status == 302 and location.startswith("/admin/login/")
    elif expected == "index":
        ok = status == 302 and location == "/admin/"
    elif expected == "done":
        ok = status == 302 and not location.startswith("/admin/login/")
    elif expected in ("ask", "confirm"):
        ok = status == 200
    else:  # a typo in the table
        ok = False
    if not ok:
        deviations.append(f"{persona} {key}: expected {expected!r}, got {status} {location}")
    after = _full_snapshot(world)
    if expected == "done" or key.startswith("audit_auditrecord_verify POST"):
        return deviations  # a permitted change (its effect is tested on its own)
    name = key.split(" ")[0]
    prefix, _, page = name.rpartition("_")
    audits = before["audit_auditrecord"]
    shown = status == 200 and key.endswith("GET") and page in ("change", "history")
    if shown and prefix in AUDITED:
        new = list(AuditRecord.objects.filter(sequence__gt=before["audit_head"]))
        if [(r.action, r.actor, r.object_id) for r in new] != [
            ("admin.lookup", f"admin:{USERNAME[persona]}", str(world.objects[prefix].pk))
        ]:
            deviations.append(f"{persona} {key}: lookup not audited once: {new}")
        after["audit_auditrecord"] = audits
        after["audit_head"] = before["audit_head"]
    if after != before:
        changed = sorted(k for k in after if after.get(k) != before.get(k))
        deviations.append(f"{persona} {key} ({status}) changed {changed}")
    return deviations


def _full_snapshot(world: World) -> dict[str, Any]:
    state = _snapshot(world)
    last = AuditRecord.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    state["audit_head"] = last or 0
    return state


def _client(persona: str, world: World) -> Client:
    client = Client()
    if persona != "anon":
        client.force_login(world.users[persona])
    return client


@pytest.mark.parametrize("persona", PERSONAS)
def test_matrix(persona: str, office: Office) -> None:
    world = admin_world(office)
    deviations: list[str] = []
    client = _client(persona, world)
    for key, expectations in TABLE.items():
        name, method = key.split(" ")
        expected = expectations[PERSONAS.index(persona)]
        if name == "logout":  # the only row that ends the session: a client of its own
            client = _client(persona, world)
        url = _url(name, world)
        before = _full_snapshot(world)
        if method == "POST":
            data = POST_DATA.get(name, {"post": "yes"} if name.endswith("_delete") else {})
            response = client.post(url, data)
        else:
            response = client.get(url)
        if name == "logout":
            client = _client(persona, world)
        deviations += _check(persona, key, expected, response, before, world)
        if expected == "done" and name == "accounts_account_suspend":
            state = world.row("accounts_account", Account).state
            if state != Account.State.SUSPENDED:
                deviations.append(f"{persona} {key}: the account is {state}")
    for key, expectations in ACTIONS.items():
        prefix, action = key.split(" ")
        expected = expectations[PERSONAS.index(persona)]
        before = _full_snapshot(world)
        response = client.post(
            reverse(f"admin:{prefix}_changelist"),
            {"action": action, "_selected_action": [world.objects[prefix].pk]},
        )
        deviations += _check(persona, f"{key} POST", expected, response, before, world)
    assert deviations == []
