"""Documents as PDF: an HTML template rendered by WeasyPrint (a maintained HTML-to-PDF library).

WeasyPrint lays out with the system's Pango; where Pango is missing, `render_pdf` raises
PdfUnavailable with what to install, and pages offer printing from the browser instead (every
document Careway makes as PDF is also a print-styled page).
"""

from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot run here (its system libraries are missing)."""


@cache
def _weasyprint() -> Any:
    try:
        import weasyprint
    except OSError as error:  # Pango, cairo or their fonts are not installed
        raise PdfUnavailable(
            "PDF needs WeasyPrint's system libraries (on Debian: apt-get install "
            f"libpango-1.0-0 libpangoft2-1.0-0); print from the browser instead. ({error})"
        ) from error
    return weasyprint


@cache
def _offline_fetcher_class() -> Any:
    """A WeasyPrint URL fetcher that serves "static:" from the finders and refuses the network:
    a PDF is made offline. WeasyPrint 70 (the pinned version) takes a `URLFetcher` whose `fetch`
    answers a `URLFetcherResponse`; a plain function answering a dict no longer works. One
    fetcher a document: a fetcher keeps the request it is opening."""
    from mimetypes import guess_type

    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class OfflineFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("static:"):
                found = finders.find(url.removeprefix("static:").lstrip("/"))
                if isinstance(found, str):
                    with open(found, "rb") as file:
                        body = file.read()
                    kind = guess_type(found)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, body, {"Content-Type": kind})
            if url.startswith("data:"):
                return super().fetch(url, headers)
            # Nothing from the network, nor any other file of the server: only our own static
            # files go into a document (the templates link nothing else).
            raise ValueError(f"A PDF fetches nothing but Careway's static files: {url}")

    return OfflineFetcher


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """The template rendered to PDF bytes. Stylesheets are linked as "static:careway/x.css"."""
    weasyprint = _weasyprint()
    html = render_to_string(template, context)
    document = weasyprint.HTML(
        string=html, url_fetcher=_offline_fetcher_class()(), base_url=str(settings.BASE_DIR)
    )
    return document.write_pdf()


def pdf_text(data: bytes) -> str:
    """The text of a PDF, every page, as a reader would extract it (pypdf)."""
    from io import BytesIO

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(BytesIO(data)).pages)
