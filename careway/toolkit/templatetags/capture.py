"""`{% capture as name %}...{% endcapture %}`: render a block once and keep it in the context,
to show it in two places (a caseload cell both as a column and under the patient's name) without
rendering it twice."""

from django import template
from django.template.base import Node, NodeList, Parser, Token
from django.template.context import Context
from django.utils.safestring import mark_safe

register = template.Library()


class CaptureNode(Node):
    def __init__(self, nodelist: NodeList, name: str):
        self.nodelist = nodelist
        self.name = name

    def render(self, context: Context) -> str:
        # The block's own output is already escaped by the template engine.
        context[self.name] = mark_safe(self.nodelist.render(context))  # noqa: S308
        return ""


@register.tag
def capture(parser: Parser, token: Token) -> CaptureNode:
    bits = token.split_contents()
    if len(bits) != 3 or bits[1] != "as":
        raise template.TemplateSyntaxError("Use {% capture as name %}...{% endcapture %}")
    nodelist = parser.parse(("endcapture",))
    parser.delete_first_token()
    return CaptureNode(nodelist, bits[2])
