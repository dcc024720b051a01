"""What the dashboard's page, API and downloads are asked for: the campus, the filters and the day, from the query.

One reading for all three, so a link, an API call and a download with the same query string answer the same
figures, and a bad value is refused alike (400, naming the parameter and what is wrong with it).
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext as _

from planning.asof import PARAMETER as AS_OF
from planning.asof import AsOf
from planning.models import Campus, FacilityType, Phase

from .figures import Filters

DIGITS = re.compile(r"[0-9]{1,5}")  # ASCII digits only: "²".isdigit() is true, and int("²") fails
NO_NUL = ProhibitNullCharactersValidator()  # PostgreSQL refuses a NUL in text: a value with one is not looked up


def text(query, name: str) -> str:
    """`?name=` stripped ("" when absent); a ValidationError keyed by `name` for a value with a NUL character."""
    value = (query.get(name) or "").strip()
    try:
        NO_NUL(value)
    except ValidationError as error:
        raise ValidationError({name: error.messages}) from None
    return value


def choose_campus(query) -> Campus | None:
    """The campus `?campus=<code>` names, else the first campus by code; None when there is no campus at all.
    An unknown code is refused."""
    code = text(query, "campus")
    if code:
        campus = Campus.objects.defer("boundary").filter(code=code).first()
        if campus is None:
            raise ValidationError({"campus": _("There is no campus “%(code)s”.") % {"code": code[:40]}})
        return campus
    return Campus.objects.defer("boundary").order_by("code").first()


def read_query(query, campus: Campus) -> tuple[Filters, AsOf | None]:
    """The filters (`phase`: a phase number of the campus; `facility_type`: a type's code) and `as_of` of a query
    string; a ValidationError keyed by parameter for every value that is not one of those."""
    errors = {}
    phase = (query.get("phase") or "").strip()
    number = None
    if phase:
        if not DIGITS.fullmatch(phase) or not Phase.objects.filter(campus=campus, number=int(phase)).exists():
            numbers = ", ".join(str(n) for n in Phase.objects.filter(campus=campus).values_list("number", flat=True))
            errors["phase"] = _("“%(value)s” is not a phase of %(campus)s; its phases are %(numbers)s.") % {
                "value": phase[:20],
                "campus": campus.name,
                "numbers": numbers or "—",
            }
        else:
            number = int(phase)
    try:
        facility_type = text(query, "facility_type")
    except ValidationError as error:
        facility_type = ""
        errors.update(error.message_dict)
    if facility_type and not FacilityType.objects.filter(code=facility_type).exists():
        errors["facility_type"] = _("“%(value)s” is not a facility type code.") % {"value": facility_type[:40]}
    as_of = None
    try:
        as_of = AsOf.from_query(query)
    except ValidationError as error:
        errors[AS_OF] = error.message_dict[AS_OF]
    if errors:
        raise ValidationError(errors)
    return Filters(phase=number, facility_type=facility_type or None), as_of
