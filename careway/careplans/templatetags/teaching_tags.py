"""Teaching and agreement on the plan page: a drawn agreement signature shown back as
server-rendered SVG (no script needed to see it), who agreed and the language taught, in words."""

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from careway.careplans import teaching
from careway.careplans.models import Agreement

register = template.Library()


@register.simple_tag
def signature_svg(agreement: Agreement) -> str:
    """The signature's strokes as paths in the pad's own 600 x 200 box, scaled to the width."""
    day = timezone.localtime(agreement.agreed_at)
    label = f"Signature of {teaching.agreed_by(agreement)}, {day:%b} {day.day}, {day.year}"
    paths = format_html_join(
        "", '<path d="{}"/>', ((d,) for d in teaching.signature_paths(agreement.signature))
    )
    return format_html(
        '<svg class="signature" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        "<title>{}</title>"
        '<g fill="none" stroke="currentColor" stroke-width="3" stroke-linecap="round" '
        'stroke-linejoin="round">{}</g></svg>',
        teaching.PAD_WIDTH,
        teaching.PAD_HEIGHT,
        label,
        label,
        paths,
    )


@register.filter
def agreed_by(agreement: Agreement) -> str:
    return teaching.agreed_by(agreement)


@register.filter
def language_name(code: str) -> str:
    """'es' as 'Español' (the languages the handouts ship in), else the code as it is."""
    from careway.careplans.handouts import LANGUAGE_NAMES

    return LANGUAGE_NAMES.get(code, code)
