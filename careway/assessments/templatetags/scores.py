"""How a score reads: as entered or computed, to two decimal places at most, no padding."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def score(value: Any) -> str:
    """14.5 stays "14.5" (floatformat:"-2" gives "14.50"), 6.0 is "6", 1/3 is "0.33"."""
    if value is None or value == "":
        return ""
    try:
        number = round(float(value), 2)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:f}".rstrip("0").rstrip(".") if number != int(number) else str(int(number))


@register.filter
def signer(user: Any) -> str:
    """Who signed, with their credential ("Lucia Rivera, RN"), or that it was not recorded (an
    assessment filed by an import or another system): never a dangling "by"."""
    if user is None:
        return "signer not recorded"
    memberships = getattr(user, "current_memberships", None)
    if memberships is None:
        memberships = user.active_memberships()
    credentials = [m.discipline for m in memberships if m.discipline]
    return f"{user.display_name}, {credentials[0]}" if credentials else user.display_name
