"""Serializers of the planning API. They shape and type-check data; the services decide what may be saved."""

from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import VersionedModelSerializer, VersionField
from core.units import m2_to_ha

from .. import selectors, services
from ..models import Campus, Facility, FacilityType, Milestone, Parcel, Phase, ReadinessSnapshot, UtilityCapacity

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


class MilestoneSerializer(VersionedModelSerializer):
    predecessors = serializers.PrimaryKeyRelatedField(many=True, queryset=Milestone.objects.all(), required=False)
    done = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField(help_text="Not done and its planned date has passed.")

    class Meta:
        model = Milestone
        fields = [
            "id",
            *services.MILESTONE_FIELDS,
            "predecessors",
            "done",
            "overdue",
            "version",
        ]

    def get_done(self, milestone) -> bool:
        return milestone.actual_date is not None

    def get_overdue(self, milestone) -> bool:
        return milestone.is_overdue


class ReasonObjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="parcel, milestone, utility, …")
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
