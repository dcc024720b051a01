"""Polygons: validation with specific messages, normalisation on write, the pinned datum transformation, areas."""

import json
import math
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyproj.datadir
import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer
from shapely.geometry import LinearRing, Polygon

from planning import geometry
from planning.models import Parcel
from tests.factories import CAMPUS_ORIGIN

# Inside the San Tin area of HK1980 Grid (metres).
ORIGIN_X, ORIGIN_Y = 825300.0, 839200.0


def test_rectangle_built_in_hk1980_measures_its_area_after_storing_as_wgs84():
    stored = geometry.rectangle_geojson(ORIGIN_X, ORIGIN_Y, ORIGIN_X + 100, ORIGIN_Y + 250)
    # What is stored is plain WGS84 longitude/latitude.
    lon, lat = stored["coordinates"][0][0]
    assert 113.8 < lon < 114.5 and 22.1 < lat < 22.6

    area = geometry.area_m2(geometry.parse_polygon(stored))

    assert float(area) == pytest.approx(25_000, rel=0.001)


# The areas DESIGN promises: within 0.1 % of the true area on the ground. The reference is computed independently of
# the projection: the geodesic area on the WGS84 ellipsoid of the polygon exactly as stored (Karney's algorithm).
# Grid area and ellipsoidal area differ by the grid's scale factor (≤ 1.000 01 near San Tin), far inside 0.1 %.
WGS84_GEOD = Geod(ellps="WGS84")


def geodesic_area_m2(polygon: Polygon) -> float:
    area, _perimeter = WGS84_GEOD.geometry_area_perimeter(polygon)
    return abs(area)


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(min_value=113.85, max_value=114.40),
    lat=st.floats(min_value=22.20, max_value=22.55),
    width=st.floats(min_value=0.0001, max_value=0.02),
    height=st.floats(min_value=0.0001, max_value=0.02),
    skew=st.floats(min_value=-0.45, max_value=0.45),
)
def test_any_quadrilateral_in_hong_kong_measures_its_geodesic_area_within_0_1_percent(lon, lat, width, height, skew):
    # A convex quadrilateral in longitude/latitude: one corner moved along the top edge by up to 45 % of the width.
    stored = {
        "type": "Polygon",
        "coordinates": [
            [
                [lon, lat],
                [lon + width, lat],
                [lon + width + skew * width, lat + height],
                [lon, lat + height],
                [lon, lat],
            ]
        ],
    }
    polygon = geometry.parse_polygon(stored)

    area = float(geometry.area_m2(polygon))

    assert area == pytest.approx(geodesic_area_m2(polygon), rel=0.001)


def test_a_known_parcel_measures_what_the_ellipsoid_says():
    # 0.01° × 0.01° at San Tin: about 1,029 m east × 1,107 m north. Reference from the ellipsoid alone, no projection.
    stored = square(lon=114.07, lat=22.49, size=0.01)
    polygon = geometry.parse_polygon(stored)

    assert float(geometry.area_m2(polygon)) == pytest.approx(geodesic_area_m2(polygon), rel=0.001)
    assert geodesic_area_m2(polygon) == pytest.approx(1_139_500, rel=0.001)


def square(lon=114.07, lat=22.49, size=0.001):
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]],
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "Expected a GeoJSON object of type Polygon"),
        ({"type": "Point", "coordinates": [114.07, 22.49]}, "Expected a GeoJSON Polygon, got type 'Point'"),
        ({"type": "Polygon"}, "needs 'coordinates'"),
        (
            {"type": "Polygon", "coordinates": [[[114.07, 22.49], [114.08, 22.49], [114.07, 22.49]]]},
            "needs at least three different positions",
        ),
        (
            # Four positions, but only two different ones once repeated positions are dropped.
            {"type": "Polygon", "coordinates": [[[114.07, 22.49], [114.07, 22.49], [114.08, 22.49], [114.07, 22.49]]]},
            "needs at least three different positions",
        ),
        ({"type": "Polygon", "coordinates": ["a ring"]}, "is not a list of positions"),
        (
            {"type": "Polygon", "coordinates": [[[114.07, "x"], [114.08, 22.49], [114.08, 22.5], [114.07, "x"]]]},
            "not a finite number",
        ),
        (
            {"type": "Polygon", "coordinates": [[[22.49, 114.07], [22.5, 114.07], [22.5, 114.08], [22.49, 114.07]]]},
            "longitude comes first",
        ),
        (
            {"type": "Polygon", "coordinates": [[[200, 22.49], [201, 22.49], [201, 22.5], [200, 22.49]]]},
            "is not a WGS84 longitude/latitude",
        ),
        (square(lon=115.5), "outside Hong Kong"),
        (
            # A bow tie: the second and fourth edges cross.
            {
                "type": "Polygon",
                "coordinates": [[[114.07, 22.49], [114.08, 22.50], [114.08, 22.49], [114.07, 22.50], [114.07, 22.49]]],
            },
            "edges cross each other",
        ),
        (
            {"type": "Polygon", "coordinates": [[[114.07, 22.49], [114.08, 22.49], [114.09, 22.49], [114.07, 22.49]]]},
            "has no area",
        ),
        (
            # A triangle 100 m long and 1 cm wide: valid, but half a square metre.
            {
                "type": "Polygon",
                "coordinates": [[[114.07, 22.49], [114.071, 22.49], [114.07, 22.4900001], [114.07, 22.49]]],
            },
            "has no real area (under 1 m²",
        ),
    ],
)
def test_bad_polygons_are_refused_with_a_specific_message(value, message):
    with pytest.raises(ValidationError) as refused:
        geometry.parse_polygon(value)

    assert message in " ".join(refused.value.messages)


def test_overlap_and_outside_areas_are_measured_in_square_metres():
    a = geometry.parse_polygon(geometry.rectangle_geojson(ORIGIN_X, ORIGIN_Y, ORIGIN_X + 100, ORIGIN_Y + 100))
    b = geometry.parse_polygon(geometry.rectangle_geojson(ORIGIN_X + 50, ORIGIN_Y, ORIGIN_X + 150, ORIGIN_Y + 100))
    touching = geometry.parse_polygon(
        geometry.rectangle_geojson(ORIGIN_X + 100, ORIGIN_Y, ORIGIN_X + 200, ORIGIN_Y + 100)
    )

    assert geometry.overlap_m2(a, b) == pytest.approx(5_000, rel=0.001)
    assert geometry.overlap_m2(a, touching) < geometry.TOLERANCE_M2
    assert geometry.area_outside_m2(b, a) == pytest.approx(5_000, rel=0.001)


# --- normalisation: what is stored is RFC 7946 GeoJSON at the stored precision -----------------------------------


def ring_is_ccw(ring) -> bool:
    return LinearRing(ring).is_ccw


def test_a_clockwise_polygon_with_a_counter_clockwise_hole_is_stored_the_other_way_round():
    outer = [[114.07, 22.49], [114.07, 22.5], [114.08, 22.5], [114.08, 22.49], [114.07, 22.49]]  # clockwise
    hole = [[114.072, 22.492], [114.078, 22.492], [114.078, 22.498], [114.072, 22.498], [114.072, 22.492]]  # ccw

    stored = geometry.to_geojson(geometry.parse_polygon({"type": "Polygon", "coordinates": [outer, hole]}))

    exterior, interior = stored["coordinates"]
    assert ring_is_ccw(exterior) and not ring_is_ccw(interior)
    assert exterior == [list(point) for point in reversed(outer)]
    assert interior == [list(point) for point in reversed(hole)]


def test_coordinates_are_rounded_repeats_dropped_and_an_open_ring_closed():
    posted = {
        "type": "Polygon",
        "coordinates": [
            [
                [114.070000000123456, 22.490000000987654],
                [114.080000000000001, 22.49],
                [114.08, 22.49],  # the same position again
                [114.08, 22.5],
                [114.07, 22.5],
                # no closing position
            ]
        ],
    }

    stored = geometry.to_geojson(geometry.parse_polygon(posted))

    assert stored == {
        "type": "Polygon",
        "coordinates": [
            [[114.07, 22.490000001], [114.08, 22.49], [114.08, 22.5], [114.07, 22.5], [114.07, 22.490000001]]
        ],
    }


def test_normalising_twice_changes_nothing():
    once = geometry.to_geojson(geometry.parse_polygon(square()))

    assert geometry.to_geojson(geometry.parse_polygon(once)) == once


# --- the datum transformation: pinned to EPSG:1825 and checked against the Survey and Mapping Office ------------

# (HK1980 Grid easting, northing) ↔ (WGS84 latitude, longitude) as answered by the Survey and Mapping Office's
# coordinate conversion service (www.geodetic.gov.hk/smo/tform/tform.aspx and its /transform/v2/ API), as published
# in the documentation of the CRAN package HK80 (HK1980GRID_TO_WGS84GEO) and in the tests of the PyPI package hk1980.
SMO_REFERENCE_POINTS = [
    pytest.param((832_591.320, 820_351.389), (22.322172084, 114.141187917), id="Sham Shui Po, tform.aspx"),
    pytest.param((813_259.700, 818_940.160), (22.309278113, 113.953573028), id="Chek Lap Kok, hkgrid to wgsgeog"),
    pytest.param((818_940.161, 813_259.701), (22.2580467, 114.00876443), id="Lantau, wgsgeog to hkgrid"),
]


@pytest.mark.parametrize(("grid", "wgs84"), SMO_REFERENCE_POINTS)
def test_published_survey_and_mapping_office_points_agree_within_a_few_centimetres(grid, wgs84):
    lat, lon = wgs84
    easting, northing = grid

    to_grid = geometry.transformer_to_grid().transform(lon, lat)
    back_lon, back_lat = geometry.transformer_to_wgs84().transform(easting, northing)

    assert math.dist(to_grid, grid) < 0.03
    # The published latitude/longitude have 7 to 9 decimals (1e-7° is about 1 cm); compare on the ground, in metres.
    assert Geod(ellps="WGS84").inv(back_lon, back_lat, lon, lat)[2] < 0.03


def test_both_directions_apply_the_published_seven_parameter_transformation_and_nothing_else():
    assert geometry.datum_transformations(geometry.transformer_to_grid()) == ["EPSG:1825"]
    assert geometry.datum_transformations(geometry.transformer_to_wgs84()) == ["EPSG:1825"]


def test_a_transformation_without_the_datum_shift_is_refused_loudly():
    # What a PROJ install without its database would amount to: the map projection with no datum shift.
    no_shift = Transformer.from_crs("EPSG:4326", "+proj=tmerc " + TMERC_HK1980_GRID, always_xy=True)
    lat, lon = 22.322172084, 114.141187917
    # It is wrong by hundreds of metres in Hong Kong ...
    assert math.dist(no_shift.transform(lon, lat), (832_591.320, 820_351.389)) > 100

    # ... so it is never used.
    with pytest.raises(ImproperlyConfigured, match="not EPSG:1825"):
        geometry.ensure_pinned(no_shift)


def test_the_start_up_check_is_registered_and_passes():
    assert geometry.check_transformation in checks.registry.registry.get_checks()
    assert geometry.check_transformation() == []


def test_the_start_up_check_fails_when_the_proj_database_lacks_epsg_1825(tmp_path):
    # A PROJ database without EPSG:1825 (older or trimmed): PROJ would route through other transformations. A fresh
    # interpreter using it must fail `manage.py check`, naming EPSG:1825.
    database = tmp_path / "proj.db"
    shutil.copy(Path(pyproj.datadir.get_data_dir()) / "proj.db", database)
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM helmert_transformation_table WHERE auth_name = 'EPSG' AND code = '1825'")
    script = (
        "import sys, pyproj.datadir; pyproj.datadir.set_data_dir(sys.argv[1]);"
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('check')"
    )

    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(geometry.__file__).resolve().parent.parent,
    )

    assert result.returncode != 0
    assert "planning.E001" in result.stderr and "not EPSG:1825" in result.stderr


TMERC_HK1980_GRID = "+lat_0=22.3121333333333 +lon_0=114.178555555556 +k=1 +x_0=836694.05 +y_0=819069.8 +ellps=intl"


# --- through the API: what a client posts is what RFC 7946 wants when it comes back -----------------------------


def star_polygon_in_grid(centre, radii, jitters) -> list[tuple[float, float]]:
    """A simple (star-shaped) polygon around `centre`, its vertices counter-clockwise, in HK1980 Grid metres."""
    count = len(radii)
    points = []
    for index, (radius, jitter) in enumerate(zip(radii, jitters, strict=True)):
        angle = 2 * math.pi * (index + jitter * 0.4) / count
        points.append((centre[0] + radius * math.cos(angle), centre[1] + radius * math.sin(angle)))
    return points


def decimals(number_text: str) -> int:
    assert "e" not in number_text.lower()
    return len(number_text.partition(".")[2])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    centre=st.tuples(st.floats(250, 750), st.floats(250, 750)),
    shape=st.integers(3, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(30, 200), min_size=n, max_size=n), st.lists(st.floats(-1, 1), min_size=n, max_size=n)
        )
    ),
)
def test_a_clockwise_polygon_with_15_decimals_comes_back_counter_clockwise_with_9_and_the_same_area(
    api, campus, centre, shape
):
    grid_ccw = star_polygon_in_grid((CAMPUS_ORIGIN[0] + centre[0], CAMPUS_ORIGIN[1] + centre[1]), *shape)
    expected_area = Polygon(grid_ccw).area
    lonlat = [geometry.transformer_to_wgs84().transform(x, y) for x, y in reversed(grid_ccw)]  # clockwise
    ring = ", ".join(f"[{lon:.15f}, {lat:.15f}]" for lon, lat in [*lonlat, lonlat[0]])
    body = f'{{"campus": {campus.pk}, "code": "HYP", "geometry": {{"type": "Polygon", "coordinates": [[{ring}]]}}}}'

    created = api.post("/api/v1/parcels/", body, content_type="application/json")
    try:
        assert created.status_code == 201, created.content
        served = api.get(f"/api/v1/parcels/{created.json()['id']}/")
        collection = api.get("/api/v1/parcels/geojson/")
    finally:
        Parcel.objects.filter(code="HYP").delete()

    for response, geometry_of in [
        (served, lambda data: data["geometry"]),
        (collection, lambda data: data["features"][0]["geometry"]),
    ]:
        as_text = geometry_of(json.loads(response.content, parse_float=str))["coordinates"][0]
        as_numbers = geometry_of(json.loads(response.content))["coordinates"][0]
        assert max(decimals(text) for point in as_text for text in point) <= 9
        assert ring_is_ccw(as_numbers) and as_numbers[0] == as_numbers[-1]
        area = geometry.to_grid(Polygon(as_numbers)).area
        assert area == pytest.approx(expected_area, rel=1e-4)
    assert created.json()["computed_area_m2"] == pytest.approx(expected_area, rel=1e-4)
