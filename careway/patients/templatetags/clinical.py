"""Clinical words as a nurse reads them, for every template: `{% load clinical %}`, then
`{{ record.display|plain_name }}` and `{% coded_as record.code_system record.code %}`
(careway/patients/display.py)."""

from django import template

from careway.patients import display

register = template.Library()

register.filter("plain_name", display.plain_name)
register.filter("plain_source", display.plain_source)
register.filter("code_system_name", display.code_system_name)


@register.simple_tag
def coded_as(system: str, code: str) -> str:
    return display.coded_as(system, code)
