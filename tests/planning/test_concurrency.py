"""Rules that span rows hold when two planners save at the same moment (real transactions on PostgreSQL)."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from planning import services
from planning.geometry import rectangle_geojson
from planning.models import Facility, Parcel
from tests.factories import CAMPUS_ORIGIN, FacilityTypeFactory, ParcelFactory, PhaseFactory

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls) -> list:
    """Run the calls in threads released together; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:  # the refusal is the result under test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_facilities_that_each_fit_but_not_together_cannot_both_be_added(planner):
    parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
    office = FacilityTypeFactory()

    def add(name):
        return lambda: services.facility_create(
            actor=None,
            parcel=Parcel.objects.get(pk=parcel.pk),
            facility_type=office,
            name=name,
            gfa_m2=Decimal("30000"),
        )

    results = race(add("East"), add("West"))

    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 1, results
    assert "exceeds the cap of 45,000 m²" in refused[0].message_dict["gfa_m2"][0]
    assert Facility.objects.filter(parcel=parcel).count() == 1


def test_two_overlapping_parcels_cannot_both_be_added(planner):
    phase = PhaseFactory()
    x0, y0 = CAMPUS_ORIGIN

    def add(code, dx):
        geometry = rectangle_geojson(x0 + 10 + dx, y0 + 10, x0 + 110 + dx, y0 + 110)
        return lambda: services.parcel_create(
            actor=None, campus=phase.campus, phase=phase, code=code, geometry=geometry
        )

    results = race(add("A", 0), add("B", 50))

    assert sum(isinstance(r, ValidationError) for r in results) == 1, results
    assert Parcel.objects.count() == 1
