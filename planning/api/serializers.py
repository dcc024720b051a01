"""Serializers of the planning API. They shape and type-check data; the services decide what may be saved."""

from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import VersionedModelSerializer
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
        ]


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


# The columns `parcel_features` reads: one query, the GFA summed in SQL (`with_gfa`), no model instances.
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
    "geometry",
)


def _number(value: Decimal | None) -> float | None:
    # What the serializer's DecimalField(coerce_to_string=False) renders: the stored 2-place decimal as a number.
    return None if value is None else float(value)


def parcel_features(parcels) -> list[dict]:
    """The Features of a queryset of parcels annotated `with_gfa()`: the same keys, order and types as
    `ParcelFeatureSerializer`, built from `values()` rows by a plain function."""
    features = []
    for row in parcels.values(*FEATURE_COLUMNS):
        surveyed = row["surveyed_area_m2"]
        handover = row["handover_date"]
        features.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": row["geometry"],
                "properties": {
                    "id": row["id"],
                    "code": row["code"],
                    "phase": row["phase__number"],
                    "site_area_m2": _number(surveyed if surveyed is not None else row["computed_area_m2"]),
                    "computed_area_m2": _number(row["computed_area_m2"]),
                    "gfa_m2": _number(row["gfa_m2"]),
                    "max_plot_ratio": _number(row["max_plot_ratio"]),
                    "land_status": row["land_status"],
                    "handover_date": None if handover is None else handover.isoformat(),
                    "lot_ref": row["lot_ref"],
                    "zoning": row["zoning"],
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
