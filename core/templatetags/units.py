"""Numbers with their units, as the UI shows them: in templates (`{% load units %}`) and in Python (the admin).

Every number is grouped with the active language's thousands separator ("253,500" in English and in Traditional
Chinese: `innopole/formats/zh_Hant`), whatever `USE_THOUSAND_SEPARATOR` says, so pages, the admin and e-mails agree.
"""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from core.units import m2_to_ha

register = template.Library()

EMPTY = "—"


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def ha(area_m2) -> Decimal | str:
    """Square metres to hectares (1 ha = 10,000 m²)."""
    if area_m2 in (None, ""):
        return ""
    return m2_to_ha(area_m2)


@register.filter
def grouped(value, decimals: int = 0) -> str:
    """A number with thousands separators and at most `decimals` decimals, no trailing zeros: 30000.00 → "30,000"."""
    number = _decimal(value)
    if number is None or not number.is_finite():
        return EMPTY
    number = round(number, int(decimals))
    places = max(0, -number.normalize().as_tuple().exponent)
    return number_format(number, decimal_pos=min(places, int(decimals)), force_grouping=True)


@register.filter
def m2(value) -> str:
    """An area or GFA in square metres: "30,000 m²"."""
    text = grouped(value)
    return text if text == EMPTY else _("%(value)s m²") % {"value": text}


@register.filter
def with_unit(value, unit: str) -> str:
    """A quantity with a free-text unit (a facility type's capacity unit): "2 MW IT load"."""
    text = grouped(value, 2)
    return text if text == EMPTY or not unit else f"{text} {unit}"


@register.filter
def percent(score) -> str:
    """A score from 0 to 1 as a whole percentage: 0.73 → "73 %"."""
    number = _decimal(score)
    if number is None:
        return EMPTY
    return _("%(value)s %%") % {"value": grouped(number * 100, 0)}
