"""The self-service portal: ID-card login, accounts, certificates, history, contact data.

Thin function views (healthchecks style): ``person_required`` for access, and
``_get_account_for_person`` for ownership — an account of somebody else is a 404,
exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec
from uuid import UUID

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.middleware.csrf import rotate_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.identifiers import derive_date_of_birth
from accounts.models import Account, Person
from core import ratelimit
from core.errors import DomainError
from core.net import client_address
from enrolment.minors import remote_minor_refusal
from enrolment.models import RegistrationTicket
from enrolment.services import ticket_create, ticket_qr_payload
from portal import selectors, services, testcards, webeid
from signing.services.expiry import with_valid_until
from signing.services.lifecycle import account_close, account_resume, account_suspend

log = logging.getLogger(__name__)
P = ParamSpec("P")

SESSION_PERSON = "portal_person"
SESSION_SEEN = "portal_seen"
SESSION_METHOD = "portal_method"
MAX_LOGIN_BODY = 16 * 1024

#: What a person reads for each refusal of the validator (the codes are stable).
TOO_MANY_LOGINS = gettext_lazy(
    "Too many login attempts from your network. Please wait a minute and try again."
)
LOGIN_ERRORS: dict[str, Any] = {
    "token_malformed": gettext_lazy("The ID-card answer was malformed. Please try again."),
    "format_unsupported": gettext_lazy(
        "Your Web eID software is too old or too new for this site."
    ),
    "algorithm_unsupported": gettext_lazy("Your ID-card uses an unsupported signature type."),
    "signature_malformed": gettext_lazy("The ID-card signature was malformed."),
    "signature_invalid": gettext_lazy("The ID-card signature does not verify for this login."),
    "origin_mismatch": gettext_lazy(
        "The ID-card signed a login for another website. Log in only at this site's address."
    ),
    "nonce_mismatch": gettext_lazy(
        "The ID-card answered an older login attempt. Reload the page and try again."
    ),
    "challenge_missing": gettext_lazy(
        "This login attempt was already used or never started. Please try again."
    ),
    "challenge_expired": gettext_lazy("The login attempt expired (5 minutes). Please try again."),
    "certificate_malformed": gettext_lazy("The certificate could not be read."),
    "certificate_not_yet_valid": gettext_lazy("Your ID-card certificate is not valid yet."),
    "certificate_expired": gettext_lazy("Your ID-card certificate has expired."),
    "certificate_wrong_purpose": gettext_lazy(
        "This certificate is not an authentication certificate."
    ),
    "certificate_disallowed_policy": gettext_lazy(
        "This kind of certificate (e.g. Mobile-ID) cannot log in here."
    ),
    "certificate_untrusted": gettext_lazy(
        "The certificate was not issued by a trusted ID-card authority."
    ),
    "certificate_identity_missing": gettext_lazy(
        "The certificate does not name a person with a personal code."
    ),
    "certificate_revoked": gettext_lazy("Your ID-card certificate is revoked or suspended."),
    "certificate_status_unknown": gettext_lazy(
        "The certificate authority does not know this certificate."
    ),
    "ocsp_unavailable": gettext_lazy(
        "The certificate status service cannot be reached. Please try again later."
    ),
    "ocsp_invalid": gettext_lazy("The certificate status answer could not be verified."),
}


def _login_error_message(error: webeid.TokenValidationError) -> str:
    return str(LOGIN_ERRORS.get(error.code, _("The ID-card login failed.")))


def _now_ts() -> float:
    return timezone.now().timestamp()


def person_required(
    view: Callable[Concatenate[HttpRequest, Person, P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Only for a logged-in person, who is passed to the view; ends idle sessions."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        person_id = request.session.get(SESSION_PERSON)
        login_url = f"{reverse('portal:login')}?next={request.path}"
        if person_id is None:
            return redirect(login_url)
        seen = request.session.get(SESSION_SEEN)
        idle = settings.PORTAL_IDLE_MINUTES * 60
        if not isinstance(seen, int | float) or _now_ts() - seen > idle:
            request.session.flush()
            messages.info(request, _("Your session ended after a period of inactivity."))
            return redirect(login_url)
        person = Person.objects.filter(pk=person_id).first()
        if person is None:
            request.session.flush()
            return redirect(login_url)
        request.session[SESSION_SEEN] = _now_ts()
        response = view(request, person, *args, **kwargs)
        # Personal data: no browser or proxy keeps it (no-store, with Django's other
        # never-cache headers; the RA office's officer_required does the same).
        add_never_cache_headers(response)
        return response

    return wrapper  # type: ignore[return-value]  # wraps() hides the dropped Person argument


def _get_account_for_person(person: Person, account_id: UUID) -> Account:
    """The person's own account, or 404 (a foreign id looks like an unknown one)."""
    return get_object_or_404(
        with_valid_until(Account.objects.select_related("device")), uuid=account_id, person=person
    )


def _actor(person: Person) -> str:
    return f"portal:{person.semantics_identifier}"


def _safe_next(request: HttpRequest, target: object) -> str:
    if isinstance(target, str) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("portal:accounts")


def _start_session(request: HttpRequest, person: Person, method: str) -> None:
    # A new session key at login: a session id planted before login is worth nothing.
    request.session.cycle_key()
    rotate_token(request)  # and a new CSRF token, as django.contrib.auth.login does
    request.session[SESSION_PERSON] = person.pk
    request.session[SESSION_SEEN] = _now_ts()
    request.session[SESSION_METHOD] = method


# --- login -------------------------------------------------------------------------------


@require_GET
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    return _render_login(request)


def _render_login(request: HttpRequest, status: int = 200) -> HttpResponse:
    next_url = request.GET.get("next") or request.POST.get("next")
    issuer = testcards.active()
    return render(
        request,
        "portal/login.html",
        {
            "next": _safe_next(request, next_url),
            "virtual_card": issuer is not None,
            "virtual_card_url": issuer.token_url() if issuer else "",
            "demo_cards": issuer.cards() if issuer else (),
        },
        status=status,
    )


def _json_error(code: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


@require_POST
@never_cache
def login_challenge(request: HttpRequest) -> JsonResponse:
    """Issue the challenge nonce for this browser's session (Web eID step 1)."""
    if not request.session.session_key:
        request.session.save()  # a session must exist for the challenge to be bound to
    return JsonResponse({"challengeNonce": services.challenge_issue(request.session)})


def _login_limit() -> ratelimit.Limit:
    return ratelimit.Limit("portal_login", settings.LOGINS_PER_ADDRESS_MINUTE, 60)


def _login_too_many_json(request: HttpRequest, exc: ratelimit.RateLimited) -> HttpResponse:
    return _json_error("too_many_requests", str(TOO_MANY_LOGINS))


def _login_too_many_page(request: HttpRequest, exc: ratelimit.RateLimited) -> HttpResponse:
    messages.error(request, TOO_MANY_LOGINS)
    return _render_login(request)


@require_POST
@never_cache
@ratelimit.per_address(_login_limit, _login_too_many_json)
def login_token(request: HttpRequest) -> JsonResponse:
    """Validate the Web eID token (step 2); the challenge is used up either way."""
    if len(request.body) > MAX_LOGIN_BODY:
        return _json_error("token_malformed", str(LOGIN_ERRORS["token_malformed"]), 413)
    try:
        body = webeid.load_json(request.body)
    except webeid.TokenMalformed:
        body = None
    if not isinstance(body, dict):
        return _json_error("token_malformed", str(LOGIN_ERRORS["token_malformed"]))
    origin, nonce = body.get("origin"), body.get("challengeNonce")
    report = webeid.ClientReport(
        origin=origin if isinstance(origin, str) else None,
        nonce=nonce if isinstance(nonce, str) else None,
    )
    try:
        identity = services.login_with_token(
            session=request.session, token=body.get("authToken"), report=report
        )
        person = services.person_login(
            identity=identity, method="web-eid", source_ip=client_address(request)
        )
    except webeid.TokenValidationError as exc:
        log.info("portal: Web eID login refused: %s", exc.code)
        return _json_error(exc.code, _login_error_message(exc))
    except DomainError as exc:
        return _json_error(exc.code, exc.message)
    _start_session(request, person, "web-eid")
    return JsonResponse({"redirect": _safe_next(request, body.get("next"))})


@require_POST
@never_cache
@ratelimit.per_address(_login_limit, _login_too_many_page)
def login_certificate(request: HttpRequest) -> HttpResponse:
    """TLS client-certificate login: the certificate comes from the reverse proxy.

    The header is believed only when the direct peer is a configured trusted proxy;
    from anyone else it is an attempt to inject a certificate, refused with 403.
    """
    peer = str(request.META.get("REMOTE_ADDR", ""))
    header = settings.PORTAL_CLIENT_CERT_HEADER
    if not services.peer_is_trusted_proxy(peer):
        if request.headers.get(header):
            log.warning("portal: client certificate header from untrusted peer %s", peer)
        return _login_refused(
            request,
            _("Certificate login works only through this service's TLS front end."),
            status=403,
        )
    value = request.headers.get(header, "")
    try:
        identity = services.login_with_client_certificate(header_value=value)
        person = services.person_login(
            identity=identity, method="tls-client-certificate", source_ip=client_address(request)
        )
    except webeid.TokenValidationError as exc:
        if not value:
            return _login_refused(
                request, _("Your browser did not present an ID-card certificate."), status=400
            )
        return _login_refused(request, _login_error_message(exc), status=400)
    except DomainError as exc:
        return _login_refused(request, exc.message, status=400)
    _start_session(request, person, "tls-client-certificate")
    return redirect(_safe_next(request, request.POST.get("next")))


def _login_refused(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    messages.error(request, message)
    return _render_login(request, status=status)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """End the server-side session (the cookie alone is worth nothing afterwards)."""
    person_id = request.session.get(SESSION_PERSON)
    if isinstance(person_id, int):
        services.person_logout(person_id=person_id, source_ip=client_address(request))
    request.session.flush()
    messages.info(request, _("You have logged out."))
    return redirect("portal:login")


# --- accounts ---------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_PERSON) is None:
        return redirect("portal:login")
    return redirect("portal:accounts")


@require_GET
@person_required
def accounts(request: HttpRequest, person: Person) -> HttpResponse:
    rows = [
        (account, selectors.account_certificates(account))
        for account in selectors.person_accounts(person)
    ]
    return render(
        request,
        "portal/accounts.html",
        {
            "person": person,
            "rows": rows,
            "now": timezone.now(),
            "pending_applications": selectors.pending_applications(person),
        },
    )


@require_GET
@person_required
def account_detail(request: HttpRequest, person: Person, account_id: UUID) -> HttpResponse:
    account = _get_account_for_person(person, account_id)
    return render(
        request,
        "portal/account_detail.html",
        {
            "person": person,
            "account": account,
            "now": timezone.now(),
            "certificates": selectors.account_certificates(account),
            "history": selectors.account_history(account),
        },
    )


@require_GET
@person_required
def certificate_pem(
    request: HttpRequest, person: Person, account_id: UUID, purpose: str
) -> HttpResponse:
    account = _get_account_for_person(person, account_id)
    if purpose not in ("AUTH", "SIGN"):
        raise Http404
    row = selectors.account_certificate(account, purpose)
    if row is None:
        raise Http404
    pem = selectors.CertificateView(row, "").pem
    response = HttpResponse(pem, content_type="application/x-pem-file")
    filename = f"{account.document_number}-{purpose.lower()}.pem"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


ACTIONS: dict[str, dict[str, Any]] = {
    "suspend": {
        "title": gettext_lazy("Suspend the account"),
        "question": gettext_lazy(
            "Suspend this account? It cannot log in or sign, and its certificates are put on "
            "hold, until you resume it."
        ),
        "button": gettext_lazy("Suspend"),
        "done": gettext_lazy("The account is suspended and its certificates are on hold."),
        "states": {Account.State.ACTIVE},
    },
    "resume": {
        "title": gettext_lazy("Resume the account"),
        "question": gettext_lazy(
            "Resume this account? Its certificates are released from hold and it can be used again."
        ),
        "button": gettext_lazy("Resume"),
        "done": gettext_lazy("The account is active again."),
        "states": {Account.State.SUSPENDED},
    },
    "delete": {
        "title": gettext_lazy("Delete the account"),
        "question": gettext_lazy(
            "Delete this account for good? Its certificates are revoked and the server's key "
            "shares are destroyed. This cannot be undone."
        ),
        "button": gettext_lazy("Delete for good"),
        "done": gettext_lazy("The account is deleted: certificates revoked, keys destroyed."),
        "states": {
            Account.State.PENDING,
            Account.State.ACTIVE,
            Account.State.SUSPENDED,
            Account.State.LOCKED,
        },
    },
}


@require_http_methods(["GET", "POST"])
@person_required
def account_action(
    request: HttpRequest, person: Person, account_id: UUID, action: str
) -> HttpResponse:
    """Ask for confirmation (GET), then suspend, resume or delete (POST)."""
    account = _get_account_for_person(person, account_id)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    if account.state not in spec["states"]:
        messages.error(request, _("This action is not possible in the account's state."))
        return redirect("portal:account", account_id=account.uuid)
    if request.method == "POST":
        actor = _actor(person)
        try:
            if action == "suspend":
                account_suspend(account=account, actor=actor)
            elif action == "resume":
                account_resume(account=account, actor=actor)
            else:
                account_close(account=account, actor=actor, reason="closed by owner")
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, str(spec["done"]))
        return redirect("portal:account", account_id=account.uuid)
    return render(
        request,
        "portal/confirm.html",
        {"person": person, "account": account, "action": action, "spec": spec},
    )


@require_http_methods(["GET", "POST"])
@person_required
def register(request: HttpRequest, person: Person) -> HttpResponse:
    """A registration ticket for a new account, shown once as a code and a QR code.

    Not for minors (under ``REMOTE_REGISTRATION_MIN_AGE``): they register at an office
    with their legal representative, and the page says so instead of offering the code.
    """
    born = person.date_of_birth or derive_date_of_birth(person.semantics_identifier)
    refusal = remote_minor_refusal(born, timezone.localdate())
    if refusal is not None:
        status = 403 if request.method == "POST" else 200
        context = {"person": person, "refusal": refusal}
        return render(request, "portal/register.html", context, status=status)
    if request.method != "POST":
        return render(request, "portal/register.html", {"person": person})
    ticket, code = ticket_create(
        person=person,
        identity_source=RegistrationTicket.Source.ID_CARD,
        level=Account.Level.QUALIFIED,
        created_by=_actor(person),
        source_ip=client_address(request),
    )
    qr = segno.make(ticket_qr_payload(code), error="m").svg_data_uri(scale=4, border=2)
    response = render(
        request,
        "portal/register.html",
        {"person": person, "ticket": ticket, "code": code, "qr": qr},
    )
    return response


class ContactForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail address"), required=False, max_length=254)
    phone = forms.RegexField(
        label=gettext_lazy("Phone number"),
        required=False,
        max_length=32,
        regex=r"^\+?[0-9][0-9 ]{4,30}$",
        error_messages={"invalid": gettext_lazy("Enter a phone number, e.g. +372 5555 1234.")},
    )


@require_http_methods(["GET", "POST"])
@person_required
def contact(request: HttpRequest, person: Person) -> HttpResponse:
    form = ContactForm(request.POST or None, initial={"email": person.email, "phone": person.phone})
    if request.method == "POST" and form.is_valid():
        verify_url = request.build_absolute_uri(
            reverse("portal:verify-email", kwargs={"token": "TOKEN"})
        )
        try:
            sent = services.contact_update(
                person=person,
                email=form.cleaned_data["email"],
                phone=form.cleaned_data["phone"],
                verify_url=verify_url,
                actor=_actor(person),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Your contact data is saved."))
            if sent:
                messages.info(
                    request,
                    _(
                        "We sent a confirmation link to %(email)s; the address is used "
                        "once you open it."
                    )
                    % {"email": form.cleaned_data["email"]},
                )
            return redirect("portal:contact")
    return render(request, "portal/contact.html", {"person": person, "form": form})


@require_GET
@person_required
def verify_email(request: HttpRequest, person: Person, token: str) -> HttpResponse:
    try:
        email = services.email_verify(person=person, token=token)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("The e-mail address %(email)s is confirmed.") % {"email": email}
        )
    return redirect("portal:contact")
