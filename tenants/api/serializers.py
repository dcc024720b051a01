"""Serializers of the tenants API and of the roll-ups (commitments, EOI demand and allocations on the plan)."""

from decimal import Decimal

from rest_framework import serializers

from core.api import VersionField

from .. import services
from ..models import SpaceAllocation, Tenant

# Sums are sent as JSON numbers to the hundredth; room for any total the database can hold.
FIGURE = {"max_digits": 20, "decimal_places": 2, "coerce_to_string": False, "read_only": True}


class TenantSerializer(serializers.ModelSerializer):
    organisation_code = serializers.CharField(source="organisation.code", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name_en", read_only=True)
    version = VersionField(read_only=True)

    class Meta:
        model = Tenant
        fields = ["id", "organisation", "organisation_code", "organisation_name", "created", "version"]


class SpaceAllocationSerializer(serializers.ModelSerializer):
    tenant_name = serializers.CharField(source="tenant.organisation.name_en", read_only=True)
    facility_name = serializers.CharField(source="facility.name", read_only=True)
    parcel_code = serializers.CharField(source="facility.parcel.code", read_only=True)
    version = VersionField()

    class Meta:
        model = SpaceAllocation
        fields = [
            "id",
            *services.ALLOCATION_FIELDS,
            "tenant_name",
            "facility_name",
            "parcel_code",
            "version",
        ]


class PercentField(serializers.FloatField):
    """A percentage rounded to 2 decimals; null when its base is 0."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return float(round(Decimal(value), 2))


class RollupSerializer(serializers.Serializer):
    """What is committed, asked for and allocated on one level of the plan (occupancy and capital apart)."""

    id = serializers.IntegerField(read_only=True)
    lettable_gfa_m2 = serializers.DecimalField(help_text="GFA of lettable facility types.", **FIGURE)
    weighted_occupancy_gfa_m2 = serializers.DecimalField(
        help_text="Occupancy commitments' GFA × their stage's probability.", **FIGURE
    )
    precommitment_pct = PercentField(help_text="Weighted occupancy GFA in % of lettable GFA.")
    weighted_capital_hkd_m = serializers.DecimalField(
        help_text="Capital commitments' amounts × their stage's probability (HKD million).", **FIGURE
    )
    allocated_gfa_m2 = serializers.DecimalField(help_text="Signed and occupied space allocations.", **FIGURE)
    reserved_gfa_m2 = serializers.DecimalField(help_text="Reserved space allocations.", **FIGURE)
    total_gfa_m2 = serializers.DecimalField(help_text="GFA of all facilities.", **FIGURE)
    occupancy_pct = PercentField(help_text="Allocated GFA in % of the total GFA.")


class PhaseRollupSerializer(RollupSerializer):
    number = serializers.IntegerField(read_only=True)
    name_en = serializers.CharField(read_only=True)
    capex_hkd_m = serializers.DecimalField(max_digits=12, decimal_places=1, coerce_to_string=False, read_only=True)
    capital_cover_pct = PercentField(help_text="Weighted capital in % of the phase's capital cost.")
    eoi_demand_gfa_m2 = serializers.DecimalField(help_text="GFA asked for by live EOIs.", **FIGURE)


class ParcelRollupSerializer(RollupSerializer):
    code = serializers.CharField(read_only=True)
    phase_number = serializers.IntegerField(source="phase.number", read_only=True, allow_null=True)
    eoi_demand_gfa_m2 = serializers.DecimalField(help_text="GFA asked for by live EOIs.", **FIGURE)


class FacilityRollupSerializer(RollupSerializer):
    name = serializers.CharField(read_only=True)
    parcel_code = serializers.CharField(source="parcel.code", read_only=True)
    facility_type_code = serializers.CharField(source="facility_type.code", read_only=True)
    gfa_m2 = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False, read_only=True)
