"""HTML to PDF with WeasyPrint, sealed off from the network and the file system.

The URL fetcher allows ``data:`` URLs only, so a template (or a value placed in it) can
never make the renderer fetch anything. Fonts are DejaVu (Debian's fonts-dejavu-core), which
cover õ, ä, ö, ü, š, ž.
"""

from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html`` (A4 and the rest come from the document's own CSS)."""
    # Imported here: WeasyPrint parses its stylesheets at import (about a second, and INFO
    # log lines), which every process that loads the URLs would otherwise pay.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf
