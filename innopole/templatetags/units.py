"""Template filters for units shown in the UI."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def ha(area_m2) -> Decimal | str:
    """Square metres to hectares (1 ha = 10,000 m²)."""
    if area_m2 in (None, ""):
        return ""
    return Decimal(area_m2) / Decimal(10_000)
