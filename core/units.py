"""Units of the plan: hectares ↔ square metres, and numbers with their unit in messages.

Written once here so every layer (services, selectors, models, admin, API, template filters) converts and words
areas alike. Display formatting in templates and the admin is `core.templatetags.units`, which converts with
these functions.
"""

from decimal import Decimal

from django.utils.translation import gettext as _

M2_PER_HA = Decimal(10_000)


def m2_to_ha(area_m2: Decimal | float | int) -> Decimal:
    """Square metres to hectares (1 ha = 10,000 m²)."""
    return Decimal(area_m2) / M2_PER_HA


def ha_to_m2(area_ha: Decimal | float | int) -> Decimal:
    """Hectares to square metres."""
    return Decimal(area_ha) * M2_PER_HA


def fmt_m2(value: Decimal | float) -> str:
    """An area in a message: 30000 → "30,000 m²"."""
    return _("%(value)s m²") % {"value": f"{Decimal(value):,.0f}"}


def fmt_ratio(value: Decimal) -> str:
    """5 → '5.0', 5.50 → '5.5', 4.25 → '4.25'."""
    text = f"{Decimal(value).normalize():f}"
    return text if "." in text else f"{text}.0"
