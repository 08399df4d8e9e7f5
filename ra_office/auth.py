"""Who may use the RA office: officers with a password, a TOTP code and a live session.

A view decorated with :func:`officer_required` gets ``request.officer``. Anonymous users
and half-logged-in ones (password but no TOTP yet) go to the login page; a logged-in user
without an officer profile (an administrator) gets 403; a session idle for longer than
``RA_IDLE_TIMEOUT_SECONDS`` ends. django-otp's middleware is not installed project-wide,
so the TOTP device recorded at login is checked here instead. Every response of such a
view says ``Cache-Control: no-store`` (with Django's other never-cache headers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from core.net import client_address
from enrolment.applications import officer_for_user, officer_logged_out
from enrolment.models import Officer

LAST_ACTIVITY = "ra_last_activity"
PREAUTH = "ra_preauth"  # {"user": pk, "at": epoch seconds}: the password was right
PREAUTH_SECONDS = 300  # time for the TOTP step after the password

View = TypeVar("View", bound=Callable[..., HttpResponse])


class OfficerRequest(HttpRequest):
    """A request that passed :func:`officer_required` (for type checkers)."""

    officer: Officer


def _verified(request: HttpRequest, officer: Officer) -> bool:
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    if not isinstance(persistent_id, str):
        return False
    device = Device.from_persistent_id(persistent_id)
    return bool(device is not None and device.user_id == officer.user_id and device.confirmed)


def end_session(request: HttpRequest, officer: Officer | None, reason: str) -> None:
    if officer is not None:
        officer_logged_out(officer=officer, reason=reason, source_ip=client_address(request))
    logout(request)  # flushes the session, OTP device and RA keys included


def officer_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("ra_office:login")
        officer = officer_for_user(request.user)
        if officer is None:
            raise PermissionDenied  # a user, but not an officer: the admin is elsewhere
        if not _verified(request, officer):
            return redirect("ra_office:login")
        now = time.time()
        last = request.session.get(LAST_ACTIVITY)
        if not isinstance(last, int | float) or now - last > settings.RA_IDLE_TIMEOUT_SECONDS:
            end_session(request, officer, "idle timeout")
            minutes = settings.RA_IDLE_TIMEOUT_SECONDS // 60
            messages.warning(
                request,
                _("Your session ended after %(minutes)d idle minutes.") % {"minutes": minutes},
            )
            return redirect("ra_office:login")
        request.session[LAST_ACTIVITY] = now
        cast(OfficerRequest, request).officer = officer
        response = view(request, *args, **kwargs)
        # Every page behind the login shows personal data: no browser or proxy keeps it.
        add_never_cache_headers(response)
        return response

    return cast(View, wrapper)
