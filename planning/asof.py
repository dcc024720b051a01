"""The plan as it stood at the end of a given day, read from the history tables (django-simple-history).

`AsOf(day).rows(Model)` answers the rows of a plan model as they were when that day ended in the project's time
zone: for each id, its latest history record from before the next midnight, unless that record is a deletion. An
edit made after the day does not show, a row created after it is absent, a row deleted after it is there.

The rows come as a queryset (`AsOfQuerySet`) that reads like the model's own, so the pages and the API filter,
sort and paginate them with the code they use for today's plan:

- a lookup through a relation (`phase__number=2`, `parcel__phase=3`) reads the related rows *as of the same day*
  (a subquery over their history), not as they are now; so do `values("phase__number")` and
  `order_by("phase__number")`;
- `select_related("phase")` attaches the related rows as of the same day (one query per relation, after the rows
  are read); `prefetch_related("predecessor_links")` attaches the children the same way;
- the figures the model querysets annotate (a parcel's GFA, a phase's site area and GFA, readiness, the overdue
  flag) have as-of versions computed over as-of rows (`AsOfParcels`, `AsOfPhases`, `AsOfScheduleItems`), and a
  schedule item's forecast, float and critical flag, which the history does not keep, are recomputed by the
  scheduling engine over the network as it stood, with that day as "today" (what the nightly run stored then);
- `restrict(user, action)` is the model's scoping for reading, and refuses every other action: the past is
  read-only.

A lookup written as a `Q` object or an `F` expression is not rewritten (it would read related rows as they are
now): write lookups through relations as keyword arguments. `filterset_class()` adapts a FilterSet to these rows.
"""

import datetime
import functools
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import django_filters
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OrderBy,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django_filters.constants import EMPTY_VALUES
from simple_history.manager import SIMPLE_HISTORY_REVERSE_ATTR_NAME, HistoricalQuerySet

from . import schedule
from .models import (
    Campus,
    Facility,
    FacilityType,
    Parcel,
    Phase,
    ReadinessSnapshot,
    ScheduleDependency,
    ScheduleItem,
    UtilityCapacity,
)
from .querysets import AREA_OUTPUT, ZERO, DistinctCodes, overdue_condition, site_area_expression

DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
PARAMETER = "as_of"


# --- the day ----------------------------------------------------------------------------------------------------


def parse_day(value: str, *, today: datetime.date | None = None) -> datetime.date:
    """`value` (YYYY-MM-DD) as a day that has begun; a ValidationError saying what is wrong with it otherwise.

    A future day is refused rather than read as today: the history cannot say what the plan will be, and an answer
    for a day that has not ended could change before it does (today is allowed: the plan as it stands, so far)."""
    today = today or timezone.localdate()
    text = value.strip()
    example = today.isoformat()
    if not text:
        raise ValidationError(
            _("Give the date as YYYY-MM-DD, for example %(example)s."), code="as_of_empty", params={"example": example}
        )
    shown = text if len(text) <= 40 else text[:40] + "…"
    if not DATE_SHAPE.fullmatch(text):
        raise ValidationError(
            _("“%(value)s” is not a date: give it as YYYY-MM-DD, for example %(example)s."),
            code="as_of_format",
            params={"value": shown, "example": example},
        )
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a day of the calendar (YYYY-MM-DD)."), code="as_of_invalid", params={"value": shown}
        ) from None
    if day > today:
        raise ValidationError(
            _("%(day)s is in the future: the plan's history goes up to today, %(today)s."),
            code="as_of_future",
            params={"day": day.isoformat(), "today": example},
        )
    return day


def end_of_day(day: datetime.date) -> datetime.datetime:
    """The first moment after `day` in the project's time zone (settings.TIME_ZONE): history before it counts."""
    return datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, ZoneInfo(settings.TIME_ZONE))


@dataclass(frozen=True)
class AsOf:
    """The plan at the end of `day` (in the project's time zone)."""

    day: datetime.date

    @classmethod
    def from_query(cls, query, *, today: datetime.date | None = None) -> "AsOf | None":
        """The `?as_of=` of a query string (a QueryDict or a dict), None without one; a ValidationError keyed
        `as_of` when it is not a day that has begun."""
        if PARAMETER not in query:
            return None
        try:
            return cls(parse_day(query.get(PARAMETER) or "", today=today))
        except ValidationError as error:
            raise ValidationError({PARAMETER: error.error_list}) from None

    @property
    def moment(self) -> datetime.datetime:
        return end_of_day(self.day)

    @property
    def query(self) -> str:
        """The query-string value (`as_of=…`) that asks for this day again."""
        return f"{PARAMETER}={self.day.isoformat()}"

    def __str__(self) -> str:
        return formats.date_format(self.day)

    def rows(self, model) -> "AsOfQuerySet":
        """The rows of `model` as they stood at the end of the day (see the module docstring)."""
        return QUERYSETS.get(model, AsOfQuerySet).of(model, self)


def plan_rows(model, as_of: AsOf | None):
    """The rows of `model` now (its queryset) or at the end of a day: for code that shows either."""
    return model.objects.all() if as_of is None else as_of.rows(model)


def is_tracked(model) -> bool:
    return hasattr(model, "history") and model in QUERYSETS


def is_recorded(model, name: str) -> bool:
    """Whether the history of `model` keeps the field `name` (the engine's results, for one, it does not)."""
    try:
        model.history.model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


# --- the rows -----------------------------------------------------------------------------------------------------


class SQLSum(Func):
    """SUM over every row of a subquery (a plain function, so Django adds no GROUP BY)."""

    function = "SUM"
    output_field = AREA_OUTPUT


def total(queryset, expression) -> Coalesce:
    """The sum of `expression` over a queryset of as-of rows, as an expression for an outer query (0 for none)."""
    sums = queryset.order_by().values(total=SQLSum(expression)).values("total")
    return Coalesce(Subquery(sums, output_field=AREA_OUTPUT), ZERO, output_field=AREA_OUTPUT)


class AsOfQuerySet(HistoricalQuerySet):
    """History records of one model, the latest of each id before the end of a day and not deleted, read as
    instances of the model (see the module docstring)."""

    # The values of the fields the history does not keep, on the instances read.
    unrecorded_values: dict = {}
    # The order of the rows when none is asked for: the model's, without the fields the history does not keep.
    ordering: tuple[str, ...] | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.as_of: AsOf | None = None
        self._attached: tuple[str, ...] = ()  # select_related: relations attached as of the same day
        self._children: tuple[str, ...] = ()  # prefetch_related: reverse relations, the same
        self._after: tuple[str, ...] = ()  # methods run over the rows once read (figures computed in Python)

    @classmethod
    def of(cls, model, as_of: AsOf) -> "AsOfQuerySet":
        history = model.history.model
        moment = as_of.moment
        later = model.history.filter(id=OuterRef("id"), history_date__lt=moment).filter(
            Q(history_date__gt=OuterRef("history_date"))
            | Q(history_date=OuterRef("history_date"), history_id__gt=OuterRef("history_id"))
        )
        rows = cls(model=history).filter(history_date__lt=moment).filter(~Exists(later))
        rows.as_of = as_of
        rows = rows.as_instances()
        ordering = cls.ordering or model._meta.ordering
        return rows.order_by(*[name for name in ordering if is_recorded(model, name.lstrip("-").split("__")[0])], "id")

    @property
    def instance_model(self):
        return self.model.instance_type

    def _clone(self):
        clone = super()._clone()
        clone.as_of = self.as_of
        clone._attached = self._attached
        clone._children = self._children
        clone._after = self._after
        return clone

    def _with_after(self, method: str) -> "AsOfQuerySet":
        clone = self._chain()
        if method not in clone._after:
            clone._after = (*clone._after, method)
        return clone

    # Lookups through relations read the related rows as of the same day.

    def _through(self, path: str):
        """(relation field, the rest of the path) when `path` goes through a relation to a history-tracked model
        and on to one of its fields; (None, path with `pk` spelled `id`) otherwise."""
        parts = path.split(LOOKUP_SEP)
        if parts[0] == "pk":
            parts[0] = self.instance_model._meta.pk.attname
        try:
            field = self.instance_model._meta.get_field(parts[0])
        except FieldDoesNotExist:
            return None, LOOKUP_SEP.join(parts)
        if len(parts) > 1 and field.many_to_one and is_tracked(field.related_model):
            related = field.related_model
            try:
                related._meta.get_field("id" if parts[1] == "pk" else parts[1])
            except FieldDoesNotExist:
                return None, LOOKUP_SEP.join(parts)  # a lookup on the key itself: phase__isnull, phase__in
            return field, LOOKUP_SEP.join(parts[1:])
        return None, LOOKUP_SEP.join(parts)

    def _lookups(self, kwargs: dict) -> dict:
        rewritten = {}
        for key, value in kwargs.items():
            field, rest = self._through(key)
            if field is None:
                rewritten[rest] = value
                continue
            if isinstance(value, OuterRef):
                value = OuterRef(value)  # one query deeper than written
            related = self.as_of.rows(field.related_model).filter(**{rest: value})
            rewritten[f"{field.attname}__in"] = related.order_by().values("id")
        return rewritten

    def filter(self, *args, **kwargs):
        return super().filter(*args, **self._lookups(kwargs))

    def exclude(self, *args, **kwargs):
        return super().exclude(*args, **self._lookups(kwargs))

    def _related_value(self, field, rest: str) -> Subquery:
        related = self.as_of.rows(field.related_model).filter(id=OuterRef(field.attname))
        return Subquery(related.order_by().values(rest)[:1])

    def values(self, *fields, **expressions):
        plain = []
        for name in fields:
            field, rest = self._through(name)
            if field is None:
                plain.append(rest)
            else:
                expressions[name] = self._related_value(field, rest)
        return super().values(*plain, **expressions)

    def order_by(self, *terms):
        return super().order_by(*(self._order_term(term) for term in terms))

    def _order_term(self, term):
        if isinstance(term, str) and term != "?":
            descending, name = term.startswith("-"), term.lstrip("-")
            expression = self._order_expression(name)
            if expression is None:
                return term
            return OrderBy(expression, descending=descending)
        if isinstance(term, OrderBy) and isinstance(term.expression, F):
            expression = self._order_expression(term.expression.name)
            if expression is not None:
                return OrderBy(
                    expression, descending=term.descending, nulls_first=term.nulls_first, nulls_last=term.nulls_last
                )
        return term

    def _order_expression(self, name: str):
        """What ordering by `name` means on these rows (None: the name as it is)."""
        field, rest = self._through(name)
        if field is not None:
            return self._related_value(field, rest)
        try:
            own = self.instance_model._meta.get_field(rest)
        except FieldDoesNotExist:
            return None
        if own.many_to_one:
            return F(own.attname)  # the key, not the related model's ordering (a join to today's rows)
        return F(rest) if rest != name else None

    def select_related(self, *fields):
        clone = self._chain()
        clone._attached = () if fields == (None,) else (*clone._attached, *fields)
        return clone

    def prefetch_related(self, *lookups):
        clone = self._chain()
        clone._children = () if lookups == (None,) else (*clone._children, *lookups)
        return clone

    def restrict(self, user, action: str = "view") -> "AsOfQuerySet":
        """The model's own scoping for reading; nothing for any other action (the past is read-only)."""
        if action != "view":
            return self.none()
        scoped = self.instance_model._default_manager.all().restrict(user, action)
        return self.none() if scoped.query.is_empty() else self

    # Once read: the annotations, the related rows and the figures computed in Python.

    def _instanceize(self):
        """History records → instances of the model, built from the recorded fields only (simple-history's own
        `instance` reads the fields the history leaves out from today's row, one query per row, and with today's
        values), with the queryset's annotations."""
        records = self._result_cache
        if not (records and self._as_instances and isinstance(records[0], self.model)):
            return
        model = self.instance_model
        recorded = {field.attname for field in self.model._meta.concrete_fields}
        fields = [field.attname for field in model._meta.concrete_fields if field.attname in recorded]
        annotations = list(self.query.annotation_select)
        rows = []
        for record in records:
            row = model(**{name: getattr(record, name) for name in fields}, **self.unrecorded_values)
            row._state.adding = False
            row._state.db = record._state.db
            setattr(row, SIMPLE_HISTORY_REVERSE_ATTR_NAME, record)
            for name in annotations:
                setattr(row, name, getattr(record, name))
            rows.append(row)
        self._result_cache = rows

    def _fetch_all(self):
        fresh = self._result_cache is None
        super()._fetch_all()
        rows = self._result_cache
        if fresh and rows and isinstance(rows[0], self.instance_model):
            for path in self._attached:
                self._attach(rows, path)
            for name in self._children:
                self._attach_children(rows, name)
            for method in self._after:
                getattr(self, method)(rows)

    def _attach(self, rows: list, path: str) -> None:
        name, _, rest = path.partition(LOOKUP_SEP)
        field = self.instance_model._meta.get_field(name)
        ids = {getattr(row, field.attname) for row in rows} - {None}
        related = field.related_model
        if is_tracked(related):
            found = self.as_of.rows(related)
            if rest:
                found = found.select_related(rest)
        else:
            found = related._default_manager.all()
        by_id = {obj.pk: obj for obj in found.filter(id__in=ids)} if ids else {}
        for row in rows:
            field.set_cached_value(row, by_id.get(getattr(row, field.attname)))

    def _attach_children(self, rows: list, name: str) -> None:
        relation = self.instance_model._meta.get_field(name)
        key = relation.field.attname
        children = defaultdict(list)
        found = self.as_of.rows(relation.related_model).filter(**{f"{key}__in": [row.pk for row in rows]})
        for child in found.order_by("id"):
            children[getattr(child, key)].append(child)
        for row in rows:
            cached = relation.related_model._default_manager.none()
            cached._result_cache = children[row.pk]
            cached._prefetch_done = True
            if not hasattr(row, "_prefetched_objects_cache"):
                row._prefetched_objects_cache = {}
            row._prefetched_objects_cache[name] = cached


class AsOfPhases(AsOfQuerySet):
    # A past day's readiness is its latest snapshot then (`with_readiness`), never "recompute pending".
    unrecorded_values = {"readiness_stale": False, "readiness_stale_since": None}

    def with_site_area(self) -> "AsOfPhases":
        parcels = self.as_of.rows(Parcel).filter(phase_id=OuterRef("id"))
        return self.annotate(site_area_m2=total(parcels, site_area_expression()))

    def with_gfa(self) -> "AsOfPhases":
        parcels = self.as_of.rows(Parcel).filter(phase_id=OuterRef(OuterRef("id"))).order_by().values("id")
        facilities = self.as_of.rows(Facility).filter(parcel_id__in=parcels)
        return self.annotate(gfa_m2=total(facilities, "gfa_m2"))

    def with_totals(self) -> "AsOfPhases":
        return self.with_site_area().with_gfa()

    def with_readiness(self) -> "AsOfPhases":
        """The state, score and time of each phase's latest readiness snapshot computed before the day ended."""
        latest = ReadinessSnapshot.objects.filter(phase=OuterRef("id"), computed_at__lt=self.as_of.moment).order_by(
            "-computed_at", "-id"
        )
        return self.annotate(
            readiness_state=Subquery(latest.values("state")[:1]),
            readiness_score=Subquery(latest.values("score")[:1]),
            readiness_computed_at=Subquery(latest.values("computed_at")[:1]),
        )

    def with_gfa_by_type(self) -> "AsOfPhases":
        """`gfa_by_type` on each phase read (as `selectors.attach_gfa_by_type`): GFA m² per facility-type code."""
        return self._with_after("_gfa_by_type")

    def _gfa_by_type(self, phases: list) -> None:
        ids = [phase.pk for phase in phases]
        phase_of = dict(self.as_of.rows(Parcel).filter(phase_id__in=ids).values_list("id", "phase_id"))
        codes = dict(self.as_of.rows(FacilityType).values_list("id", "code"))
        sums: dict = {phase_id: defaultdict(Decimal) for phase_id in ids}
        facilities = self.as_of.rows(Facility).filter(parcel__phase__in=ids)
        for parcel_id, type_id, gfa in facilities.values_list("parcel_id", "facility_type_id", "gfa_m2"):
            sums[phase_of[parcel_id]][codes.get(type_id, str(type_id))] += gfa
        for phase in phases:
            phase.gfa_by_type = dict(sorted(sums[phase.pk].items()))


class AsOfParcels(AsOfQuerySet):
    def with_gfa(self) -> "AsOfParcels":
        facilities = self.as_of.rows(Facility).filter(parcel_id=OuterRef("id"))
        return self.annotate(gfa_m2=total(facilities, "gfa_m2"))

    def with_facility_type_codes(self) -> "AsOfParcels":
        types = self.as_of.rows(FacilityType).filter(id=OuterRef("facility_type_id")).order_by().values("code")[:1]
        codes = (
            self.as_of.rows(Facility)
            .filter(parcel_id=OuterRef("id"))
            .annotate(type_code=Subquery(types))
            .order_by()
            .values("parcel_id")
            .annotate(codes=DistinctCodes("type_code"))
            .values("codes")
        )
        return self.annotate(facility_type_codes=Subquery(codes, output_field=CharField()))

    def for_map(self) -> "AsOfParcels":
        return self.with_gfa().with_facility_type_codes()


class AsOfScheduleItems(AsOfQuerySet):
    # The forecast the lists are ordered by is computed once the rows are read: the baseline stands in for it.
    ordering = ("phase__number", "baseline_start", "baseline_finish")

    def overdue(self, today: datetime.date | None = None) -> "AsOfScheduleItems":
        """Overdue at the end of the day (`overdue_condition` with that day as today)."""
        return self.filter(overdue_condition(today or self.as_of.day))

    def with_overdue(self, today: datetime.date | None = None) -> "AsOfScheduleItems":
        condition = overdue_condition(today or self.as_of.day)
        return self.annotate(overdue=ExpressionWrapper(condition, output_field=BooleanField()))

    def milestones(self) -> "AsOfScheduleItems":
        return self.filter(kind="milestone")

    def with_schedule(self) -> "AsOfScheduleItems":
        """The engine's results on each item read (forecast, late finish, float, critical, driving predecessor),
        recomputed over its phase's network as it stood, with the day as today: the history does not keep them."""
        return self._with_after("_schedule")

    def _schedule(self, items: list) -> None:
        phase_ids = {item.phase_id for item in items}
        phases = {phase.pk: phase for phase in self.as_of.rows(Phase).filter(id__in=phase_ids)}
        network = defaultdict(list)
        for item in self.as_of.rows(ScheduleItem).filter(phase_id__in=phase_ids):
            network[item.phase_id].append(item)
        links = defaultdict(list)
        dependencies = self.as_of.rows(ScheduleDependency).filter(successor__phase__in=phase_ids)
        phase_of = {item.pk: item.phase_id for rows in network.values() for item in rows}
        for predecessor, successor, lag in dependencies.values_list("predecessor_id", "successor_id", "lag_days"):
            if predecessor in phase_of and successor in phase_of:
                links[phase_of[successor]].append(schedule.Dependency(predecessor, successor, lag))
        results = {}
        for phase_id, rows in network.items():
            phase = phases.get(phase_id)
            if phase is None:
                continue
            try:
                computed = schedule.compute_from_rows(
                    items=rows,
                    dependencies=links[phase_id],
                    planned_start=phase.planned_start,
                    target_completion=phase.planned_completion,
                    today=self.as_of.day,
                )
                results.update(computed.items)
            except schedule.ScheduleCycle:
                continue  # not a network the services would have saved; its items keep no forecast
        for item in items:
            computed = results.get(item.pk)
            if computed is not None:
                item.forecast_start = computed.forecast_start
                item.forecast_finish = computed.forecast_finish
                item.late_finish = computed.late_finish
                item.total_float_days = computed.total_float_days
                item.critical = computed.critical
                item.driving_predecessor_id = computed.driving_predecessor
                item.scheduled_on = self.as_of.day


QUERYSETS: dict = {
    Campus: AsOfQuerySet,
    Phase: AsOfPhases,
    Parcel: AsOfParcels,
    FacilityType: AsOfQuerySet,
    Facility: AsOfQuerySet,
    UtilityCapacity: AsOfQuerySet,
    ScheduleItem: AsOfScheduleItems,
    ScheduleDependency: AsOfQuerySet,
}


# --- filters ------------------------------------------------------------------------------------------------------


class NotRecordedFilter(django_filters.Filter):
    """A filter on a field the history does not keep: refused, with the reason, when it is used with a date."""

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        raise ValidationError(
            {
                self.field_name: _(
                    "“%(field)s” is computed, not kept in the history, so it cannot filter the plan as of a past date."
                )
                % {"field": self.field_name}
            }
        )


def _parcels_with_facility_type(filterset, queryset, name, value):
    facilities = queryset.as_of.rows(Facility).filter(facility_type__code=value)
    return queryset.filter(id__in=facilities.order_by().values("parcel_id"))


def _items_overdue(filterset, queryset, name, value):
    overdue = queryset.overdue()
    return overdue if value else queryset.exclude(id__in=overdue.order_by().values("id"))


# The FilterSets' method filters, for as-of rows (by model, then by method name).
METHODS = {
    Parcel: {"filter_facility_type": _parcels_with_facility_type},
    ScheduleItem: {"filter_overdue": _items_overdue},
}


@functools.cache
def _as_of_filterset(filterset_class):
    model = filterset_class._meta.model
    attrs = dict(METHODS.get(model, {}))
    for name, declared in filterset_class.base_filters.items():
        if isinstance(declared, django_filters.ModelChoiceFilter):
            # By id: a row deleted since is still a valid choice in the past (the choice field would refuse it).
            attrs[name] = django_filters.NumberFilter(
                field_name=declared.field_name, lookup_expr=declared.lookup_expr, label=declared.label
            )
        elif declared.method is None and not is_recorded(model, declared.field_name.split(LOOKUP_SEP)[0]):
            attrs[name] = NotRecordedFilter(field_name=declared.field_name, label=declared.label)
    return type(f"AsOf{filterset_class.__name__}", (filterset_class,), attrs)


def filterset_class(filterset_class, queryset):
    """The FilterSet to run over `queryset`: `filterset_class` itself over today's rows, its as-of version over
    as-of rows (relations and methods read as of the same day; computed fields refused)."""
    return _as_of_filterset(filterset_class) if isinstance(queryset, AsOfQuerySet) else filterset_class
