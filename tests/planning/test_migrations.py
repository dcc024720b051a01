"""Data migrations, run forward on rows written the way older code wrote them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from shapely.geometry import LinearRing

from planning.models import Campus, FacilityType, Parcel
from tests.factories import ParcelFactory

BEFORE = ("planning", "0004_readiness_targets")
NORMALISE = ("planning", "0005_normalise_stored_geometry")
HOUSING_FLAG = ("planning", "0006_facility_type_housing_cap")


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    """Each test moves the schema back: leave it at the latest migration for the tests that follow."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _as_stored_before(polygon: dict) -> dict:
    """What the API stored before writes were normalised: clockwise, 15 decimals, as the client posted it."""
    ring = [[lon + 1.234567e-12, lat - 7.654321e-13] for lon, lat in reversed(polygon["coordinates"][0])]
    ring[-1] = ring[0]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.django_db(transaction=True)
def test_polygons_stored_before_normalisation_are_normalised():
    parcel = ParcelFactory()
    campus = parcel.campus
    normal_parcel, normal_boundary = parcel.geometry, campus.boundary
    Parcel.objects.filter(pk=parcel.pk).update(geometry=_as_stored_before(normal_parcel))
    Campus.objects.filter(pk=campus.pk).update(boundary=_as_stored_before(normal_boundary))
    assert not LinearRing(Parcel.objects.get(pk=parcel.pk).geometry["coordinates"][0]).is_ccw

    _migrate(BEFORE)
    _migrate(NORMALISE)

    stored = Parcel.objects.get(pk=parcel.pk).geometry
    assert LinearRing(stored["coordinates"][0]).is_ccw
    assert stored == normal_parcel
    assert Campus.objects.get(pk=campus.pk).boundary == normal_boundary


@pytest.mark.django_db(transaction=True)
def test_the_talent_housing_type_counts_against_the_housing_cap_after_the_migration():
    _migrate(NORMALISE)
    with connection.cursor() as cursor:
        for code in ("talent_housing", "office"):
            cursor.execute(
                "INSERT INTO planning_facilitytype (created, updated, version, code, name_en, name_zh, lettable, core,"
                " capacity_unit, power_kva_per_m2) VALUES (now(), now(), 1, %s, %s, '', true, false, 'units', 0.1)",
                [code, code],
            )

    _migrate(HOUSING_FLAG)

    assert dict(FacilityType.objects.values_list("code", "counts_against_housing_cap")) == {
        "talent_housing": True,
        "office": False,
    }
