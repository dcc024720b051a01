"""`/api/v1/parcels/geojson/` built from `values()` rows: the same Features as the documented serializer, a fixed
number of queries whatever the number of parcels, and its filters in the OpenAPI schema."""

import datetime
import json
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from planning.api.serializers import ParcelFeatureSerializer
from planning.models import Parcel
from tests.factories import FacilityFactory, ParcelFactory, PhaseFactory, grid_square

pytestmark = pytest.mark.django_db

URL = "/api/v1/parcels/geojson/"


def varied_parcels():
    """Parcels that exercise every property: surveyed and computed areas, a handover date, GFA from several
    facilities and none, a reserve parcel with no phase, an empty lot reference."""
    phase = PhaseFactory(number=3)
    surveyed = ParcelFactory(
        phase=phase,
        geometry=grid_square(0),
        surveyed_area_m2=Decimal("10123.45"),
        handover_date=datetime.date(2027, 3, 31),
        land_status=Parcel.LandStatus.HANDOVER_SCHEDULED,
        lot_ref="STTL 999",
    )
    FacilityFactory(parcel=surveyed, gfa_m2=Decimal("1234.56"))
    FacilityFactory(parcel=surveyed, gfa_m2=Decimal("2000.04"))
    ParcelFactory(phase=phase, campus=phase.campus, geometry=grid_square(1), lot_ref="")
    ParcelFactory(phase=None, campus=phase.campus, geometry=grid_square(2), max_plot_ratio=Decimal("4.25"))
    return phase


def test_features_are_exactly_what_the_documented_serializer_gives(api):
    varied_parcels()

    body = api.get(URL).json()

    parcels = Parcel.objects.select_related("phase").with_gfa()
    expected = json.loads(JSONRenderer().render(ParcelFeatureSerializer(parcels, many=True).data))
    assert body == {"type": "FeatureCollection", "features": expected}
    # Same keys in the same order, and the same JSON types (numbers stay numbers, dates ISO strings).
    first = body["features"][0]
    assert list(first) == ["type", "id", "geometry", "properties"]
    assert list(first["properties"]) == list(expected[0]["properties"])
    surveyed = next(f["properties"] for f in body["features"] if f["properties"]["lot_ref"] == "STTL 999")
    assert surveyed["site_area_m2"] == 10123.45
    assert surveyed["gfa_m2"] == 3234.6
    assert surveyed["handover_date"] == "2027-03-31"
    assert surveyed["phase"] == 3


def test_filters_still_select_the_parcels(api):
    phase = varied_parcels()
    other = PhaseFactory(campus=phase.campus, number=4)
    ParcelFactory(phase=other, campus=phase.campus, geometry=grid_square(5), code="P-OTHER")

    codes = [f["properties"]["code"] for f in api.get(f"{URL}?phase_number=4").json()["features"]]
    assert codes == ["P-OTHER"]
    reserve = api.get(f"{URL}?reserve=true").json()["features"]
    assert [f["properties"]["phase"] for f in reserve] == [None]
    assert api.get(f"{URL}?code=p-other").json()["features"][0]["properties"]["code"] == "P-OTHER"


def test_a_fixed_number_of_queries_whatever_the_number_of_parcels(api, django_assert_num_queries):
    phase = varied_parcels()
    for index in range(10, 30):
        parcel = ParcelFactory(phase=phase, campus=phase.campus, geometry=grid_square(index))
        FacilityFactory(parcel=parcel)
    # The token with its user, then every Feature (GFA summed in the same statement).
    with django_assert_num_queries(2):
        response = api.get(URL)
    assert len(response.json()["features"]) == 23


def test_the_schema_documents_the_parcel_filters(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/parcels/geojson/"]["get"]
    names = {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}
    assert {"campus", "phase", "phase_number", "reserve", "code", "land_status", "zoning", "ordering"} <= names
    # Not paginated: no page parameters on this operation.
    assert not {"page", "page_size"} & names
