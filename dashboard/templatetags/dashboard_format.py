"""How the dashboard words its figures in the reader's language: money in HKD millions, percentages, states."""

from django import template
from django.utils.translation import gettext as _

from core.templatetags.units import EMPTY, grouped

register = template.Library()

# A state is never told by colour alone: each has an icon and its words.
ICONS = {"pass": "✔", "ready": "✔", "at_risk": "▲", "fail": "✖", "blocked": "✖", None: "○", "": "○"}


@register.filter
def hkd_m(value, decimals: int = 0) -> str:
    """An amount in HKD millions: "HKD 1,448 million" / "港幣 1,448 百萬元"."""
    text = grouped(value, decimals)
    return text if text == EMPTY else _("HKD %(value)s million") % {"value": text}


@register.filter
def pct(value, decimals: int = 1) -> str:
    """A percentage already in per cent: 12.34 → "12.3 %"."""
    text = grouped(value, decimals)
    return text if text == EMPTY else _("%(value)s %%") % {"value": text}


@register.filter
def share(part, whole) -> str:
    """`part` as a whole-number percentage of `whole`, for meters (data-pct), capped at 100; "0" for no whole."""
    try:
        return str(max(0, min(100, round(float(part or 0) * 100 / float(whole))))) if whole else "0"
    except (TypeError, ValueError):
        return "0"


@register.filter
def state_icon(state) -> str:
    return ICONS.get(state, "○")
