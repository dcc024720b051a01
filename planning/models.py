"""The planning domain: the campus, its phases and parcels, what is built on them, utilities and milestones.

Models hold data and the invariants the database can enforce; every write goes through `planning.services`,
which adds the rules that need geometry or several rows (see DESIGN §3).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BilingualNameMixin, VersionedModel
from core.units import m2_to_ha

from .querysets import (
    CampusQuerySet,
    FacilityQuerySet,
    FacilityTypeQuerySet,
    ParcelQuerySet,
    PhaseQuerySet,
    ScheduleDependencyQuerySet,
    ScheduleItemQuerySet,
    UtilityCapacityQuerySet,
)

# A surveyed area that differs from the geometry's by more than this share is flagged for a planner to check.
AREA_MISMATCH_TOLERANCE = Decimal("0.01")

RATIO = {"max_digits": 5, "decimal_places": 2}
PERCENT = {"max_digits": 5, "decimal_places": 2}
AREA = {"max_digits": 12, "decimal_places": 2}
HEIGHT = {"max_digits": 6, "decimal_places": 1}
ASSUMPTION = {"max_digits": 10, "decimal_places": 4}


class Campus(BilingualNameMixin, VersionedModel):
    """The land under one plan (INNOPOLE; later other HKSTP sites) with its default development controls."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    boundary = models.JSONField(_("boundary"), help_text=_("GeoJSON Polygon in WGS84 (longitude, latitude)."))
    land_target_ha = models.DecimalField(_("land target (ha)"), max_digits=8, decimal_places=2)
    zoning_default = models.CharField(_("default zoning"), max_length=40, default="OU(I&T)")
    max_plot_ratio = models.DecimalField(_("default max plot ratio"), **RATIO)
    max_site_coverage_pct = models.DecimalField(_("default max site coverage (%)"), **PERCENT)
    max_building_height_mpd = models.DecimalField(_("default max building height (mPD)"), **HEIGHT)
    talent_housing_units_cap = models.PositiveIntegerField(
        _("talent-housing unit cap"), null=True, blank=True, help_text=_("From the land grant; empty if none.")
    )
    notes = models.TextField(_("notes"), blank=True)

    history = HistoricalRecords()

    objects = CampusQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("campus")
        verbose_name_plural = _("campuses")
        constraints = [
            models.CheckConstraint(
                condition=Q(land_target_ha__gt=0),
                name="campus_land_target_positive",
                violation_error_message=_("The land target must be more than 0 ha."),
            ),
            models.CheckConstraint(
                condition=Q(max_plot_ratio__gte=0),
                name="campus_plot_ratio_not_negative",
                violation_error_message=_("The plot ratio cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(max_site_coverage_pct__gte=0, max_site_coverage_pct__lte=100),
                name="campus_site_coverage_0_100",
                violation_error_message=_("Site coverage is a percentage from 0 to 100."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Phase(BilingualNameMixin, VersionedModel):
    """A numbered tranche of the campus, with its target area, dates, capital cost and status."""

    class Status(models.TextChoices):
        PLANNING = "planning", _("Planning")
        LAND_HANDOVER = "land_handover", _("Land handover")
        SITE_FORMATION = "site_formation", _("Site formation")
        CONSTRUCTION = "construction", _("Construction")
        OPERATION = "operation", _("Operation")

    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="phases", verbose_name=_("campus"))
    number = models.PositiveSmallIntegerField(_("number"))
    target_area_ha = models.DecimalField(_("target area (ha)"), max_digits=8, decimal_places=2)
    planned_start = models.DateField(_("planned start"))
    planned_completion = models.DateField(_("planned completion"))
    capex_hkd_m = models.DecimalField(_("capital cost (HKD million)"), max_digits=12, decimal_places=1, default=0)
    focus = models.CharField(_("focus"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PLANNING)
    # Set in the same transaction as any change to a readiness input; cleared by the recompute that catches up.
    readiness_stale = models.BooleanField(_("readiness stale"), default=True, editable=False)
    readiness_stale_since = models.DateTimeField(_("stale since"), null=True, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["readiness_stale", "readiness_stale_since"])

    objects = PhaseQuerySet.as_manager()

    class Meta:
        ordering = ["campus", "number"]
        verbose_name = _("phase")
        verbose_name_plural = _("phases")
        constraints = [
            models.UniqueConstraint(
                fields=["campus", "number"],
                name="phase_number_unique_in_campus",
                violation_error_message=_("This campus already has a phase with this number."),
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1),
                name="phase_number_positive",
                violation_error_message=_("Phase numbers start at 1."),
            ),
            models.CheckConstraint(
                condition=Q(planned_completion__gte=models.F("planned_start")),
                name="phase_completion_after_start",
                violation_error_message=_("The planned completion cannot be before the planned start."),
            ),
            models.CheckConstraint(
                condition=Q(target_area_ha__gt=0),
                name="phase_target_area_positive",
                violation_error_message=_("The target area must be more than 0 ha."),
            ),
            models.CheckConstraint(
                condition=Q(capex_hkd_m__gte=0),
                name="phase_capex_not_negative",
                violation_error_message=_("The capital cost cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def readiness_state_label(self) -> str:
        """The label of the latest snapshot's state (`readiness_state`, annotated by `with_readiness()`), or ""."""
        state = getattr(self, "readiness_state", None)
        return str(ReadinessSnapshot.State(state).label) if state else ""


def validate_parcel_code(value: str) -> None:
    """A parcel's code names it in the workspace's addresses (`/plan/parcels/<code>/`): no "/" (it would split the
    address) and not "new" (the address of the new-parcel form)."""
    if "/" in value:
        raise ValidationError(_("A parcel code cannot contain “/”."), code="parcel_code_slash")
    if value == "new":
        raise ValidationError(_("“new” is reserved; choose another parcel code."), code="parcel_code_reserved")


class Parcel(VersionedModel):
    """A site or lot: its polygon, development controls, land status and the phase it belongs to.

    `computed_area_m2` is derived from `geometry` by the services (in HK1980 Grid) and stored so that areas can
    be summed in SQL; `site_area_m2` is the surveyed area where one is recorded, else the computed one.
    """

    class LandStatus(models.TextChoices):
        NOT_TRANSFERRED = "not_transferred", _("Not transferred")
        HANDOVER_SCHEDULED = "handover_scheduled", _("Handover scheduled")
        TRANSFERRED = "transferred", _("Transferred")
        SITE_FORMATION = "site_formation", _("Site formation")
        SITE_READY = "site_ready", _("Site formed / ready")

    campus = models.ForeignKey(Campus, on_delete=models.PROTECT, related_name="parcels", verbose_name=_("campus"))
    phase = models.ForeignKey(
        Phase,
        on_delete=models.PROTECT,
        related_name="parcels",
        null=True,
        blank=True,
        verbose_name=_("phase"),
        help_text=_("Empty for land held in reserve."),
    )
    code = models.CharField(_("code"), max_length=20, validators=[validate_parcel_code])
    lot_ref = models.CharField(_("lot reference"), max_length=100, blank=True)
    geometry = models.JSONField(_("geometry"), help_text=_("GeoJSON Polygon in WGS84 (longitude, latitude)."))
    computed_area_m2 = models.DecimalField(_("computed area (m²)"), editable=False, **AREA)
    surveyed_area_m2 = models.DecimalField(_("surveyed area (m²)"), null=True, blank=True, **AREA)
    zoning = models.CharField(_("zoning"), max_length=40)
    max_plot_ratio = models.DecimalField(_("max plot ratio"), **RATIO)
    max_site_coverage_pct = models.DecimalField(_("max site coverage (%)"), **PERCENT)
    max_building_height_mpd = models.DecimalField(_("max building height (mPD)"), **HEIGHT)
    land_status = models.CharField(
        _("land status"), max_length=20, choices=LandStatus.choices, default=LandStatus.NOT_TRANSFERRED
    )
    handover_date = models.DateField(_("handover date"), null=True, blank=True)

    history = HistoricalRecords()

    objects = ParcelQuerySet.as_manager()

    class Meta:
        ordering = ["campus", "code"]
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        constraints = [
            models.UniqueConstraint(
                fields=["campus", "code"],
                name="parcel_code_unique_in_campus",
                violation_error_message=_("This campus already has a parcel with this code."),
            ),
            models.CheckConstraint(
                condition=Q(max_plot_ratio__gte=0),
                name="parcel_plot_ratio_not_negative",
                violation_error_message=_("The plot ratio cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(max_site_coverage_pct__gte=0, max_site_coverage_pct__lte=100),
                name="parcel_site_coverage_0_100",
                violation_error_message=_("Site coverage is a percentage from 0 to 100."),
            ),
            models.CheckConstraint(
                condition=Q(surveyed_area_m2__isnull=True) | Q(surveyed_area_m2__gt=0),
                name="parcel_surveyed_area_positive",
                violation_error_message=_("A surveyed area must be more than 0 m²."),
            ),
            models.CheckConstraint(
                condition=Q(computed_area_m2__gt=0),
                name="parcel_computed_area_positive",
                violation_error_message=_("The parcel's polygon has no area."),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def site_area_m2(self) -> Decimal:
        return self.surveyed_area_m2 if self.surveyed_area_m2 is not None else self.computed_area_m2

    @property
    def site_area_ha(self) -> Decimal:
        return m2_to_ha(self.site_area_m2)

    @property
    def gfa_cap_m2(self) -> Decimal:
        """The most GFA the controls allow: max plot ratio × site area."""
        return (self.max_plot_ratio * self.site_area_m2).quantize(Decimal("0.01"))

    @property
    def area_difference_pct(self) -> Decimal | None:
        """How far the surveyed area is from the geometry's, in % of the computed area (None without a survey)."""
        if self.surveyed_area_m2 is None or not self.computed_area_m2:
            return None
        return ((self.surveyed_area_m2 - self.computed_area_m2) / self.computed_area_m2 * 100).quantize(Decimal("0.01"))

    @property
    def area_mismatch(self) -> bool:
        """True when the surveyed and computed areas differ by more than 1 %."""
        diff = self.area_difference_pct
        return diff is not None and abs(diff) > AREA_MISMATCH_TOLERANCE * 100


class FacilityType(BilingualNameMixin, VersionedModel):
    """A kind of facility with its capacity unit and the planning assumptions staff can edit."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    lettable = models.BooleanField(_("lettable"), default=True, help_text=_("Whether its GFA can be let."))
    core = models.BooleanField(_("named in the mission"), default=False)
    capacity_unit = models.CharField(_("capacity unit"), max_length=60)
    gfa_per_capacity_m2 = models.DecimalField(_("GFA per capacity unit (m²)"), null=True, blank=True, **ASSUMPTION)
    power_kva_per_m2 = models.DecimalField(_("power (kVA per m² GFA)"), null=True, blank=True, **ASSUMPTION)
    pue = models.DecimalField(
        _("PUE"),
        null=True,
        blank=True,
        help_text=_("Power usage effectiveness, for types whose demand is IT load × PUE."),
        **ASSUMPTION,
    )
    water_m3_day_per_1000m2 = models.DecimalField(
        _("water (m³/day per 1,000 m² GFA)"), null=True, blank=True, **ASSUMPTION
    )
    counts_against_housing_cap = models.BooleanField(
        _("counts against the housing cap"),
        default=False,
        help_text=_("Whether the capacity of facilities of this type counts towards the campus's talent-housing cap."),
    )

    history = HistoricalRecords()

    objects = FacilityTypeQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("facility type")
        verbose_name_plural = _("facility types")
        constraints = [
            models.CheckConstraint(
                condition=Q(power_kva_per_m2__isnull=False) | Q(pue__isnull=False),
                name="facility_type_has_power_assumption",
                violation_error_message=_("Give either the power per m² or the PUE."),
            ),
            models.CheckConstraint(
                condition=Q(power_kva_per_m2__isnull=True) | Q(power_kva_per_m2__gte=0),
                name="facility_type_power_not_negative",
                violation_error_message=_("Power per m² cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(pue__isnull=True) | Q(pue__gte=1),
                name="facility_type_pue_at_least_1",
                violation_error_message=_("A PUE is at least 1.0."),
            ),
            models.CheckConstraint(
                condition=Q(gfa_per_capacity_m2__isnull=True) | Q(gfa_per_capacity_m2__gt=0),
                name="facility_type_gfa_per_unit_positive",
                violation_error_message=_("GFA per capacity unit must be more than 0."),
            ),
            models.CheckConstraint(
                condition=Q(water_m3_day_per_1000m2__isnull=True) | Q(water_m3_day_per_1000m2__gte=0),
                name="facility_type_water_not_negative",
                violation_error_message=_("Water demand cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Facility(VersionedModel):
    """A planned building, or part of one, on a parcel."""

    class Status(models.TextChoices):
        CONCEPT = "concept", _("Concept")
        DESIGN = "design", _("Design")
        APPROVED = "approved", _("Approved")
        UNDER_CONSTRUCTION = "under_construction", _("Under construction")
        COMPLETE = "complete", _("Complete")

    class DeliveryModel(models.TextChoices):
        HKSTP_FUNDED = "hkstp_funded", _("HKSTP-funded")
        PPP = "ppp", _("Public-private partnership")
        PARTNER_BUILT = "partner_built", _("Partner-built")

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="facilities", verbose_name=_("parcel"))
    facility_type = models.ForeignKey(
        FacilityType, on_delete=models.PROTECT, related_name="facilities", verbose_name=_("facility type")
    )
    name = models.CharField(_("name"), max_length=200)
    gfa_m2 = models.DecimalField(_("GFA (m²)"), **AREA)
    capacity = models.DecimalField(
        _("capacity"), max_digits=12, decimal_places=2, null=True, blank=True, help_text=_("In the type's unit.")
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.CONCEPT)
    planned_completion = models.DateField(_("planned completion"), null=True, blank=True)
    delivery_model = models.CharField(
        _("delivery model"), max_length=20, choices=DeliveryModel.choices, default=DeliveryModel.PPP
    )

    history = HistoricalRecords()

    objects = FacilityQuerySet.as_manager()

    class Meta:
        ordering = ["parcel__code", "name"]
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        constraints = [
            models.UniqueConstraint(
                fields=["parcel", "name"],
                name="facility_name_unique_on_parcel",
                violation_error_message=_("This parcel already has a facility with this name."),
            ),
            models.CheckConstraint(
                condition=Q(gfa_m2__gte=0),
                name="facility_gfa_not_negative",
                violation_error_message=_("GFA cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=0),
                name="facility_capacity_not_negative",
                violation_error_message=_("Capacity cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UtilityCapacity(VersionedModel):
    """Supply of one utility to a phase: how much, from when, how firm, and who delivers it."""

    class Kind(models.TextChoices):
        POWER = "power", _("Power")
        WATER = "water", _("Water")
        FIBRE = "fibre", _("Fibre")
        DISTRICT_COOLING = "district_cooling", _("District cooling")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        COMMITTED = "committed", _("Committed")
        COMMISSIONED = "commissioned", _("Commissioned")

    # Each kind has one unit, so figures of one kind can always be added up.
    UNITS = {
        Kind.POWER: _("MVA"),
        Kind.WATER: _("m³/day"),
        Kind.FIBRE: _("diverse routes"),
        Kind.DISTRICT_COOLING: _("RT"),
    }

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="utilities", verbose_name=_("phase"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    capacity = models.DecimalField(_("capacity"), max_digits=12, decimal_places=2)
    available_from = models.DateField(_("available from"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PLANNED)
    responsible = models.CharField(
        _("responsible party"),
        max_length=200,
        blank=True,
        help_text=_("Who delivers it: a department, a utility company, a contractor or a team."),
    )

    history = HistoricalRecords()

    objects = UtilityCapacityQuerySet.as_manager()

    class Meta:
        ordering = ["phase__number", "kind", "available_from"]
        verbose_name = _("utility capacity")
        verbose_name_plural = _("utility capacities")
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gte=0),
                name="utility_capacity_not_negative",
                violation_error_message=_("Capacity cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return _("%(kind)s %(capacity)s %(unit)s") % {
            "kind": self.get_kind_display(),
            "capacity": f"{self.capacity:,}",
            "unit": self.unit,
        }

    @property
    def unit(self) -> str:
        return str(self.UNITS[self.kind])


# An item lasts ten years at most (so no chain of items can run the calendar past its end).
MAX_DURATION_DAYS = 3650


class ScheduleItem(VersionedModel):
    """One activity or milestone of a phase's delivery schedule (see `planning.schedule` for the dates' meaning).

    The planner sets what is planned and known: the kind, the duration, the baseline (the dates promised), an
    optional "not before" date, the actual dates once they happen, and who is responsible for delivering it (the
    owner the dashboard names when the item blocks a phase). The scheduling engine sets the rest —
    forecast dates, late finish, total float, whether the item is critical and which predecessor drives it — in the
    same transaction as any schedule edit (`services.schedule_recompute`), so lists read them without recomputing.
    """

    class Kind(models.TextChoices):
        ACTIVITY = "activity", _("Activity")
        MILESTONE = "milestone", _("Milestone")

    class Category(models.TextChoices):
        # Milestones (one of each kind per phase, except "other").
        SITE_HANDOVER = "site_handover", _("Site handover")
        MASTER_LAYOUT_CONSENT = "master_layout_consent", _("Master layout plan consent")
        BUILDING_PLANS_APPROVAL = "building_plans_approval", _("Building plans approval")
        CONSTRUCTION_START = "construction_start", _("Construction start")
        OCCUPATION_PERMIT = "occupation_permit", _("Occupation permit")
        # Activities.
        DESIGN = "design", _("Design")
        SITE_FORMATION = "site_formation", _("Site formation")
        UTILITY_WORKS = "utility_works", _("Utility works")
        CONSTRUCTION = "construction", _("Construction")
        FIT_OUT = "fit_out", _("Fit-out")
        # Either.
        OTHER = "other", _("Other")

    MILESTONE_CATEGORIES = (
        Category.SITE_HANDOVER,
        Category.MASTER_LAYOUT_CONSENT,
        Category.BUILDING_PLANS_APPROVAL,
        Category.CONSTRUCTION_START,
        Category.OCCUPATION_PERMIT,
    )
    ACTIVITY_CATEGORIES = (
        Category.DESIGN,
        Category.SITE_FORMATION,
        Category.UTILITY_WORKS,
        Category.CONSTRUCTION,
        Category.FIT_OUT,
    )

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="schedule_items", verbose_name=_("phase"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.ACTIVITY)
    category = models.CharField(_("category"), max_length=30, choices=Category.choices, default=Category.OTHER)
    title = models.CharField(_("title"), max_length=200, blank=True, help_text=_("Required for category 'other'."))
    duration_days = models.PositiveIntegerField(
        _("duration (days)"),
        default=0,
        validators=[MaxValueValidator(MAX_DURATION_DAYS)],
        help_text=_("0 for a milestone; at least 1 for an activity."),
    )
    baseline_start = models.DateField(_("baseline start"), null=True, blank=True)
    baseline_finish = models.DateField(_("baseline finish"), null=True, blank=True)
    start_not_before = models.DateField(
        _("start not before"),
        null=True,
        blank=True,
        help_text=_("The earliest day it can start, whatever its predecessors (a permit's expected date)."),
    )
    actual_start = models.DateField(_("actual start"), null=True, blank=True)
    actual_finish = models.DateField(_("actual finish"), null=True, blank=True)
    facility = models.ForeignKey(
        Facility,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="schedule_items",
        verbose_name=_("facility delivered"),
    )
    utility = models.ForeignKey(
        UtilityCapacity,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="schedule_items",
        verbose_name=_("utility capacity delivered"),
    )
    responsible = models.CharField(
        _("responsible party"),
        max_length=200,
        blank=True,
        help_text=_("Who delivers it: a department, a utility company, a contractor or a team."),
    )

    # Set by the scheduling engine (services.schedule_recompute), never edited.
    forecast_start = models.DateField(_("forecast start"), null=True, blank=True, editable=False)
    forecast_finish = models.DateField(_("forecast finish"), null=True, blank=True, editable=False)
    late_finish = models.DateField(_("late finish"), null=True, blank=True, editable=False)
    total_float_days = models.IntegerField(_("total float (days)"), null=True, blank=True, editable=False)
    critical = models.BooleanField(_("critical"), default=False, editable=False)
    driving_predecessor = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("driven by"),
    )
    scheduled_on = models.DateField(_("scheduled on"), null=True, blank=True, editable=False)

    # What the engine writes (services.schedule_recompute): results, not edits, so not in the history.
    RESULT_FIELDS = (
        "forecast_start",
        "forecast_finish",
        "late_finish",
        "total_float_days",
        "critical",
        "driving_predecessor",
        "scheduled_on",
    )

    history = HistoricalRecords(excluded_fields=list(RESULT_FIELDS))

    objects = ScheduleItemQuerySet.as_manager()

    # Done on that day: not after today (core.models).
    past_date_fields = ("actual_start", "actual_finish")
    # Constraints on two fields, refused on the one a planner changes to fix it (core.models).
    constraint_fields = {
        "schedule_other_has_title": "title",
        "schedule_duration_by_kind": "duration_days",
        "schedule_category_matches_kind": "category",
        "schedule_baseline_order": "baseline_finish",
        "schedule_actual_order": "actual_finish",
    }

    class Meta:
        ordering = ["phase__number", "forecast_start", "forecast_finish", "id"]
        verbose_name = _("schedule item")
        verbose_name_plural = _("schedule items")
        constraints = [
            models.UniqueConstraint(
                fields=["phase", "category"],
                condition=Q(
                    category__in=[
                        "site_handover",
                        "master_layout_consent",
                        "building_plans_approval",
                        "construction_start",
                        "occupation_permit",
                    ]
                ),
                name="schedule_milestone_unique_in_phase",
                violation_error_message=_("This phase already has a milestone of this category."),
            ),
            models.CheckConstraint(
                condition=~Q(category="other") | ~Q(title=""),
                name="schedule_other_has_title",
                violation_error_message=_("An item of category 'other' needs a title."),
            ),
            models.CheckConstraint(
                condition=Q(kind="milestone", duration_days=0) | Q(kind="activity", duration_days__gt=0),
                name="schedule_duration_by_kind",
                violation_error_message=_("A milestone lasts 0 days; an activity at least 1 day."),
            ),
            models.CheckConstraint(
                condition=Q(category="other")
                | Q(
                    kind="milestone",
                    category__in=[
                        "site_handover",
                        "master_layout_consent",
                        "building_plans_approval",
                        "construction_start",
                        "occupation_permit",
                    ],
                )
                | Q(
                    kind="activity",
                    category__in=["design", "site_formation", "utility_works", "construction", "fit_out"],
                ),
                name="schedule_category_matches_kind",
                violation_error_message=_("This category belongs to the other kind of item."),
            ),
            models.CheckConstraint(
                condition=Q(baseline_start__isnull=True, baseline_finish__isnull=True)
                | Q(baseline_start__isnull=False, baseline_finish__gte=F("baseline_start")),
                name="schedule_baseline_order",
                violation_error_message=_("A baseline needs a start and a finish, the finish not before the start."),
            ),
            models.CheckConstraint(
                condition=Q(actual_start__isnull=True)
                | Q(actual_finish__isnull=True)
                | Q(actual_finish__gte=F("actual_start")),
                name="schedule_actual_order",
                violation_error_message=_("The actual finish cannot be before the actual start."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The title as written, or the category in the reader's language."""
        return self.title or str(self.get_category_display())

    @property
    def is_milestone(self) -> bool:
        return self.kind == self.Kind.MILESTONE

    @property
    def finished(self) -> bool:
        return self.actual_finish is not None

    @property
    def slip_days(self) -> int | None:
        """Forecast finish − baseline finish, in days (positive: late)."""
        if self.forecast_finish is None or self.baseline_finish is None:
            return None
        return (self.forecast_finish - self.baseline_finish).days

    @property
    def is_overdue(self) -> bool:
        """Not finished, and its baseline finish has passed: `ScheduleItemQuerySet.with_overdue`'s annotation when
        the row was read with it (lists do, so a page costs no query per row), else the same condition asked of
        this row."""
        if hasattr(self, "overdue"):
            return self.overdue
        if self.pk is None:
            return False
        return type(self).objects.filter(pk=self.pk).overdue().exists()


class ScheduleDependency(VersionedModel):
    """Finish-to-start: `successor` may start `lag_days` after `predecessor` finishes (negative: before it does).

    Both items belong to the same phase; the services refuse a dependency that would close a cycle, naming it."""

    predecessor = models.ForeignKey(
        ScheduleItem, on_delete=models.CASCADE, related_name="successor_links", verbose_name=_("predecessor")
    )
    successor = models.ForeignKey(
        ScheduleItem, on_delete=models.CASCADE, related_name="predecessor_links", verbose_name=_("successor")
    )
    lag_days = models.IntegerField(
        _("lag (days)"), default=0, help_text=_("Days between the predecessor's finish and the successor's start.")
    )

    history = HistoricalRecords()

    objects = ScheduleDependencyQuerySet.as_manager()

    class Meta:
        ordering = ["successor_id", "predecessor_id"]
        verbose_name = _("schedule dependency")
        verbose_name_plural = _("schedule dependencies")
        constraints = [
            models.UniqueConstraint(
                fields=["predecessor", "successor"],
                name="schedule_dependency_unique",
                violation_error_message=_("These two items are already linked."),
            ),
            models.CheckConstraint(
                condition=~Q(predecessor=F("successor")),
                name="schedule_dependency_not_itself",
                violation_error_message=_("An item cannot depend on itself."),
            ),
            models.CheckConstraint(
                condition=Q(lag_days__gte=-3650, lag_days__lte=3650),
                name="schedule_dependency_lag_range",
                violation_error_message=_("A lag is between −3,650 and 3,650 days (ten years)."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.predecessor} → {self.successor}"


class ReadinessPolicy(VersionedModel):
    """The one row of overall readiness settings staff can change in the admin."""

    ready_score = models.DecimalField(
        _("score for 'ready'"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.800"),
        help_text=_("With no failed gate and no failed criterion, a weighted score at least this high is 'ready'."),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("readiness policy")
        verbose_name_plural = _("readiness policy")
        constraints = [
            models.CheckConstraint(
                condition=Q(ready_score__gte=0, ready_score__lte=1),
                name="readiness_policy_score_0_1",
                violation_error_message=_("A score is between 0 and 1."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Readiness policy"))

    @classmethod
    def current(cls) -> "ReadinessPolicy":
        return cls.objects.order_by("pk").first() or cls()


class ReadinessCriterionSetting(VersionedModel):
    """Weight, gate, thresholds and targets of one readiness criterion (defaults come from the criterion's code).

    `targets` holds the criterion's own targets by name (for example the share of lettable GFA to be pre-committed),
    as text decimals; a target not stored takes the criterion's default. Which names a criterion takes, and their
    limits, the criterion declares (`planning.readiness.Target`); the service checks them.
    """

    code = models.SlugField(_("criterion"), max_length=40, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    weight = models.DecimalField(_("weight"), max_digits=5, decimal_places=2)
    is_gate = models.BooleanField(_("hard gate"), help_text=_("When it fails, the phase is blocked."))
    pass_threshold = models.DecimalField(_("pass from score"), max_digits=4, decimal_places=3)
    at_risk_threshold = models.DecimalField(_("at risk from score"), max_digits=4, decimal_places=3)
    targets = models.JSONField(
        _("targets"),
        default=dict,
        blank=True,
        help_text=_("The criterion's targets by name; a target not given takes the criterion's default."),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("readiness criterion setting")
        verbose_name_plural = _("readiness criterion settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=0),
                name="readiness_weight_not_negative",
                violation_error_message=_("A weight cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(
                    at_risk_threshold__gte=0, pass_threshold__lte=1, at_risk_threshold__lte=models.F("pass_threshold")
                ),
                name="readiness_thresholds_ordered",
                violation_error_message=_("Thresholds lie between 0 and 1, 'at risk' at or below 'pass'."),
            ),
        ]

    def __str__(self) -> str:
        return self.code


class ReadinessSnapshot(models.Model):
    """One computed readiness of a phase: score, state, each criterion with its reasons, and what it was built on."""

    class State(models.TextChoices):
        READY = "ready", _("Ready")
        AT_RISK = "at_risk", _("At risk")
        BLOCKED = "blocked", _("Blocked")

    phase = models.ForeignKey(
        Phase, on_delete=models.CASCADE, related_name="readiness_snapshots", verbose_name=_("phase")
    )
    computed_at = models.DateTimeField(_("computed at"))
    score = models.DecimalField(_("score"), max_digits=4, decimal_places=3)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    criteria = models.JSONField(_("criteria"))
    fingerprint = models.CharField(_("input fingerprint"), max_length=64)

    class Meta:
        ordering = ["phase", "-computed_at", "-id"]
        get_latest_by = "computed_at"
        verbose_name = _("readiness snapshot")
        verbose_name_plural = _("readiness snapshots")
        indexes = [models.Index(fields=["phase", "-computed_at"], name="snapshot_phase_latest")]

    def __str__(self) -> str:
        # In the site's time zone, as the admin shows the times in the page (not UTC as stored).
        when = date_format(timezone.localtime(self.computed_at), "DATETIME_FORMAT")
        return f"{self.phase} · {self.get_state_display()} · {when}"


class ReadinessSweep(models.Model):
    """When each periodic recompute last finished (one row per kind), for /healthz and the admin."""

    class Kind(models.TextChoices):
        STALE = "stale", _("Stale phases")
        ALL = "all", _("All phases (nightly)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, unique=True)
    finished_at = models.DateTimeField(_("finished at"))
    phases = models.PositiveIntegerField(_("phases recomputed"))

    class Meta:
        ordering = ["kind"]
        verbose_name = _("readiness sweep")
        verbose_name_plural = _("readiness sweeps")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {date_format(timezone.localtime(self.finished_at), 'DATETIME_FORMAT')}"
