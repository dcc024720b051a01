"""Serializers of the planning API. They shape and type-check data; the services decide what may be saved."""

from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import VersionedModelSerializer, VersionField
from core.units import m2_to_ha

from .. import selectors, services
from ..models import (
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

# Every number is sent as a JSON number, areas to the centimetre.
AREA = {"max_digits": 14, "decimal_places": 2, "coerce_to_string": False, "read_only": True}


class GeoJSONPolygonField(serializers.JSONField):
    """A GeoJSON Polygon (WGS84). Its shape and position are checked by the services, with specific messages."""


extend_schema_field(
    {
        "type": "object",
        "description": (
            "GeoJSON Polygon (RFC 7946), WGS84 longitude/latitude. Stored and returned normalised: exterior ring "
            "counter-clockwise, holes clockwise, 9 decimals, repeated positions dropped, rings closed."
        ),
        "properties": {
            "type": {"type": "string", "enum": ["Polygon"]},
            "coordinates": {
                "type": "array",
                "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            },
        },
        "required": ["type", "coordinates"],
    }
)(GeoJSONPolygonField)


class PlanWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.IntegerField()


class CampusSerializer(VersionedModelSerializer):
    boundary = GeoJSONPolygonField()

    class Meta:
        model = Campus
        fields = [
            "id",
            *services.CAMPUS_FIELDS,
            "version",
        ]


class PhaseListSerializer(serializers.ListSerializer):
    """Fetches the GFA breakdown of every phase on the page in one query."""

    def to_representation(self, data):
        phases = list(data.all() if hasattr(data, "all") else data)
        selectors.attach_gfa_by_type(phases)
        return super().to_representation(phases)


class PhaseSerializer(VersionedModelSerializer):
    site_area_m2 = serializers.DecimalField(
        help_text="Sum of the site areas of the phase's parcels (surveyed, else computed).", **AREA
    )
    site_area_ha = serializers.SerializerMethodField()
    gfa_m2 = serializers.DecimalField(help_text="Total planned GFA on the phase's parcels.", **AREA)
    gfa_by_type = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = Phase
        fields = [
            "id",
            *services.PHASE_FIELDS,
            "site_area_m2",
            "site_area_ha",
            "gfa_m2",
            "gfa_by_type",
            "warnings",
            "version",
        ]
        list_serializer_class = PhaseListSerializer

    def to_representation(self, instance):
        if not hasattr(instance, "gfa_by_type"):
            selectors.attach_gfa_by_type([instance])
        return super().to_representation(instance)

    @extend_schema_field(serializers.FloatField())
    def get_site_area_ha(self, phase) -> float:
        return float(round(m2_to_ha(phase.site_area_m2), 4))

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "number"}, "description": "GFA m² by facility type code"}
    )
    def get_gfa_by_type(self, phase) -> dict:
        return {code: float(total) for code, total in phase.gfa_by_type.items()}

    @extend_schema_field(PlanWarningSerializer(many=True))
    def get_warnings(self, phase) -> list:
        return PlanWarningSerializer(selectors.phase_warnings(phase), many=True).data


class ParcelSerializer(VersionedModelSerializer):
    geometry = GeoJSONPolygonField()
    phase_number = serializers.IntegerField(source="phase.number", read_only=True, allow_null=True)
    computed_area_m2 = serializers.DecimalField(help_text="Area of the polygon in HK1980 Grid (EPSG:2326).", **AREA)
    site_area_m2 = serializers.DecimalField(help_text="Surveyed area where recorded, else computed.", **AREA)
    site_area_ha = serializers.SerializerMethodField()
    area_difference_pct = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        coerce_to_string=False,
        read_only=True,
        allow_null=True,
        help_text="Surveyed vs computed area, in % of the computed area.",
    )
    area_mismatch = serializers.BooleanField(read_only=True, help_text="Surveyed and computed differ by over 1 %.")
    gfa_m2 = serializers.DecimalField(help_text="Total planned GFA on the parcel.", **AREA)
    gfa_cap_m2 = serializers.DecimalField(help_text="Max plot ratio × site area.", **AREA)

    class Meta:
        model = Parcel
        fields = [
            "id",
            *services.PARCEL_FIELDS,
            "phase_number",
            "computed_area_m2",
            "site_area_m2",
            "site_area_ha",
            "area_difference_pct",
            "area_mismatch",
            "gfa_m2",
            "gfa_cap_m2",
            "version",
        ]
        # Left out on create, these take the campus's defaults (null does the same for the numbers). Text is never
        # null in this API: null for a text field is a 400, and "" clears a field that may be blank.
        extra_kwargs = {
            "zoning": {"required": False},
            **{
                name: {"required": False, "allow_null": True}
                for name in ("max_plot_ratio", "max_site_coverage_pct", "max_building_height_mpd")
            },
        }

    @extend_schema_field(serializers.FloatField())
    def get_site_area_ha(self, parcel) -> float:
        return float(round(parcel.site_area_ha, 4))

    def validate(self, attrs):
        # The campus is chosen once, when the parcel is created.
        if self.instance is not None:
            attrs.pop("campus", None)
        elif "campus" not in attrs:
            raise serializers.ValidationError({"campus": _("This field is required.")})
        return attrs


class ParcelFeaturePropertiesSerializer(serializers.ModelSerializer):
    phase = serializers.IntegerField(source="phase.number", allow_null=True, help_text="Phase number; null = reserve.")
    site_area_m2 = serializers.DecimalField(**AREA)
    computed_area_m2 = serializers.DecimalField(**AREA)
    gfa_m2 = serializers.DecimalField(**AREA)
    max_plot_ratio = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    phase_id = serializers.IntegerField(allow_null=True, help_text="The phase's id; null = reserve.")
    gfa_cap_m2 = serializers.DecimalField(help_text="Max plot ratio × site area.", **AREA)
    site_area_ha = serializers.SerializerMethodField()
    facility_types = serializers.SerializerMethodField(help_text="Codes of the facility types on the parcel.")

    class Meta:
        model = Parcel
        fields = [
            "id",
            "code",
            "phase",
            "site_area_m2",
            "computed_area_m2",
            "gfa_m2",
            "max_plot_ratio",
            "land_status",
            "handover_date",
            "lot_ref",
            "zoning",
            "phase_id",
            "gfa_cap_m2",
            "site_area_ha",
            "facility_types",
            "version",
        ]

    @extend_schema_field(serializers.FloatField())
    def get_site_area_ha(self, parcel) -> float:
        return float(round(parcel.site_area_ha, 4))

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_facility_types(self, parcel) -> list[str]:
        return sorted({facility.facility_type.code for facility in parcel.facilities.all()})


class ParcelFeatureSerializer(serializers.Serializer):
    """One parcel as a Feature. The schema's description, and the reference `parcel_features` is tested against:
    the endpoint itself does not run it (a serializer per parcel cost 24× the plain path at 5,000 parcels)."""

    type = serializers.ChoiceField(choices=["Feature"])
    id = serializers.IntegerField()
    geometry = GeoJSONPolygonField()
    properties = ParcelFeaturePropertiesSerializer()

    def to_representation(self, parcel):
        return {
            "type": "Feature",
            "id": parcel.pk,
            "geometry": parcel.geometry,
            "properties": ParcelFeaturePropertiesSerializer(parcel).data,
        }


class ParcelFeatureCollectionSerializer(serializers.Serializer):
    """RFC 7946 FeatureCollection of parcels."""

    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = ParcelFeatureSerializer(many=True)


# The columns `parcel_features` reads: one query, the GFA and the facility types read in SQL (`ParcelQuerySet.for_map`:
# `with_gfa` by the caller, the codes here), no model instances. The phase's readiness is the phase's (/api/v1/phases/
# and the plan page have it): read per parcel it doubled this query's time at 5,000 parcels.
FEATURE_COLUMNS = (
    "id",
    "code",
    "phase__number",
    "surveyed_area_m2",
    "computed_area_m2",
    "gfa_m2",
    "max_plot_ratio",
    "land_status",
    "handover_date",
    "lot_ref",
    "zoning",
    "phase_id",
    "facility_type_codes",
    "version",
    "geometry",
)


def _number(value: Decimal | None) -> float | None:
    # What the serializer's DecimalField(coerce_to_string=False) renders: the stored 2-place decimal as a number.
    return None if value is None else float(value)


def parcel_features(parcels) -> list[dict]:
    """The Features of a queryset of parcels annotated `with_gfa()`: the same keys, order and types as
    `ParcelFeatureSerializer`, built from `values()` rows by a plain function (one query)."""
    features = []
    for row in parcels.with_facility_type_codes().values(*FEATURE_COLUMNS):
        surveyed = row["surveyed_area_m2"]
        site_area = surveyed if surveyed is not None else row["computed_area_m2"]
        handover = row["handover_date"]
        codes = row["facility_type_codes"]
        features.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": row["geometry"],
                "properties": {
                    "id": row["id"],
                    "code": row["code"],
                    "phase": row["phase__number"],
                    "site_area_m2": _number(site_area),
                    "computed_area_m2": _number(row["computed_area_m2"]),
                    "gfa_m2": _number(row["gfa_m2"]),
                    "max_plot_ratio": _number(row["max_plot_ratio"]),
                    "land_status": row["land_status"],
                    "handover_date": None if handover is None else handover.isoformat(),
                    "lot_ref": row["lot_ref"],
                    "zoning": row["zoning"],
                    "phase_id": row["phase_id"],
                    # Parcel.gfa_cap_m2 and ParcelSerializer.site_area_ha, from the row.
                    "gfa_cap_m2": _number((row["max_plot_ratio"] * site_area).quantize(Decimal("0.01"))),
                    "site_area_ha": float(round(m2_to_ha(site_area), 4)),
                    "facility_types": sorted(codes.split(",")) if codes else [],
                    "version": row["version"],
                },
            }
        )
    return features


class FacilityTypeSerializer(VersionedModelSerializer):
    class Meta:
        model = FacilityType
        fields = [
            "id",
            *services.FACILITY_TYPE_FIELDS,
            "version",
        ]


class FacilitySerializer(VersionedModelSerializer):
    facility_type_code = serializers.CharField(source="facility_type.code", read_only=True)
    parcel_code = serializers.CharField(source="parcel.code", read_only=True)
    phase = serializers.IntegerField(source="parcel.phase_id", read_only=True, allow_null=True)

    class Meta:
        model = Facility
        fields = [
            "id",
            *services.FACILITY_FIELDS,
            "parcel_code",
            "phase",
            "facility_type_code",
            "version",
        ]

    def validate(self, attrs):
        if self.instance is None and "parcel" not in attrs:
            raise serializers.ValidationError({"parcel": _("This field is required.")})
        return attrs


class UtilityCapacitySerializer(VersionedModelSerializer):
    unit = serializers.CharField(read_only=True)

    class Meta:
        model = UtilityCapacity
        fields = [
            "id",
            *services.UTILITY_FIELDS,
            "unit",
            "version",
        ]


# --- the schedule (ScheduleItemViewSet, ScheduleDependencyViewSet, PhaseViewSet.schedule) ------------------------

# The change reason is stored in the history row, whose column is this long (django-simple-history's default).
REASON_MAX_LENGTH = ScheduleItem.history.model._meta.get_field("history_change_reason").max_length
# No activity of a campus lasts longer (the lags' bound too); it also keeps every date the engine adds up in range.
DURATION_MAX_DAYS = 3650


def reason_field() -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=REASON_MAX_LENGTH,
        help_text=f"Why the change was made, kept in the history (at most {REASON_MAX_LENGTH} characters).",
    )


class RefusesFieldsItCannotSet:
    """A write naming a field it cannot set is refused with a 400 naming that field, not silently ignored: an
    integrator who sends `forecast_start` or `predecessors` would otherwise believe it was saved."""

    def refusal(self, name: str) -> str:
        if name in self.fields:
            return _("This field is read-only.")
        return _("Unknown field.")

    def to_internal_value(self, data):
        refused = {}
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refused = {name: [self.refusal(name)] for name in data if name not in writable}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if refused and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **refused}) from None
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


class ScheduleLinkSerializer(serializers.Serializer):
    """A predecessor of an item: the item it waits for and the lag after that item's finish."""

    id = serializers.IntegerField(help_text="The predecessor's id.")
    lag_days = serializers.IntegerField(help_text="Days from its finish to this item's start (negative: before).")


class ScheduleItemSerializer(RefusesFieldsItCannotSet, VersionedModelSerializer):
    """An activity or milestone: what the planner sets, and what the scheduling engine computed from it."""

    name = serializers.CharField(read_only=True, help_text="The title, or the category in the reader's language.")
    duration_days = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=DURATION_MAX_DAYS,
        help_text="0 for a milestone; 1 to 3,650 for an activity.",
    )
    reason = reason_field()
    slip_days = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Forecast finish − baseline finish, in days (positive: late)."
    )
    overdue = serializers.SerializerMethodField(help_text="Not finished and its baseline finish has passed.")
    predecessors = serializers.SerializerMethodField(
        help_text="The items this one waits for, with the lag in days (written at /api/v1/schedule-dependencies/)."
    )

    class Meta:
        model = ScheduleItem
        fields = [
            "id",
            "name",
            *services.SCHEDULE_ITEM_FIELDS,
            "reason",
            *[n for n in services.SCHEDULE_RESULT_FIELDS if n != "scheduled_on"],
            "slip_days",
            "overdue",
            "predecessors",
            "scheduled_on",
            "version",
        ]
        read_only_fields = services.SCHEDULE_RESULT_FIELDS

    def refusal(self, name: str) -> str:
        if name == "predecessors":
            return _("Dependencies are written at /api/v1/schedule-dependencies/.")
        if name in (*services.SCHEDULE_RESULT_FIELDS, "slip_days", "overdue"):
            return _(
                "The scheduling engine computes this field; it cannot be set (a 'start not before' date moves an item)."
            )
        return super().refusal(name)

    def get_overdue(self, item) -> bool:
        # The annotation is NULL for an item without a baseline: it has promised nothing, so it is not overdue.
        return bool(item.is_overdue)

    @extend_schema_field(ScheduleLinkSerializer(many=True))
    def get_predecessors(self, item) -> list[dict]:
        return [{"id": link.predecessor_id, "lag_days": link.lag_days} for link in item.predecessor_links.all()]


class ScheduleDependencySerializer(RefusesFieldsItCannotSet, VersionedModelSerializer):
    reason = reason_field()

    class Meta:
        model = ScheduleDependency
        fields = ["id", *services.SCHEDULE_DEPENDENCY_FIELDS, "reason", "version"]


class PhaseScheduleItemSerializer(ScheduleItemSerializer):
    """An item as its phase's schedule shows it: the item's fields, read-only, so the schema says each is always
    there."""

    def get_fields(self):
        fields = super().get_fields()
        del fields["reason"]
        for field in fields.values():
            field.read_only = True
        return fields


class PhaseScheduleSerializer(serializers.Serializer):
    """A phase's whole schedule, as the scheduling engine last computed it."""

    phase = serializers.IntegerField()
    planned_start = serializers.DateField()
    target_completion = serializers.DateField(help_text="The phase's planned completion, which the float is against.")
    forecast_completion = serializers.DateField(
        allow_null=True, help_text="The latest forecast finish; null: no items."
    )
    completion_slip_days = serializers.IntegerField(
        allow_null=True, help_text="Forecast completion − target completion, in days (positive: late)."
    )
    critical_path = serializers.ListField(
        child=serializers.IntegerField(), help_text="Critical items' ids, in forecast order."
    )
    items = PhaseScheduleItemSerializer(many=True, help_text="Every item, in forecast order.")


class ReasonObjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="parcel, schedule_item, utility, …")
    id = serializers.IntegerField()
    label = serializers.CharField()


class ReasonSerializer(serializers.Serializer):
    text = serializers.CharField()
    objects = ReasonObjectSerializer(many=True)


class CriterionResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    score = serializers.FloatField(min_value=0, max_value=1)
    state = serializers.ChoiceField(choices=["pass", "at_risk", "fail"])
    weight = serializers.FloatField()
    gate = serializers.BooleanField()
    reasons = ReasonSerializer(many=True)


class ReadinessSnapshotSerializer(serializers.ModelSerializer):
    score = serializers.FloatField(min_value=0, max_value=1)
    criteria = CriterionResultSerializer(many=True)

    class Meta:
        model = ReadinessSnapshot
        fields = ["computed_at", "score", "state", "criteria", "fingerprint"]


class CriterionStateSerializer(serializers.Serializer):
    code = serializers.CharField()
    score = serializers.FloatField()
    state = serializers.ChoiceField(choices=["pass", "at_risk", "fail"])


class ReadinessHistoryItemSerializer(serializers.ModelSerializer):
    """A snapshot in a trend: the overall figures and each criterion's state, without the reasons."""

    score = serializers.FloatField(min_value=0, max_value=1)
    criteria = serializers.SerializerMethodField()

    class Meta:
        model = ReadinessSnapshot
        fields = ["computed_at", "score", "state", "criteria"]

    @extend_schema_field(CriterionStateSerializer(many=True))
    def get_criteria(self, snapshot) -> list:
        return [{"code": c["code"], "score": c["score"], "state": c["state"]} for c in snapshot.criteria]


class PhaseReadinessSerializer(serializers.Serializer):
    """The phase's current readiness: the latest snapshot, and whether a change has made it stale since."""

    phase = serializers.IntegerField()
    stale = serializers.BooleanField(help_text="A change since the snapshot awaits its recompute.")
    stale_since = serializers.DateTimeField(allow_null=True)
    snapshot = ReadinessSnapshotSerializer(allow_null=True, help_text="Null until the first recompute.")


# --- split and merge (ParcelViewSet.split and .merge) -----------------------------------------------------------


class GeoJSONLineStringField(serializers.JSONField):
    """A GeoJSON LineString (WGS84). Its shape and position are checked by the services, with specific messages."""


extend_schema_field(
    {
        "type": "object",
        "description": "GeoJSON LineString (RFC 7946), WGS84 longitude/latitude, at least two different positions.",
        "properties": {
            "type": {"type": "string", "enum": ["LineString"]},
            "coordinates": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        },
        "required": ["type", "coordinates"],
    }
)(GeoJSONLineStringField)


class GeoJSONPointField(serializers.JSONField):
    """A GeoJSON Point (WGS84). Checked by the services, with specific messages."""


extend_schema_field(
    {
        "type": "object",
        "description": "GeoJSON Point (RFC 7946), WGS84 longitude/latitude.",
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["type", "coordinates"],
    }
)(GeoJSONPointField)


class ParcelSplitSerializer(serializers.Serializer):
    """A split: the line to cut along, the new parcel's code, and a point inside the part that stays this parcel."""

    version = VersionField(required=True, help_text="The parcel's edit version you read; 409 if it changed since.")
    line = GeoJSONLineStringField(
        help_text="Where to cut: it must cross the parcel completely and cut it into exactly two parts."
    )
    new_code = serializers.CharField(
        required=False, help_text="Code of the new parcel made of the other part. Required unless `dry_run`."
    )
    keep_at = GeoJSONPointField(
        required=False,
        help_text="A point inside the part that stays this parcel (with its code and facilities). Required unless "
        "`dry_run`.",
    )

    def validate(self, attrs):
        if not self.context.get("dry_run"):
            missing = {name: [_("This field is required.")] for name in ("new_code", "keep_at") if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class ParcelSplitPartSerializer(serializers.Serializer):
    geometry = GeoJSONPolygonField(help_text="The part, as it would be stored.")
    site_area_m2 = serializers.DecimalField(help_text="Its area in HK1980 Grid (EPSG:2326).", **AREA)
    keeps = serializers.BooleanField(
        allow_null=True, help_text="Whether this part stays the parcel (it holds `keep_at`); null without `keep_at`."
    )


class ParcelSplitPreviewSerializer(serializers.Serializer):
    """The answer of a dry run: the two parts, largest first. Nothing was saved."""

    dry_run = serializers.BooleanField(help_text="Always true: nothing was saved.")
    parts = ParcelSplitPartSerializer(many=True)


class ParcelSplitResultSerializer(serializers.Serializer):
    """The answer of a split: the parcel (now the kept part) and the new parcel."""

    kept = ParcelSerializer(help_text="The parcel, now the part that held `keep_at`, with its facilities.")
    created = ParcelSerializer(help_text="The new parcel made of the other part.")


class ParcelMergeSerializer(serializers.Serializer):
    """A merge: the parcel to absorb, and both versions you read."""

    version = VersionField(required=True, help_text="This parcel's edit version you read; 409 if it changed since.")
    other = serializers.PrimaryKeyRelatedField(
        queryset=Parcel.objects.all(), help_text="The parcel merged into this one; its facilities move, it is deleted."
    )
    other_version = VersionField(
        required=True, help_text="The other parcel's edit version you read; 409 if it changed since."
    )


class ParcelMergePreviewSerializer(serializers.Serializer):
    """The answer of a dry run: the merged parcel's polygon and figures. Nothing was saved."""

    dry_run = serializers.BooleanField(help_text="Always true: nothing was saved.")
    geometry = GeoJSONPolygonField(help_text="The merged polygon, as it would be stored.")
    site_area_m2 = serializers.DecimalField(help_text="Its area in HK1980 Grid (no surveyed area).", **AREA)
    gfa_m2 = serializers.DecimalField(help_text="The GFA of both parcels' facilities.", **AREA)
    gfa_cap_m2 = serializers.DecimalField(help_text="Max plot ratio × site area of the merged parcel.", **AREA)
