"""The RA office pages: thin views that check access, call one service and render.

Ownership: every application is looked up through ``_get_application_for_officer``, so an
application of another branch is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

import base64
import math
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from accounts.models import Person
from audit.models import AuditRecord
from core import ratelimit
from core.errors import DomainError
from core.net import client_address
from enrolment import applications as services
from enrolment import onboarding
from enrolment.applications import ApplicationInvalid, officer_for_user
from enrolment.models import Application, Officer, OnboardingApplication
from enrolment.services import ticket_qr_payload
from ra_office import throttle
from ra_office.auth import (
    LAST_ACTIVITY,
    PREAUTH,
    PREAUTH_SECONDS,
    OfficerRequest,
    end_session,
    officer_required,
)
from ra_office.forms import (
    ApplicationForm,
    CancelForm,
    FindPersonForm,
    LoginForm,
    ReviewForm,
    SearchForm,
    SignatureForm,
    TotpForm,
)
from ra_office.labels import FLAGS, REASONS, STATES, error_message
from ra_office.pdf import application_pdf, qr_svg

PK_MAX = 2**63 - 1  # a larger id would overflow PostgreSQL's bigint: a 404, not a 500
PAGE_SIZE = 50
# A multipart body this much larger than the scan limit is refused before it is read.
UPLOAD_OVERHEAD = 64 * 1024


def _ip(request: HttpRequest) -> str | None:
    return client_address(request) or None


def _get_application_for_officer(officer: Officer, pk: int) -> Application:
    if not 0 < pk <= PK_MAX:
        raise Http404
    application = (
        Application.objects.select_related(
            "branch__authority", "created_by__user", "approved_by__user", "ticket__account"
        )
        .filter(pk=pk, branch_id=officer.branch_id)
        .first()
    )
    if application is None:
        raise Http404
    return application


# --- login ----------------------------------------------------------------------------


def _throttled_message(retry_after: int) -> str:
    """The same words for every user name, known or not (``ra_office.throttle``)."""
    if retry_after >= 120:
        return _("Too many failed attempts. Try again in %(minutes)d minutes.") % {
            "minutes": math.ceil(retry_after / 60)
        }
    return _("Too many failed attempts. Try again in %(seconds)d s.") % {"seconds": retry_after}


def _login_limit() -> ratelimit.Limit:
    return ratelimit.Limit("ra_login", settings.LOGINS_PER_ADDRESS_MINUTE, 60)


def _too_many_logins(request: HttpRequest, exc: ratelimit.RateLimited) -> HttpResponse:
    """The login page again, with nothing checked (over the address's login rate)."""
    request.session.pop(PREAUTH, None)
    messages.error(request, _("Too many login attempts from your network. Wait a minute."))
    return render(request, "ra_office/login.html", {"form": LoginForm()})


@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit.per_address(_login_limit, _too_many_logins)
def login_view(request: HttpRequest) -> HttpResponse:
    """Step 1: user name and password. Step 2 (TOTP) follows in ``login_totp``.

    A wrong password and a user name that is nobody's cost the same: one officer query,
    one password hash (Django's backend hashes the password for an unknown name too), one
    audit record, the same answer — and the same throttle, keyed to the typed name and
    the client address.
    """
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        try:
            attempt = throttle.attempt_begin(username=username, address=client_address(request))
        except throttle.Throttled as wait:
            form.add_error(None, _throttled_message(wait.retry_after))
            return render(request, "ra_office/login.html", {"form": form})
        officer = services.officer_by_username(username)
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
        if user is not None and officer is not None and user.pk == officer.user_id:
            throttle.attempt_release(attempt)  # counted again at the TOTP step
            request.session.cycle_key()
            request.session[PREAUTH] = {"user": user.pk, "at": time.time()}
            return redirect("ra_office:login_totp")
        failure = throttle.attempt_failed(attempt)
        services.officer_login_failed(
            officer=officer, step="password", locked=failure.locked, source_ip=_ip(request)
        )
        form.add_error(None, _("Wrong user name or password."))
        if failure.locked:
            form.add_error(None, _throttled_message(failure.retry_after))
    return render(request, "ra_office/login.html", {"form": form})


def _preauth_officer(request: HttpRequest) -> Officer | None:
    state = request.session.get(PREAUTH)
    if not isinstance(state, dict) or time.time() - float(state.get("at", 0)) > PREAUTH_SECONDS:
        return None
    user_pk = state.get("user")
    if not isinstance(user_pk, int):
        return None
    user = get_user_model().objects.filter(pk=user_pk).first()
    return officer_for_user(user) if user is not None else None


def _back_to_password(request: HttpRequest, retry_after: int) -> HttpResponse:
    request.session.pop(PREAUTH, None)
    messages.error(request, _throttled_message(retry_after))
    return redirect("ra_office:login")


@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit.per_address(_login_limit, _too_many_logins)
def login_totp(request: HttpRequest) -> HttpResponse:
    """Step 2: the TOTP code; an officer without a confirmed device enrols one here.

    Wrong codes count in the same throttle as wrong passwords (user name + address); at
    the lock-out the password step starts again.
    """
    officer = _preauth_officer(request)
    if officer is None:
        request.session.pop(PREAUTH, None)
        return redirect("ra_office:login")
    device = services.officer_totp_device(officer=officer, source_ip=_ip(request))
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            attempt = throttle.attempt_begin(
                username=officer.username, address=client_address(request)
            )
        except throttle.Throttled as wait:
            if wait.locked:
                return _back_to_password(request, wait.retry_after)
            form.add_error("token", _throttled_message(wait.retry_after))
        else:
            if services.officer_totp_verify(device=device, token=form.cleaned_data["token"]):
                throttle.attempt_succeeded(attempt)
                services.officer_login_succeeded(
                    officer=officer, device=device, source_ip=_ip(request)
                )
                request.session.pop(PREAUTH, None)
                login(request, officer.user, backend=settings.AUTHENTICATION_BACKENDS[0])
                otp_login(request, device)
                request.session[LAST_ACTIVITY] = time.time()
                return redirect("ra_office:home")
            failure = throttle.attempt_failed(attempt)
            services.officer_login_failed(
                officer=officer, step="totp", locked=failure.locked, source_ip=_ip(request)
            )
            if failure.locked:
                return _back_to_password(request, failure.retry_after)
            form.add_error("token", _("Wrong code. Check your phone's clock and try again."))
    context: dict[str, Any] = {"form": form, "enrol": not device.confirmed}
    if not device.confirmed:
        context["qr"] = qr_svg(device.config_url, scale=4)
        context["secret"] = _base32(device.bin_key)
    return render(request, "ra_office/login_totp.html", context)


def _base32(key: bytes) -> str:
    raw = base64.b32encode(key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    end_session(request, officer_for_user(request.user), "logout")
    messages.success(request, _("You have logged out."))
    return redirect("ra_office:login")


# --- lists ----------------------------------------------------------------------------


@officer_required
@require_GET
def home(request: OfficerRequest) -> HttpResponse:
    """The branch's applications, newest first; search by number, code or name."""
    form = SearchForm(request.GET or None)
    rows = Application.objects.filter(branch_id=request.officer.branch_id).select_related(
        "created_by__user"
    )
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        if query:
            rows = rows.filter(
                Q(number__icontains=query)
                | Q(semantics_identifier__icontains=query)
                | Q(surname__icontains=query)
                | Q(given_name__icontains=query)
            )
        if form.cleaned_data["state"]:
            rows = rows.filter(state=form.cleaned_data["state"])
    return render(
        request,
        "ra_office/home.html",
        {"form": form, "applications": rows[:PAGE_SIZE], "states": STATES},
    )


@officer_required
@require_GET
def approvals(request: OfficerRequest) -> HttpResponse:
    """The supervisor's queue: the branch's flagged applications."""
    if not request.officer.is_supervisor:
        raise PermissionDenied
    rows = Application.objects.filter(
        branch_id=request.officer.branch_id, state=Application.State.AWAITING_APPROVAL
    ).select_related("created_by__user")
    return render(
        request,
        "ra_office/approvals.html",
        {"applications": rows, "flags": FLAGS, "states": STATES},
    )


# --- one application ------------------------------------------------------------------


@officer_required
@require_http_methods(["GET", "POST"])
def application_new(request: OfficerRequest) -> HttpResponse:
    """Find the person by identifier (prefills known data), then create the application."""
    find = FindPersonForm(request.GET or None, prefix="find")
    initial: dict[str, Any] = {}
    found: Person | None = None
    if request.method == "GET" and find.is_valid():
        identifier = find.cleaned_data["semantics_identifier"].strip().upper()
        found = Person.objects.filter(semantics_identifier=identifier).first()
        initial["semantics_identifier"] = identifier
        if found is not None:
            initial.update(
                given_name=found.given_name,
                surname=found.surname,
                date_of_birth=found.date_of_birth,
                email=found.email,
                phone=found.phone,
                document_country=found.country,
            )
    form = ApplicationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_create(
                officer=request.officer, data=form.application_input(), source_ip=_ip(request)
            )
        except ApplicationInvalid as exc:
            form.add_error(exc.field if exc.field in form.fields else None, error_message(exc))
        else:
            messages.success(
                request, _("Application %(number)s created.") % {"number": application.number}
            )
            return redirect("ra_office:application_detail", pk=application.pk)
    return render(
        request,
        "ra_office/application_new.html",
        {"form": form, "find": find, "found": found, "searched": find.is_bound and find.is_valid()},
        status=400 if form.is_bound else 200,
    )


def _history(application: Application) -> list[AuditRecord]:
    return list(
        AuditRecord.objects.filter(
            object_type=services.OBJECT_TYPE, object_id=str(application.pk)
        ).order_by("sequence")
    )


def _detail(
    request: OfficerRequest,
    application: Application,
    *,
    cancel_form: CancelForm | None = None,
    signature_form: SignatureForm | None = None,
    status: int = 200,
) -> HttpResponse:
    officer = request.officer
    result = application.registry_result or {}
    context = {
        "application": application,
        "state_label": STATES.get(application.state, application.state),
        "flags": [FLAGS.get(flag, flag) for flag in application.flags],
        "reasons": [REASONS.get(reason, reason) for reason in result.get("reasons", [])],
        "warnings": result.get("warnings", []),
        "history": _history(application),
        "cancel_form": cancel_form or CancelForm(),
        "signature_form": signature_form or SignatureForm(),
        "can_approve": (
            application.state == Application.State.AWAITING_APPROVAL
            and officer.is_supervisor
            and application.created_by_id != officer.pk
        ),
        "can_cancel": application.state != Application.State.CANCELLED
        and not (application.ticket is not None and application.ticket.used_at is not None),
        "max_scan_mb": settings.RA_MAX_SCAN_BYTES // (1024 * 1024),
        "S": Application.State,
    }
    return render(request, "ra_office/application_detail.html", context, status=status)


@officer_required
@require_GET
def application_detail(request: OfficerRequest, pk: int) -> HttpResponse:
    return _detail(request, _get_application_for_officer(request.officer, pk))


def _step(request: OfficerRequest, pk: int, step: Any, success: str) -> HttpResponse:
    """Run one service step on the officer's application; errors come back as messages."""
    application = _get_application_for_officer(request.officer, pk)
    try:
        step(application=application, officer=request.officer, source_ip=_ip(request))
    except services.NotSupervisor:
        raise PermissionDenied from None
    except services.NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, success)
    return redirect("ra_office:application_detail", pk=application.pk)


@officer_required
@require_POST
def application_registry_check(request: OfficerRequest, pk: int) -> HttpResponse:
    return _step(request, pk, services.application_registry_check, _("The registry check is done."))


@officer_required
@require_POST
def application_approve(request: OfficerRequest, pk: int) -> HttpResponse:
    return _step(request, pk, services.application_approve, _("Application approved."))


@officer_required
@require_POST
def application_print(request: OfficerRequest, pk: int) -> HttpResponse:
    return _step(
        request,
        pk,
        services.application_print,
        _("The paper is ready: download the PDF, print it and let the customer sign it."),
    )


@officer_required
@require_GET
def application_pdf_view(request: OfficerRequest, pk: int) -> HttpResponse:
    """The paper to print (while it waits for the signature)."""
    application = _get_application_for_officer(request.officer, pk)
    if application.state != Application.State.PAPER_PRINTED:
        raise Http404
    try:
        code = services.application_ticket_code(
            application, viewer=request.officer, shown_on="pdf", source_ip=_ip(request)
        )
    except DomainError as exc:
        messages.error(request, error_message(exc))
        return redirect("ra_office:application_detail", pk=application.pk)
    response = HttpResponse(application_pdf(application, code), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{application.number}.pdf"'
    return response


@officer_required
@require_POST
def application_confirm_signature(request: OfficerRequest, pk: int) -> HttpResponse:
    application = _get_application_for_officer(request.officer, pk)
    limit = settings.RA_MAX_SCAN_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + UPLOAD_OVERHEAD:
        # Refused before Django reads (and spools to disk) the body.
        form = SignatureForm(data={"received": "on"})
        form.is_valid()
        form.add_error("scan", error_message(ApplicationInvalid("", code="scan_too_large")))
        return _detail(request, application, signature_form=form, status=413)
    form = SignatureForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["scan"]
        scan = None
        if upload is not None:
            if upload.size is not None and upload.size > limit:
                form.add_error("scan", error_message(ApplicationInvalid("", code="scan_too_large")))
                return _detail(request, application, signature_form=form, status=400)
            scan = upload.read(limit + 1)
        try:
            services.application_confirm_signature(
                application=application, officer=request.officer, source_ip=_ip(request), scan=scan
            )
        except ApplicationInvalid as exc:
            form.add_error("scan", error_message(exc))
        except DomainError as exc:
            messages.error(request, error_message(exc))
            return redirect("ra_office:application_detail", pk=application.pk)
        else:
            messages.success(request, _("Signed paper received. You can release the ticket."))
            return redirect("ra_office:application_detail", pk=application.pk)
    return _detail(request, application, signature_form=form, status=400)


@officer_required
@require_POST
def application_release(request: OfficerRequest, pk: int) -> HttpResponse:
    application = _get_application_for_officer(request.officer, pk)
    try:
        services.application_release_ticket(
            application=application, officer=request.officer, source_ip=_ip(request)
        )
    except DomainError as exc:
        messages.error(request, error_message(exc))
        return redirect("ra_office:application_detail", pk=application.pk)
    return redirect("ra_office:application_ticket", pk=application.pk)


@officer_required
@require_GET
def application_ticket(request: OfficerRequest, pk: int) -> HttpResponse:
    """The released ticket as a QR code and a short code, while it can still be used."""
    application = _get_application_for_officer(request.officer, pk)
    ticket = application.ticket
    if application.state != Application.State.TICKET_RELEASED or ticket is None:
        raise Http404
    context: dict[str, Any] = {"application": application, "ticket": ticket}
    usable = ticket.used_at is None and ticket.expires_at > timezone.now()
    if usable:
        try:
            code = services.application_ticket_code(
                application, viewer=request.officer, shown_on="screen", source_ip=_ip(request)
            )
        except DomainError as exc:
            messages.error(request, error_message(exc))
            return redirect("ra_office:application_detail", pk=application.pk)
        context.update(code=code, qr=qr_svg(ticket_qr_payload(code), scale=6))
    return render(request, "ra_office/ticket.html", context)


@officer_required
@require_POST
def application_cancel(request: OfficerRequest, pk: int) -> HttpResponse:
    application = _get_application_for_officer(request.officer, pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.application_cancel(
                application=application,
                officer=request.officer,
                reason=form.cleaned_data["reason"],
                source_ip=_ip(request),
            )
        except ApplicationInvalid as exc:
            form.add_error("reason", error_message(exc))
        except DomainError as exc:
            messages.error(request, error_message(exc))
            return redirect("ra_office:application_detail", pk=application.pk)
        else:
            messages.success(request, _("Application cancelled."))
            return redirect("ra_office:application_detail", pk=application.pk)
    return _detail(request, application, cancel_form=form, status=400)


# --- remote onboarding: the manual review queue ------------------------------------------


def _get_review_for_supervisor(request: OfficerRequest, pk: Any) -> OnboardingApplication:
    """Supervisors only (403 for officers); an application not under review is a 404."""
    if not request.officer.is_supervisor:
        raise PermissionDenied
    application = OnboardingApplication.objects.filter(
        pk=pk, state=OnboardingApplication.State.REVIEW
    ).first()
    if application is None:
        raise Http404
    return application


@officer_required
@require_GET
def reviews(request: OfficerRequest) -> HttpResponse:
    """Remote applications whose automated checks were borderline (docs/onboarding.md)."""
    if not request.officer.is_supervisor:
        raise PermissionDenied
    return render(request, "ra_office/reviews.html", {"applications": onboarding.review_queue()})


def _review_page(
    request: OfficerRequest, application: OnboardingApplication, form: ReviewForm, status: int
) -> HttpResponse:
    images = onboarding.review_images(application)

    def data_uri(jpeg: bytes) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")

    # Biometric images: officer_required marks the response no-store, as every RA page.
    return render(
        request,
        "ra_office/review_detail.html",
        {
            "application": application,
            "form": form,
            "portrait": data_uri(images.portrait) if images.portrait else None,
            "frames": [data_uri(f) for f in images.frames],
            "threshold": settings.FACE_MATCH_THRESHOLD,
        },
        status=status,
    )


@officer_required
@require_GET
def review_detail(request: OfficerRequest, pk: Any) -> HttpResponse:
    application = _get_review_for_supervisor(request, pk)
    return _review_page(request, application, ReviewForm(), 200)


@officer_required
@require_POST
def review_decide(request: OfficerRequest, pk: Any) -> HttpResponse:
    application = _get_review_for_supervisor(request, pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _review_page(request, application, form, 400)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        onboarding.onboarding_review_decide(
            application_id=application.pk,
            approve=approve,
            reviewer=f"officer:{request.officer.username}",
            note=form.cleaned_data["note"],
            source_ip=_ip(request),
        )
    except DomainError as exc:  # decided by another supervisor a moment earlier, or the
        # code could not be sent: nothing was recorded
        messages.error(request, error_message(exc))
        return redirect("ra_office:reviews")
    messages.success(request, _("Application approved.") if approve else _("Application rejected."))
    return redirect("ra_office:reviews")
