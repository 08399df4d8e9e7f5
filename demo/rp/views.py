"""The demo RP's pages: log in with Smart-ID, sign a PDF.

Every view is asynchronous and reaches the platform through ``AsyncSmartIdClient``:
under ASGI, Django runs synchronous views in one shared thread, and a synchronous view
that called back into this same server would wait for a thread that it holds itself.
Blocking work (the SDK's validator, which asks the OCSP responder with a synchronous
client) runs in a worker thread of its own (``asyncio.to_thread``).

What a login or a signing keeps between requests lives in the visitor's web session,
server side: the SDK's :class:`~smartid_client.Session` (with the ``sessionSecret``,
which never reaches the browser), the progress, the names of the stored files. The
pages poll JSON endpoints; their answers are ``{"state": "RUNNING" | "DONE" | "FAILED",
"message", "redirect", "vc"}``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from typing import Any

import smartid_client as sc
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

from demo.rp import eid, pdf, storage, tsa
from demo.rp.forms import MAX_PDF_BYTES, PersonalCodeForm, UploadForm, too_large

logger = logging.getLogger(__name__)

LOGIN = "demo_rp.login"
PERSON = "demo_rp.person"
SIGN = "demo_rp.sign"
#: The app's language for the device links, by page language (ISO 639-2).
LINK_LANGUAGES = {"et": "est", "en": "eng"}
#: What a multipart upload may add to the file (boundaries, headers, the CSRF token).
UPLOAD_OVERHEAD = 64 * 1024
#: How long the callback view waits for the session's answer (seconds).
CALLBACK_WAIT_SECONDS = 30.0


def _login_text() -> list[sc.Interaction]:
    return [
        sc.Interaction.confirmation_message(_("Log in to the demo e-service?")),
        sc.Interaction.display_text_and_pin(_("Log in to the demo e-service?")),
    ]


def _sign_text(filename: str) -> list[sc.Interaction]:
    return [
        sc.Interaction.confirmation_message(
            _("Sign the document %(name)s at the demo e-service?") % {"name": filename[:100]}
        ),
        sc.Interaction.display_text_and_pin(_("Sign the document?")),
    ]


def _lang(request: HttpRequest) -> str:
    return LINK_LANGUAGES.get(getattr(request, "LANGUAGE_CODE", "en"), "eng")


def _callback_base(request: HttpRequest) -> str:
    """The https:// address of the callback view. The RP API takes only https:// callback
    URLs (docs/rp-integration.md §13.3); ``make demo`` serves plain HTTP on 127.0.0.1, so
    there a phone's browser needs a TLS proxy in front to follow it."""
    site = settings.SITE_URL
    if site.startswith("http://"):
        site = "https://" + site.removeprefix("http://")
    return site + reverse("demo:rp:callback")


def _json(state: str, status: int = 200, **extra: Any) -> JsonResponse:
    response = JsonResponse({"state": state, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _failed(message: str, status: int = 200, **extra: Any) -> JsonResponse:
    return _json("FAILED", status, message=message, **extra)


def _session_of(data: Any) -> sc.Session | None:
    if not isinstance(data, dict):
        return None
    try:
        return sc.Session.from_dict(data)
    except (TypeError, ValueError, KeyError):
        return None


async def _validate(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a validator method in a thread of its own (it blocks on OCSP)."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def _person(request: HttpRequest) -> dict[str, Any] | None:
    person = await request.session.aget(PERSON)
    return person if isinstance(person, dict) else None


async def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context.setdefault("person", await _person(request))
    return render(request, template, context, status=status)


# --- home, welcome, logout ---------------------------------------------------------------


@require_GET
async def home(request: HttpRequest) -> HttpResponse:
    return await _page(request, "demo_rp/home.html", {})


@require_GET
@never_cache
async def welcome(request: HttpRequest) -> HttpResponse:
    person = await _person(request)
    if person is None:
        return HttpResponseRedirect(reverse("demo:rp:login"))
    return await _page(request, "demo_rp/welcome.html", {"person": person})


@require_POST
async def logout(request: HttpRequest) -> HttpResponse:
    await request.session.aflush()
    return HttpResponseRedirect(reverse("demo:rp:home"))


# --- login -------------------------------------------------------------------------------


@require_GET
@never_cache
async def login(request: HttpRequest) -> HttpResponse:
    """The login page: a QR code and a same-device link of one new device-link session,
    and the personal-code form (notification)."""
    try:
        async with eid.client() as client:
            session = await client.authentication_device_link(
                _login_text(), initial_callback_url=sc.new_callback_url(_callback_base(request))
            )
    except sc.SmartIdError as exc:
        logger.warning("demo RP: cannot start a login: %r", exc)
        return await _page(
            request,
            "demo_rp/failed.html",
            {"message": eid.failure_message(exc), "retry": reverse("demo:rp:login")},
            status=502,
        )
    await request.session.aset(LOGIN, {"session": session.to_dict(), "flow": "device-link"})
    lang = _lang(request)
    link = session.qr_link(lang=lang)
    return await _page(
        request,
        "demo_rp/login.html",
        {
            "form": PersonalCodeForm(),
            "qr_src": sc.qr_svg_data_uri(link),
            "qr_link": link,
            "web2app_link": session.web2app_link(lang=lang),
        },
    )


@require_POST
async def login_notification(request: HttpRequest) -> HttpResponse:
    form = PersonalCodeForm(request.POST)
    if not form.is_valid():
        return await _page(request, "demo_rp/login_code.html", {"form": form}, status=400)
    try:
        async with eid.client() as client:
            session = await client.authentication_notification(
                _login_text(), semantics_identifier=form.semantics_identifier
            )
    except sc.SmartIdError as exc:
        form.add_error(None, eid.failure_message(exc))
        return await _page(request, "demo_rp/login_code.html", {"form": form}, status=400)
    await request.session.aset(LOGIN, {"session": session.to_dict(), "flow": "notification"})
    return HttpResponseRedirect(reverse("demo:rp:login-wait"))


@require_GET
@never_cache
async def login_wait(request: HttpRequest) -> HttpResponse:
    state = await request.session.aget(LOGIN)
    session = _session_of(state.get("session")) if isinstance(state, dict) else None
    if session is None or session.is_device_link:
        return HttpResponseRedirect(reverse("demo:rp:login"))
    return await _page(request, "demo_rp/login_wait.html", {"vc": session.verification_code})


@require_GET
@never_cache
async def login_qr(request: HttpRequest) -> JsonResponse:
    """The QR code for this second (the link is computed here, with the secret)."""
    state = await request.session.aget(LOGIN)
    session = _session_of(state.get("session")) if isinstance(state, dict) else None
    if session is None or not session.is_device_link:
        return _failed(_("No login is in progress."), 404)
    link = session.qr_link(lang=_lang(request))
    return _json("RUNNING", src=sc.qr_svg_data_uri(link), link=link)


async def _logged_in(request: HttpRequest, login: sc.AuthenticationResult) -> str:
    await request.session.apop(LOGIN, None)
    await request.session.acycle_key()  # a new session key at the change of privilege
    await request.session.aset(PERSON, eid.identity_dict(login.identity, login.certificate_level))
    return reverse("demo:rp:welcome")


@require_POST
@never_cache
async def login_status(request: HttpRequest) -> JsonResponse:
    """One short poll of the login session; logs in on a validated OK."""
    state = await request.session.aget(LOGIN)
    session = _session_of(state.get("session")) if isinstance(state, dict) else None
    if session is None:
        return _failed(_("No login is in progress."), 404, retry=reverse("demo:rp:login"))
    try:
        async with eid.client() as client:
            status = await client.session_status(session, timeout_ms=eid.POLL_MS)
        if not status.complete:
            return _json("RUNNING", vc=session.verification_code)
        if (
            status.end_result == "OK"
            and status.signature is not None
            and status.signature.flow_type in (sc.FlowType.WEB2APP, sc.FlowType.APP2APP)
        ):
            # Only the callback, in the browser the app opened, may complete this one.
            return _json("RUNNING", message=_("Continue in the browser the app opened."))
        validator = await eid.validator()
        result = await _validate(validator.authentication, session, status)
    except sc.SmartIdError as exc:
        await request.session.apop(LOGIN, None)
        if not isinstance(exc, sc.EndResultError):
            logger.warning("demo RP: login failed: %r", exc)
        return _failed(eid.failure_message(exc), retry=reverse("demo:rp:login"))
    return _json("DONE", redirect=await _logged_in(request, result))


@require_GET
@never_cache
async def callback(request: HttpRequest) -> HttpResponse:
    """Where the app sends the browser back after a same-device (Web2App) login."""
    state = await request.session.apop(LOGIN, None)  # each callback URL is accepted once
    session = _session_of(state.get("session")) if isinstance(state, dict) else None
    retry = reverse("demo:rp:login")
    if session is None or session.initial_callback_url is None:
        return await _page(
            request,
            "demo_rp/failed.html",
            {
                "message": _("This login link is not from this browser, or it was used already."),
                "retry": retry,
            },
            status=400,
        )
    try:
        opened = sc.verify_callback(session, request.build_absolute_uri())
    except sc.CallbackError:
        return await _page(
            request,
            "demo_rp/failed.html",
            {
                "message": _("This login link is not from this browser, or it was used already."),
                "retry": retry,
            },
            status=400,
        )
    try:
        async with eid.client() as client:
            status = await client.wait(session, deadline_seconds=CALLBACK_WAIT_SECONDS)
        validator = await eid.validator()
        result = await _validate(validator.authentication, session, status, callback=opened)
    except sc.SmartIdError as exc:
        if not isinstance(exc, sc.EndResultError):
            logger.warning("demo RP: same-device login failed: %r", exc)
        return await _page(
            request,
            "demo_rp/failed.html",
            {"message": eid.failure_message(exc), "retry": retry},
            status=400 if isinstance(exc, sc.ValidationError) else 200,
        )
    return HttpResponseRedirect(await _logged_in(request, result))


# --- signing ----------------------------------------------------------------------------


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


async def _sign_state(request: HttpRequest) -> dict[str, Any] | None:
    state = await request.session.aget(SIGN)
    return dict(state) if isinstance(state, dict) else None


async def _sign_forget(request: HttpRequest, state: dict[str, Any] | None) -> None:
    if state is not None:
        storage.remove(state.get("file"), state.get("prepared_file"), state.get("signed_file"))
    await request.session.apop(SIGN, None)


@require_http_methods(["GET", "POST"])
@never_cache
async def sign(request: HttpRequest) -> HttpResponse:
    """Upload a PDF: refused (form error, nothing stored) unless it is a readable,
    unencrypted PDF within the size limit."""
    await asyncio.to_thread(storage.prune)
    if request.method == "GET":
        return await _page(request, "demo_rp/sign.html", {"form": UploadForm()})
    if _content_length(request) > MAX_PDF_BYTES + UPLOAD_OVERHEAD:
        # Refused before the body is parsed: a huge upload never reaches a temporary file.
        context = {"form": UploadForm(), "upload_error": too_large().message}
        return await _page(request, "demo_rp/sign.html", context, status=400)
    form = UploadForm(request.POST, request.FILES)
    valid = await asyncio.to_thread(form.is_valid)
    if not valid:
        return await _page(request, "demo_rp/sign.html", {"form": form}, status=400)
    await _sign_forget(request, await _sign_state(request))
    name = await asyncio.to_thread(storage.save, form.data_bytes)
    upload = form.cleaned_data["document"]
    filename = str(upload.name or "document.pdf").rsplit("/", 1)[-1][:120]
    await request.session.aset(SIGN, {"file": name, "filename": filename, "phase": "choose"})
    return HttpResponseRedirect(reverse("demo:rp:sign-signer"))


@require_GET
@never_cache
async def sign_signer(request: HttpRequest) -> HttpResponse:
    state = await _sign_state(request)
    if state is None:
        return HttpResponseRedirect(reverse("demo:rp:sign"))
    return await _page(
        request,
        "demo_rp/sign_signer.html",
        {"form": PersonalCodeForm(), "filename": state["filename"]},
    )


async def _start_choice(
    request: HttpRequest, state: dict[str, Any], *, semantics_identifier: str | None
) -> sc.Session:
    async with eid.client() as client:
        if semantics_identifier is None:
            choice = await client.certificate_choice_device_link()
        else:
            choice = await client.certificate_choice_notification(semantics_identifier)
    storage.remove(state.get("prepared_file"), state.get("signed_file"))
    state.update(
        phase="choice",
        flow="notification" if semantics_identifier else "device-link",
        choice=choice.to_dict(),
        prepared_file=None,
        signed_file=None,
        signature=None,
    )
    await request.session.aset(SIGN, state)
    return choice


@require_POST
async def sign_notification(request: HttpRequest) -> HttpResponse:
    state = await _sign_state(request)
    if state is None:
        return HttpResponseRedirect(reverse("demo:rp:sign"))
    form = PersonalCodeForm(request.POST)
    if form.is_valid():
        try:
            await _start_choice(request, state, semantics_identifier=form.semantics_identifier)
        except sc.SmartIdError as exc:
            form.add_error(None, eid.failure_message(exc))
        else:
            return HttpResponseRedirect(reverse("demo:rp:sign-wait"))
    return await _page(
        request,
        "demo_rp/sign_signer.html",
        {"form": form, "filename": state["filename"]},
        status=400,
    )


@require_POST
async def sign_device_link(request: HttpRequest) -> HttpResponse:
    state = await _sign_state(request)
    if state is None:
        return HttpResponseRedirect(reverse("demo:rp:sign"))
    try:
        await _start_choice(request, state, semantics_identifier=None)
    except sc.SmartIdError as exc:
        return await _page(
            request,
            "demo_rp/failed.html",
            {"message": eid.failure_message(exc), "retry": reverse("demo:rp:sign-signer")},
            status=502,
        )
    return HttpResponseRedirect(reverse("demo:rp:sign-wait"))


@require_GET
@never_cache
async def sign_wait(request: HttpRequest) -> HttpResponse:
    state = await _sign_state(request)
    if state is None or state.get("phase") not in ("choice", "signature"):
        return HttpResponseRedirect(reverse("demo:rp:sign"))
    context: dict[str, Any] = {"filename": state["filename"], "vc": state.get("vc")}
    choice = _session_of(state.get("choice"))
    if state["phase"] == "choice" and choice is not None and choice.is_device_link:
        link = choice.qr_link(lang=_lang(request))
        context.update(qr_src=sc.qr_svg_data_uri(link), qr_link=link)
    return await _page(request, "demo_rp/sign_wait.html", context)


@require_GET
@never_cache
async def sign_qr(request: HttpRequest) -> JsonResponse:
    state = await _sign_state(request)
    choice = _session_of(state.get("choice")) if state else None
    if (
        state is None
        or state.get("phase") != "choice"
        or choice is None
        or not choice.is_device_link
    ):
        return _failed(_("No signing is waiting for a QR code."), 404)
    link = choice.qr_link(lang=_lang(request))
    return _json("RUNNING", src=sc.qr_svg_data_uri(link), link=link)


def _der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _cert_of(text: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(text))


async def _chosen(
    state: dict[str, Any], choice: sc.Session, status: sc.SessionStatus
) -> sc.Session:
    """The certificate is known: prepare the PDF for it and start the signature."""
    validator = await eid.validator()
    chosen: sc.CertificateChoiceResult = await _validate(
        validator.certificate_choice, choice, status
    )
    store = await eid.trust_store()
    chain = store.chain_for(chosen.certificate)
    identity = chosen.identity
    data = await asyncio.to_thread(storage.load, state["file"])
    prepared_pdf, prepared = await pdf.prepare(
        data,
        chosen.certificate,
        chain,
        reason=_("Signed with Smart-ID at the demo e-service"),
        name=f"{identity.given_name} {identity.surname}",
    )
    prepared_file = await asyncio.to_thread(storage.save, prepared_pdf)
    interactions = _sign_text(state["filename"])
    async with eid.client() as client:
        if choice.is_device_link:
            signature = await client.signature_linked(
                chosen.document_number,
                choice,
                prepared.digest_to_sign,
                interactions[1:],  # a linked signature: no code, the PIN screen
                signature_algorithm=sc.SignatureAlgorithm.SHA256_WITH_RSA,
            )
        else:
            signature = await client.signature_notification(
                prepared.digest_to_sign,
                interactions,
                document_number=chosen.document_number,
                signature_algorithm=sc.SignatureAlgorithm.SHA256_WITH_RSA,
            )
    state.update(
        phase="signature",
        signature=signature.to_dict(),
        prepared=prepared.to_dict(),
        prepared_file=prepared_file,
        cert=_der_b64(chosen.certificate),
        vc=signature.verification_code,
    )
    return signature


async def _signed(state: dict[str, Any], session: sc.Session, status: sc.SessionStatus) -> None:
    """The signature is there: embed it (B-B), time-stamp it (B-T), add the DSS (B-LT)."""
    validator = await eid.validator()
    result: sc.SignatureResult = await _validate(validator.signature, session, status)
    cert = _cert_of(state["cert"])
    if result.certificate != cert:
        raise sc.ResponseMismatchError("the signature is by another certificate than chosen")
    store = await eid.trust_store()
    chain = store.chain_for(cert)
    demo_tsa = await asyncio.to_thread(tsa.demo_tsa)
    prepared_pdf = await asyncio.to_thread(storage.load, state["prepared_file"])

    def asn1(c: x509.Certificate) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

    async with AIOHttpFetcherBackend() as fetchers:
        context = ValidationContext(
            trust_roots=[asn1(store.root), asn1(demo_tsa.ca)],
            other_certs=[asn1(c) for c in store.issuing],
            allow_fetching=True,
            fetchers=fetchers,
            revocation_mode="soft-fail",
        )
        signed_pdf = await pdf.finish(
            prepared_pdf,
            pdf.Prepared.from_dict(state["prepared"]),
            signature=result.value,
            cert=cert,
            chain=chain,
            timestamper=demo_tsa.timestamper(),
            validation_context=context,
        )
    signed_file = await asyncio.to_thread(storage.save, signed_pdf)
    storage.remove(state.get("prepared_file"))
    state.update(
        phase="done",
        signed_file=signed_file,
        prepared_file=None,
        signer=eid.identity_dict(result.identity, result.certificate_level),
    )


@require_POST
@never_cache
async def sign_status(request: HttpRequest) -> JsonResponse:
    """One short poll of the signing: the certificate choice, then the signature."""
    state = await _sign_state(request)
    retry = reverse("demo:rp:sign-signer")
    if state is None or state.get("phase") not in ("choice", "signature", "done"):
        return _failed(_("No signing is in progress."), 404, retry=reverse("demo:rp:sign"))
    if state["phase"] == "done":
        return _json("DONE", redirect=reverse("demo:rp:sign-done"))
    try:
        phase = state["phase"]
        session = _session_of(state.get(phase if phase == "choice" else "signature"))
        if session is None:
            return _failed(_("No signing is in progress."), 404, retry=reverse("demo:rp:sign"))
        async with eid.client() as client:
            status = await client.session_status(session, timeout_ms=eid.POLL_MS)
        if not status.complete:
            return _json("RUNNING", vc=state.get("vc"))
        if phase == "choice":
            signature = await _chosen(state, session, status)
            await request.session.aset(SIGN, state)
            return _json(
                "RUNNING",
                vc=signature.verification_code,
                message=_("Confirm the signature in the Smart-ID app."),
                qr=False,
            )
        await _signed(state, session, status)
        await request.session.aset(SIGN, state)
        return _json("DONE", redirect=reverse("demo:rp:sign-done"))
    except (sc.SmartIdError, FileNotFoundError) as exc:
        storage.remove(state.get("prepared_file"))
        state.update(phase="choose", prepared_file=None, vc=None)
        await request.session.aset(SIGN, state)
        if isinstance(exc, FileNotFoundError):
            return _failed(
                _("The document has expired; upload it again."), retry=reverse("demo:rp:sign")
            )
        if not isinstance(exc, sc.EndResultError):
            logger.warning("demo RP: signing failed: %r", exc)
        return _failed(eid.failure_message(exc), retry=retry)


@require_GET
@never_cache
async def sign_done(request: HttpRequest) -> HttpResponse:
    state = await _sign_state(request)
    if state is None or state.get("phase") != "done":
        return HttpResponseRedirect(reverse("demo:rp:sign"))
    return await _page(
        request,
        "demo_rp/sign_done.html",
        {"filename": state["filename"], "signer": state["signer"]},
    )


@require_GET
@never_cache
async def sign_download(request: HttpRequest) -> HttpResponseBase:
    """The signed PDF, once: the download removes it and the upload."""
    state = await _sign_state(request)
    if state is None or state.get("phase") != "done":
        return await _page(
            request,
            "demo_rp/failed.html",
            {
                "message": _("There is no signed document to download."),
                "retry": reverse("demo:rp:sign"),
            },
            status=404,
        )
    try:
        data = await asyncio.to_thread(storage.load, state["signed_file"])
    except FileNotFoundError:
        await _sign_forget(request, state)
        return await _page(
            request,
            "demo_rp/failed.html",
            {
                "message": _("The document has expired; upload it again."),
                "retry": reverse("demo:rp:sign"),
            },
            status=404,
        )
    await _sign_forget(request, state)
    stem = state["filename"].removesuffix(".pdf").removesuffix(".PDF") or "document"
    return FileResponse(
        io.BytesIO(data),
        as_attachment=True,
        filename=f"{stem}-signed.pdf",
        content_type="application/pdf",
    )


@require_GET
async def tsa_certificate(request: HttpRequest) -> HttpResponse:
    """The demo TSA's CA certificate (DER): trust it to validate the time-stamps."""
    demo_tsa = await asyncio.to_thread(tsa.demo_tsa)
    return HttpResponse(
        demo_tsa.ca.public_bytes(serialization.Encoding.DER),
        content_type="application/pkix-cert",
    )
