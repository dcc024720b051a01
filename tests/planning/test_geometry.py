"""Polygons: validation with specific messages, and areas in HK1980 Grid accurate to 0.1 %."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from planning import geometry

# Inside the San Tin area of HK1980 Grid (metres).
ORIGIN_X, ORIGIN_Y = 825300.0, 839200.0


def test_rectangle_built_in_hk1980_measures_its_area_after_storing_as_wgs84():
    stored = geometry.rectangle_geojson(ORIGIN_X, ORIGIN_Y, ORIGIN_X + 100, ORIGIN_Y + 250)
    # What is stored is plain WGS84 longitude/latitude.
    lon, lat = stored["coordinates"][0][0]
    assert 113.8 < lon < 114.5 and 22.1 < lat < 22.6

    area = geometry.area_m2(geometry.parse_polygon(stored))

    assert float(area) == pytest.approx(25_000, rel=0.001)


@settings(max_examples=60, deadline=None)
@given(
    x=st.floats(min_value=806_000, max_value=860_000),
    y=st.floats(min_value=806_000, max_value=845_000),
    width=st.floats(min_value=10, max_value=2_000),
    height=st.floats(min_value=10, max_value=2_000),
)
def test_any_rectangle_in_hong_kong_keeps_its_area_within_0_1_percent(x, y, width, height):
    stored = geometry.rectangle_geojson(x, y, x + width, y + height)

    area = float(geometry.area_m2(geometry.parse_polygon(stored)))

    assert area == pytest.approx(width * height, rel=0.001)


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
        ({"type": "Polygon", "coordinates": [[[114.07, 22.49], [114.08, 22.49], [114.07, 22.49]]]}, "at least four"),
        (
            {"type": "Polygon", "coordinates": [[[114.07, 22.49], [114.08, 22.49], [114.08, 22.5], [114.07, 22.5]]]},
            "is not closed",
        ),
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
