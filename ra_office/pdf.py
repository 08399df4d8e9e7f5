"""The application paper: applicant, document, officer, terms and the ticket, as a PDF.

Rendered by WeasyPrint (core.pdf: no network, no files) from an HTML template with the
DejaVu fonts (õ, ä, ö, ü, š, ž). The QR code is inline SVG (segno).
"""

from __future__ import annotations

import logging
import time

import segno
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from core.pdf import html_to_pdf
from enrolment.models import Application
from enrolment.services import ticket_qr_payload
from ra_office.labels import DOCUMENT_TYPES, LEVELS

logger = logging.getLogger(__name__)


def qr_svg(payload: str, scale: int = 4) -> str:
    """An inline SVG QR code (medium error correction: it survives a printer's smudge)."""
    return str(segno.make(payload, error="m", micro=False).svg_inline(scale=scale, border=2))


def application_pdf(application: Application, code: str) -> bytes:
    """The paper the customer signs; ``code`` is the application's (held) ticket code."""
    started = time.monotonic()
    html = render_to_string(
        "ra_office/application_pdf.html",
        {
            "application": application,
            "officer": application.created_by,
            "branch": application.branch,
            "document_type": DOCUMENT_TYPES.get(application.document_type, ""),
            "level": LEVELS.get(application.level, ""),
            "code": code,
            "qr": mark_safe(qr_svg(ticket_qr_payload(code))),  # noqa: S308 -- segno's own SVG
            "printed_at": timezone.localtime(),
        },
    )
    pdf = html_to_pdf(html)
    # The one line per paper (WeasyPrint's own INFO lines are off in settings.LOGGING).
    logger.info(
        "application paper %s: %d bytes in %.1f s",
        application.number,
        len(pdf),
        time.monotonic() - started,
    )
    return pdf
