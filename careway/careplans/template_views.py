"""The agency's care plan templates: every template it uses (Careway's and its own), one
template's problems, goals and interventions with its sources and versions, and the editor.

Everyone who builds or reads plans may read them (so a nurse can see where a suggestion comes
from); the agency's admins and supervisors (careplans.templates) copy, write, edit, retire and
restore them. The pages are the agency's content pages (careway/careplans/agency_content_views.py):
a refused write is 403 and audited; anyone else, and another agency's people asking for this
agency's own template, get 404. Each change is a new version; a save over someone else's is a
conflict that keeps what was typed.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from careway.toolkit.pages import agency_page

from . import template_queries
from .agency_content_views import ContentPages
from .template_forms import SKELETON, TemplateForm

PAGES = ContentPages(
    entry_type=template_queries.TemplateEntry,
    form=TemplateForm,
    skeleton=SKELETON,
    url="careplans:template",
    folder="careplans/agency_templates",
    list_title="Care plan templates",
    new_title="New care plan template",
    in_use_verb="uses",
)


@agency_page
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    return PAGES.list(request)


@agency_page
@require_GET
def template_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The template in use (or the agency's retired one), or with ?version= one of the agency's
    earlier versions, or Careway's shipped one beside the agency's copy."""
    context, content = PAGES.detail(request, key)
    context["shown"] = template_queries.shown(content)
    return render(request, "careplans/agency_templates/detail.html", context)


@agency_page
@require_POST
def template_copy(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.copy(request, key)


@agency_page
def template_edit(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.edit(request, key)


@agency_page
def template_new(request: HttpRequest) -> HttpResponse:
    return PAGES.new(request)


@agency_page
@require_POST
def template_retire(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.set_active(request, key, active=False)


@agency_page
@require_POST
def template_restore(request: HttpRequest, key: str) -> HttpResponse:
    return PAGES.set_active(request, key, active=True)
