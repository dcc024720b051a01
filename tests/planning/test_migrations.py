"""Data migrations, run forward on rows written the way older code wrote them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from shapely.geometry import LinearRing

from planning.models import Campus, Parcel
from tests.factories import ParcelFactory

BEFORE = ("planning", "0004_readiness_targets")
NORMALISE = ("planning", "0005_normalise_stored_geometry")


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


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
