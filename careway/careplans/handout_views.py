"""The agency's teaching handouts: every handout it gives (Careway's and its own) with both
languages, one handout as the patient reads it in English or Spanish with its sources and
versions, and the editor.

Everyone who reads charts may read them (a nurse reads what she hands over); the agency's admins
and supervisors (careplans.templates) copy, write, edit, retire and restore them. The pages are
the agency's content pages (careway/careplans/agency_content_views.py): a refused write is 403
and audited; anyone else, and another agency's people asking for this agency's own handout, get
404. Each change is a new version; a save over someone else's is a conflict that keeps what was
typed.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from careway.toolkit.pages import agency_page

from . import handout_queries
from .agency_content_views import ContentPages
from .handout_forms import SKELETON, HandoutForm
from .handouts import ENGLISH, LANGUAGE_NAMES, LANGUAGES

PAGES = ContentPages(
    entry_type=handout_queries.HandoutEntry,
    form=HandoutForm,
    skeleton=SKELETON,
    url="careplans:handout",
    folder="careplans/handouts",
    list_title="Teaching handouts",
    new_title="New teaching handout",
    in_use_verb="gives",
)


@agency_page
@require_GET
def handout_list(request: HttpRequest) -> HttpResponse:
    return PAGES.list(request)


@agency_page
@require_GET
def handout_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The handout given (or the agency's retired one) as the patient reads it, in the language
    of ?lang= (English by default); with ?version= one of the agency's earlier versions, or
    Careway's shipped one beside the agency's copy."""
    context, content = PAGES.detail(request, key)
    shown = handout_queries.shown(content)
    asked = request.GET.get("lang", ENGLISH)
    lang = asked if asked in LANGUAGES else ENGLISH
    context |= {
        "shown": shown,
        "read": handout_queries.read_in(shown.handout, lang) if shown.handout else None,
        "lang": lang,
        # The shared page keeps the language in its links to other versions.
        "lang_query": f"?lang={lang}",
        "lang_param": f"&lang={lang}",
        "language_links": _language_links(
            request, key, shown.handout.languages if shown.handout else ()
        ),
    }
    return render(request, "careplans/handouts/detail.html", context)


def _language_links(
    request: HttpRequest, key: str, available: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One link per language, keeping the version asked for; a language the handout lacks is
    shown in English, and says so."""
    query = request.GET.copy()
    links = []
    for code in LANGUAGES:
        query["lang"] = code
        links.append(
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "href": f"{reverse('careplans:handout_detail', kwargs={'key': key})}"
                f"?{query.urlencode()}",
                "available": code in available,
            }
        )
    return links


@agency_page
@require_POST
def handout_copy(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.copy(request, key)


@agency_page
def handout_edit(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.edit(request, key)


@agency_page
def handout_new(request: HttpRequest) -> HttpResponse:
    return PAGES.new(request)


@agency_page
@require_POST
def handout_retire(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.set_active(request, key, active=False)


@agency_page
@require_POST
def handout_restore(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.set_active(request, key, active=True)
