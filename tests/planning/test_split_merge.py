"""Splitting a parcel along a line and merging two adjacent parcels (planning.services.parcel_split / parcel_merge).

Shapes are laid out in HK1980 Grid metres and stored as WGS84, as surveys are. The parcel under the knife is
P1-C, a 100 m × 60 m rectangle (6,000 m²); a cut at 40 m from its west edge leaves 2,400 m² west and 3,600 m² east.
"""

import math
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from core.services import ConflictError
from planning import geometry, services
from planning.models import Facility, Parcel, Phase
from tenants.models import SpaceAllocation
from tests.factories import (
    CAMPUS_ORIGIN,
    AllocationFactory,
    CampusFactory,
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    OrganisationFactory,
    ParcelFactory,
    PhaseFactory,
    TenantFactory,
)
from tests.planning.test_concurrency import race

pytestmark = pytest.mark.django_db

X0, Y0 = CAMPUS_ORIGIN
# P1-C's corners, in grid metres.
WEST, SOUTH, EAST, NORTH = X0 + 100, Y0 + 100, X0 + 200, Y0 + 160


def line(*points) -> dict:
    """A GeoJSON LineString (WGS84) through points given in HK1980 Grid metres."""
    projected = geometry.from_grid(LineString(points))
    return {"type": "LineString", "coordinates": [list(point) for point in projected.coords]}


def point(x: float, y: float) -> dict:
    projected = geometry.from_grid(Point(x, y))
    return {"type": "Point", "coordinates": [projected.x, projected.y]}


# A cut from south to north, 40 m east of the west edge; a point in the east part and one in the west part.
CUT_AT_40 = line((WEST + 40, SOUTH - 10), (WEST + 40, NORTH + 10))
EAST_PART = point(WEST + 70, SOUTH + 30)
WEST_PART = point(WEST + 20, SOUTH + 30)


@pytest.fixture
def phase():
    return PhaseFactory(number=1, name_en="Phase 1")


@pytest.fixture
def parcel(phase):
    return ParcelFactory(
        phase=phase,
        code="P1-C",
        lot_ref="STTL 601",
        geometry=geometry.rectangle_geojson(WEST, SOUTH, EAST, NORTH),
        max_plot_ratio=Decimal("5"),
        land_status=Parcel.LandStatus.HANDOVER_SCHEDULED,
        handover_date="2027-03-31",
    )


def area(parcel: Parcel) -> float:
    return float(parcel.computed_area_m2)


def snapshot(*parcels: Parcel) -> tuple:
    """What a refused change must leave as it was: the parcels (version, geometry, area), counts, facilities."""
    rows = [
        Parcel.objects.filter(pk=p.pk).values_list("version", "geometry", "surveyed_area_m2").first() for p in parcels
    ]
    facilities = sorted(Facility.objects.values_list("pk", "parcel_id", "version"))
    return rows, Parcel.objects.count(), facilities, Parcel.history.count(), Facility.history.count()


def messages(refused: pytest.ExceptionInfo) -> dict:
    return refused.value.message_dict


# --- split --------------------------------------------------------------------------------------------------------


def test_the_part_holding_the_point_stays_the_parcel_and_the_other_becomes_a_new_one(parcel, phase):
    tower = FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("12000"))
    Phase.objects.filter(pk=phase.pk).update(readiness_stale=False, readiness_stale_since=None)

    split = services.parcel_split(
        parcel=parcel, actor=None, expected_version=1, line=CUT_AT_40, new_code="P1-C2", keep_at=EAST_PART
    )

    kept, created = Parcel.objects.get(pk=parcel.pk), Parcel.objects.get(code="P1-C2")
    assert (split.kept.pk, split.created.pk) == (kept.pk, created.pk)
    assert area(kept) == pytest.approx(3600, rel=0.001) and area(created) == pytest.approx(2400, rel=0.001)
    assert (kept.code, kept.lot_ref, kept.version) == ("P1-C", "STTL 601", 2)
    assert list(kept.facilities.values_list("name", flat=True)) == ["Tower"]
    assert Facility.objects.get(pk=tower.pk).version == 1  # the facility itself did not change
    assert (created.campus_id, created.phase_id, created.lot_ref, created.version) == (
        parcel.campus_id,
        phase.pk,
        "",
        1,
    )
    copied = ("zoning", "max_plot_ratio", "max_site_coverage_pct", "max_building_height_mpd", "land_status")
    assert [getattr(created, name) for name in copied] == [getattr(kept, name) for name in copied]
    assert str(created.handover_date) == "2027-03-31"
    assert not created.facilities.exists()
    assert kept.history.first().history_change_reason == "Split into P1-C and P1-C2"
    assert created.history.first().history_change_reason == "Split from P1-C"
    assert Phase.objects.get(pk=phase.pk).readiness_stale


def test_the_two_parts_share_the_cut_and_cover_the_parcel_exactly(parcel):
    before = geometry.parse_polygon(parcel.geometry)

    services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C2", keep_at=WEST_PART)

    kept = geometry.parse_polygon(Parcel.objects.get(code="P1-C").geometry)
    created = geometry.parse_polygon(Parcel.objects.get(code="P1-C2").geometry)
    assert geometry.area_m2(kept) == pytest.approx(Decimal(2400), rel=Decimal("0.001"))
    assert geometry.overlap_m2(kept, created) < 0.01
    # The new vertices on the outline are rounded to the stored precision (about 0.1 mm): slivers of under 0.1 m².
    assert geometry.to_grid(kept.union(created)).symmetric_difference(geometry.to_grid(before)).area < 0.1


def test_a_split_clears_the_surveyed_area_which_measured_the_whole_parcel(parcel):
    services.parcel_update(parcel=parcel, actor=None, surveyed_area_m2=Decimal("6010"))

    services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C2", keep_at=EAST_PART)

    assert list(Parcel.objects.order_by("code").values_list("code", "surveyed_area_m2")) == [
        ("P1-C", None),
        ("P1-C2", None),
    ]


def test_split_then_merge_back_gives_the_original_parcel_and_facilities(parcel):
    original = parcel.geometry
    FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("8000"))
    split = services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C2", keep_at=EAST_PART)
    FacilityFactory(parcel=split.created, name="Annex", gfa_m2=Decimal("2000"))

    merged = services.parcel_merge(parcel=split.kept, other=split.created, actor=None, expected_version=2)

    assert area(merged) == pytest.approx(6000, rel=0.001)
    assert merged.geometry == original  # the same vertices: the cut's vertices on the outline are dropped again
    assert sorted(merged.facilities.values_list("name", flat=True)) == ["Annex", "Tower"]
    assert list(Parcel.objects.values_list("code", flat=True)) == ["P1-C"]


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (
            line((WEST - 50, SOUTH - 10), (WEST - 50, NORTH + 10)),
            "The line does not reach parcel P1-C (it passes 50.0 m from it). Draw it across the parcel, from "
            "outside one edge to outside another.",
        ),
        (
            line((WEST - 10, SOUTH + 30), (WEST + 40, SOUTH + 30)),
            "The line does not cut parcel P1-C through, so it leaves 1 part. It must cross the parcel completely, "
            "from outside one edge to outside another.",
        ),
        (
            line((WEST + 20, SOUTH - 10), (WEST + 20, NORTH + 10), (WEST + 60, NORTH + 10), (WEST + 60, SOUTH - 10)),
            "The line cuts parcel P1-C into 3 parts; a split makes exactly two. Draw a line that crosses the parcel "
            "once.",
        ),
        (
            line((WEST - 1, SOUTH + 1.5), (WEST + 1.5, SOUTH - 1)),
            "The line cuts a sliver of less than 1 m² off parcel P1-C. Move it so that both parts are sites.",
        ),
    ],
    ids=["misses", "only-enters", "three-parts", "sliver"],
)
def test_a_line_that_does_not_cut_the_parcel_in_two_is_refused_and_nothing_is_saved(parcel, cut, message):
    before = snapshot(parcel)

    with pytest.raises(ValidationError) as refused:
        services.parcel_split(parcel=parcel, actor=None, line=cut, new_code="P1-C2", keep_at=EAST_PART)

    assert messages(refused) == {"line": [message]}
    assert snapshot(parcel) == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a line", "Expected a GeoJSON object of type LineString."),
        ({"type": "Polygon", "coordinates": []}, "Expected a GeoJSON LineString, got type 'Polygon'."),
        ({"type": "LineString"}, "A LineString needs 'coordinates': a list of positions."),
        ({"type": "LineString", "coordinates": [[114.07, 22.49]]}, "A line needs at least two different positions."),
        (
            {"type": "LineString", "coordinates": [[114.07, 22.49], [114.07, 22.49]]},
            "A line needs at least two different positions.",
        ),
        (
            {"type": "LineString", "coordinates": [[114.07, 22.49], [math.inf, 22.49]]},
            "Position 2 of the line has a coordinate that is not a finite number.",
        ),
        (
            {"type": "LineString", "coordinates": [[114.07, 22.49], [10**400, 22.49]]},
            "Position 2 of the line has a coordinate that is not a finite number.",
        ),
        (
            {"type": "LineString", "coordinates": [[114.07, 22.49], "east"]},
            "Position 2 of the line is not a [longitude, latitude] pair.",
        ),
        (
            {"type": "LineString", "coordinates": [[22.49, 114.07], [22.5, 114.07]]},
            "Position 1 of the line (22.49, 114.07) is not a WGS84 longitude/latitude (longitude comes first).",
        ),
        (
            {"type": "LineString", "coordinates": [[114.07, 22.49], [116.0, 22.49]]},
            "The line lies outside Hong Kong (longitude 113.8–114.5 E, latitude 22.1–22.6 N).",
        ),
    ],
    ids=["text", "polygon", "no-coordinates", "one-position", "repeated", "infinite", "huge", "not-a-pair",
         "swapped", "outside-hong-kong"],
)  # fmt: skip
def test_a_malformed_line_is_refused_with_what_is_wrong(parcel, value, message):
    with pytest.raises(ValidationError) as refused:
        services.parcel_split(parcel=parcel, actor=None, line=value, new_code="P1-C2", keep_at=EAST_PART)

    assert messages(refused) == {"line": [message]}


def test_the_point_to_keep_must_lie_inside_one_part(parcel):
    before = snapshot(parcel)
    cases = {
        "outside": (point(EAST + 30, SOUTH + 30), "The point to keep is not inside parcel P1-C (it is 30.0 m away). "
                    "Put it inside the part that stays parcel P1-C."),
        "on the line": (point(WEST + 40, SOUTH + 30), "The point to keep lies on the line. Put it inside the part "
                        "that stays parcel P1-C."),
        "not a point": ({"type": "Point", "coordinates": [114.07]}, "The point is not a [longitude, latitude] pair."),
        "missing": (None, "Give a point inside the part that stays parcel P1-C."),
    }  # fmt: skip
    for keep_at, message in cases.values():
        with pytest.raises(ValidationError) as refused:
            services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C2", keep_at=keep_at)
        assert messages(refused) == {"keep_at": [message]}
    assert snapshot(parcel) == before


def test_a_bad_line_and_a_bad_point_are_reported_together(parcel):
    with pytest.raises(ValidationError) as refused:
        services.parcel_split(parcel=parcel, actor=None, line={"type": "Point"}, new_code="X", keep_at={})

    assert messages(refused) == {
        "line": ["Expected a GeoJSON LineString, got type 'Point'."],
        "keep_at": ["Expected a GeoJSON Point, got type None."],
    }


@pytest.mark.parametrize(
    ("new_code", "message"),
    [
        ("P1-C", "This campus already has a parcel with this code."),
        ("", "This field cannot be blank."),
        ("P1-C-" + "X" * 20, "Ensure this value has at most 20 characters (it has 25)."),
    ],
)
def test_the_new_code_is_checked_like_any_parcel_code(parcel, new_code, message):
    before = snapshot(parcel)

    with pytest.raises(ValidationError) as refused:
        services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code=new_code, keep_at=EAST_PART)

    assert messages(refused) == {"new_code": [message]}
    assert snapshot(parcel) == before


def test_a_kept_part_too_small_for_the_facilities_is_refused_with_the_numbers_and_nothing_is_saved(parcel):
    FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("20000"))  # cap 5 × 6,000 = 30,000 m²
    before = snapshot(parcel)

    with pytest.raises(ValidationError) as refused:
        services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C2", keep_at=WEST_PART)

    assert messages(refused) == {
        "max_plot_ratio": ["GFA 20,000 m² exceeds the cap of 12,000 m² (plot ratio 5.0 × 2,400 m²)."]
    }
    assert snapshot(parcel) == before


def test_every_refusal_of_the_code_and_the_kept_part_is_reported_at_once(parcel):
    FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("20000"))

    with pytest.raises(ValidationError) as refused:
        services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C", keep_at=WEST_PART)

    assert set(messages(refused)) == {"new_code", "max_plot_ratio"}
    assert Parcel.objects.count() == 1


def test_a_split_based_on_a_stale_version_is_a_conflict(parcel):
    services.parcel_update(parcel=parcel, actor=None, lot_ref="STTL 602")
    before = snapshot(parcel)

    with pytest.raises(ConflictError) as conflict:
        services.parcel_split(
            parcel=parcel, actor=None, expected_version=1, line=CUT_AT_40, new_code="P1-C2", keep_at=EAST_PART
        )

    assert conflict.value.current_version == 2
    assert snapshot(parcel) == before


def test_the_new_parcel_is_checked_against_the_campus_total_once_the_survey_no_longer_counts(phase):
    """The campus's land target is 0.62 ha (+1 %: 6,262 m²). P1-C's polygon is 6,000 m², but it was surveyed at
    5,000 m² and a neighbour fills 1,000 m²: after the split the computed areas count, 7,000 m² in all."""
    campus = phase.campus
    services.campus_update(campus=campus, actor=None, land_target_ha=Decimal("0.62"))
    parcel = ParcelFactory(
        phase=phase,
        code="P1-C",
        geometry=geometry.rectangle_geojson(WEST, SOUTH, EAST, NORTH),
        surveyed_area_m2=Decimal("5000"),
    )
    ParcelFactory(phase=phase, code="P1-D", geometry=geometry.rectangle_geojson(X0 + 300, Y0 + 100, X0 + 320, Y0 + 150))

    with pytest.raises(ValidationError) as refused:
        services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C2", keep_at=EAST_PART)

    [message] = messages(refused)["geometry"]
    assert message.startswith("The campus's parcels would total 7,000 m², more than its land target of 6,200 m²")
    assert Parcel.objects.count() == 2 and Parcel.objects.get(pk=parcel.pk).surveyed_area_m2 == Decimal("5000")


def test_a_preview_cuts_as_the_split_would_and_saves_nothing(parcel):
    parts = services.parcel_split_preview(parcel=parcel, expected_version=1, line=CUT_AT_40, keep_at=WEST_PART)

    assert [(float(part.site_area_m2), part.keeps) for part in parts] == [
        pytest.approx((3600, False), rel=0.001),
        pytest.approx((2400, True), rel=0.001),
    ]
    assert [part.keeps for part in services.parcel_split_preview(parcel=parcel, line=CUT_AT_40)] == [None, None]
    assert Parcel.objects.get(pk=parcel.pk).version == 1
    split = services.parcel_split(parcel=parcel, actor=None, line=CUT_AT_40, new_code="P1-C2", keep_at=WEST_PART)
    assert split.kept.geometry == parts[1].geometry and split.created.geometry == parts[0].geometry


# Random lines across a random rectangle: either a clear refusal (keyed `line`, or `keep_at` when the line runs
# through the point to keep), or two parcels whose areas sum to the rectangle's within 0.1 % and do not overlap.
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.tuples(st.floats(5, 300), st.floats(5, 300)),
    positions=st.one_of(
        # anywhere around the rectangle (mostly refused: a line that misses, ends inside, zigzags…)
        st.lists(st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)), min_size=2, max_size=4),
        # from beyond the west edge to beyond the east edge, maybe through a bend (mostly cut in two)
        st.tuples(
            st.tuples(st.floats(-0.5, -0.01), st.floats(-0.5, 1.5)),
            st.lists(st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)), max_size=1),
            st.tuples(st.floats(1.01, 1.5), st.floats(-0.5, 1.5)),
        ).map(lambda parts: [parts[0], *parts[1], parts[2]]),
    ),
)
def test_any_line_either_cuts_two_parts_that_add_up_or_is_refused_clearly(phase, size, positions):
    width, height = size
    x0, y0 = X0 + 50, Y0 + 50
    rectangle_area = width * height
    with transaction.atomic():
        parcel = ParcelFactory(
            phase=phase, code="R", geometry=geometry.rectangle_geojson(x0, y0, x0 + width, y0 + height)
        )
        cut = line(*[(x0 + u * width, y0 + v * height) for u, v in positions])
        keep_at = point(x0 + 0.001 * width, y0 + 0.001 * height)  # near the south-west corner, inside
        try:
            split = services.parcel_split(parcel=parcel, actor=None, line=cut, new_code="R2", keep_at=keep_at)
        except ValidationError as error:
            event(f"refused: {error.messages[0][:40]}")
            assert set(error.message_dict) <= {"line", "keep_at"}
            assert all(message.strip() for messages in error.message_dict.values() for message in messages)
        else:
            event("split")
            kept, created = (geometry.parse_polygon(p.geometry) for p in (split.kept, split.created))
            assert float(split.kept.computed_area_m2 + split.created.computed_area_m2) == pytest.approx(
                rectangle_area, rel=0.001
            )
            assert geometry.overlap_m2(kept, created) < 0.001 * rectangle_area
            assert kept.covers(Point(point(x0 + 0.001 * width, y0 + 0.001 * height)["coordinates"]))
        transaction.set_rollback(True)


# --- merge --------------------------------------------------------------------------------------------------------


@pytest.fixture
def neighbour(phase):
    """P1-D, 50 m × 60 m, sharing P1-C's east edge."""
    return ParcelFactory(
        phase=phase,
        code="P1-D",
        geometry=geometry.rectangle_geojson(EAST, SOUTH, EAST + 50, NORTH),
        max_plot_ratio=Decimal("5"),
    )


def test_a_merge_takes_the_union_and_the_facilities_and_deletes_the_other(parcel, neighbour, phase):
    services.parcel_update(parcel=parcel, actor=None, surveyed_area_m2=Decimal("6005"))
    lab = FacilityFactory(parcel=neighbour, name="Lab", gfa_m2=Decimal("5000"))
    hall = FacilityFactory(parcel=neighbour, name="Hall", gfa_m2=Decimal("3000"))
    Phase.objects.filter(pk=phase.pk).update(readiness_stale=False, readiness_stale_since=None)

    merged = services.parcel_merge(
        parcel=parcel, other=neighbour, actor=None, expected_version=2, other_expected_version=1
    )

    merged = Parcel.objects.get(pk=parcel.pk)
    assert (merged.code, merged.version, merged.surveyed_area_m2) == ("P1-C", 3, None)
    assert area(merged) == pytest.approx(9000, rel=0.001)
    assert len(merged.geometry["coordinates"][0]) == 5  # one rectangle: no vertex left where the shared edge was
    assert not Parcel.objects.filter(pk=neighbour.pk).exists()
    assert sorted(merged.facilities.values_list("name", flat=True)) == ["Hall", "Lab"]
    for facility in (lab, hall):
        moved = Facility.objects.get(pk=facility.pk)
        assert moved.version == 2
        assert moved.history.first().history_change_reason == "Moved from parcel P1-D when it was merged into P1-C"
    assert Parcel.history.filter(id=neighbour.pk).first().history_type == "-"
    assert Parcel.history.filter(id=neighbour.pk).first().history_change_reason == "Merged into P1-C"
    assert merged.history.first().history_change_reason == "Merged with P1-D"
    assert Phase.objects.get(pk=phase.pk).readiness_stale


def test_parcels_sharing_part_of_an_edge_merge_into_one_polygon(parcel, phase):
    """P1-E meets P1-C's east edge over 30 of its 60 m, a T-junction on each side."""
    other = ParcelFactory(
        phase=phase, code="P1-E", geometry=geometry.rectangle_geojson(EAST, SOUTH + 10, EAST + 40, SOUTH + 40)
    )

    merged = services.parcel_merge(parcel=parcel, other=other, actor=None)

    assert merged.geometry["type"] == "Polygon" and len(merged.geometry["coordinates"]) == 1
    assert area(merged) == pytest.approx(7200, rel=0.001)


def test_parcels_whose_shared_edge_differs_by_rounding_merge_without_slivers(parcel, phase):
    """P1-F was surveyed separately: its west edge runs 2 cm east of P1-C's east edge (under the 1 m² overlap
    tolerance, under the 5 cm snapping tolerance)."""
    other = ParcelFactory(
        phase=phase, code="P1-F", geometry=geometry.rectangle_geojson(EAST + 0.02, SOUTH, EAST + 50, NORTH)
    )

    merged = services.parcel_merge(parcel=parcel, other=other, actor=None)

    assert merged.geometry["coordinates"][0] and len(merged.geometry["coordinates"]) == 1  # no hole
    assert area(merged) == pytest.approx(9000, rel=0.001)


def test_two_reserve_parcels_merge(phase):
    reserve = {"phase": None, "campus": phase.campus}
    a = ParcelFactory(code="R-1", geometry=geometry.rectangle_geojson(WEST, SOUTH, EAST, NORTH), **reserve)
    b = ParcelFactory(code="R-2", geometry=geometry.rectangle_geojson(EAST, SOUTH, EAST + 50, NORTH), **reserve)

    merged = services.parcel_merge(parcel=a, other=b, actor=None)

    assert merged.phase_id is None and area(merged) == pytest.approx(9000, rel=0.001)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            (EAST + 12.5, SOUTH, EAST + 60, NORTH),
            "Parcels P1-C and P1-G do not touch: they are 12.50 m apart. Only parcels that share an edge can be "
            "merged.",
        ),
        (
            (EAST, NORTH, EAST + 50, NORTH + 40),
            "Parcels P1-C and P1-G only touch at a corner. Only parcels that share an edge can be merged.",
        ),
    ],
    ids=["gap", "corner"],
)
def test_parcels_that_do_not_share_an_edge_are_not_merged(parcel, phase, where, message):
    other = ParcelFactory(phase=phase, code="P1-G", geometry=geometry.rectangle_geojson(*where))
    FacilityFactory(parcel=other, name="Lab")
    before = snapshot(parcel, other)

    with pytest.raises(ValidationError) as refused:
        services.parcel_merge(parcel=parcel, other=other, actor=None)

    assert messages(refused) == {"other": [message]}
    assert snapshot(parcel, other) == before


def test_parcels_of_different_phases_are_not_merged(parcel, phase):
    phase_2 = PhaseFactory(campus=phase.campus, number=2, name_en="Phase 2")
    other = ParcelFactory(
        phase=phase_2, code="P2-A", geometry=geometry.rectangle_geojson(EAST, SOUTH, EAST + 50, NORTH)
    )
    reserve = ParcelFactory(
        phase=None, campus=phase.campus, code="R-1", geometry=geometry.rectangle_geojson(WEST - 50, SOUTH, WEST, NORTH)
    )

    with pytest.raises(ValidationError) as different:
        services.parcel_merge(parcel=parcel, other=other, actor=None)
    with pytest.raises(ValidationError) as in_reserve:
        services.parcel_merge(parcel=parcel, other=reserve, actor=None)

    assert messages(different) == {
        "other": ["Parcel P1-C is in Phase 1 and parcel P2-A in Phase 2; only parcels of the same phase can be merged."]
    }
    assert messages(in_reserve) == {
        "other": [
            "Parcel P1-C is in Phase 1 and parcel R-1 in the reserve; only parcels of the same phase can be merged."
        ]
    }
    assert Parcel.objects.count() == 3


def test_a_parcel_is_not_merged_with_itself_nor_with_one_of_another_campus(parcel):
    elsewhere = ParcelFactory(phase=None, campus=CampusFactory(), code="X-1")

    with pytest.raises(ValidationError) as itself:
        services.parcel_merge(parcel=parcel, other=parcel, actor=None)
    with pytest.raises(ValidationError) as other_campus:
        services.parcel_merge(parcel=parcel, other=elsewhere, actor=None)

    assert messages(itself) == {"other": ["Parcel P1-C cannot be merged with itself."]}
    assert messages(other_campus) == {
        "other": ["Parcel X-1 belongs to another campus than P1-C; only parcels of the same campus can be merged."]
    }


def test_the_guards_of_the_other_parcel_refuse_the_merge_listing_what_holds_it(parcel, neighbour):
    hall = FacilityFactory(parcel=neighbour, name="Edge Data Hall 1", gfa_m2=Decimal("8000"))
    kestrel = TenantFactory(organisation=OrganisationFactory(name_en="Kestrel Sight AI"))
    AllocationFactory(tenant=kestrel, facility=hall, gfa_m2=Decimal("6000"), status=SpaceAllocation.Status.SIGNED)
    CommitmentFactory(parcel=neighbour, organisation=OrganisationFactory(name_en="Nimbrel Labs"))
    EOIFactory(preferred_parcel=neighbour, preferred_phase=neighbour.phase, status="submitted")
    before = snapshot(parcel, neighbour)

    with pytest.raises(ValidationError) as refused:
        services.parcel_merge(parcel=parcel, other=neighbour, actor=None)

    found = messages(refused)["other"]
    assert (
        "Parcel P1-D cannot be deleted: 1 commitment is made on it (Nimbrel Labs, occupancy at Heads of terms, "
        "1,000 m²)." in found
    )
    assert any(
        message.startswith("Parcel P1-D cannot be deleted: 1 EOI still in play asks for it") for message in found
    )
    assert (
        "Facility Edge Data Hall 1 cannot move from parcel P1-D to parcel P1-C: 6,000 m² in it is signed or occupied "
        "(allocations: Kestrel Sight AI 6,000 m²)." in found
    )
    assert len(found) == 3
    assert snapshot(parcel, neighbour) == before


def test_reserved_space_follows_its_facility_into_the_merged_parcel(parcel, neighbour):
    hall = FacilityFactory(parcel=neighbour, name="Hall", gfa_m2=Decimal("8000"))
    reserved = AllocationFactory(facility=hall, gfa_m2=Decimal("2000"), status=SpaceAllocation.Status.RESERVED)

    services.parcel_merge(parcel=parcel, other=neighbour, actor=None)

    reserved.refresh_from_db()
    assert reserved.facility.parcel_id == parcel.pk


def test_a_merged_parcel_over_its_gfa_cap_is_refused_with_the_numbers(parcel, phase):
    """The merged parcel keeps P1-C's plot ratio (1.0): 9,000 m² × 1.0 is less than the 14,000 m² planned."""
    services.parcel_update(parcel=parcel, actor=None, max_plot_ratio=Decimal("1"))
    FacilityFactory(parcel=parcel, name="Tower", gfa_m2=Decimal("4000"))
    other = ParcelFactory(
        phase=phase,
        code="P1-D",
        max_plot_ratio=Decimal("5"),
        geometry=geometry.rectangle_geojson(EAST, SOUTH, EAST + 50, NORTH),
    )
    FacilityFactory(parcel=other, name="Lab", gfa_m2=Decimal("10000"))
    before = snapshot(parcel, other)

    with pytest.raises(ValidationError) as refused:
        services.parcel_merge(parcel=parcel, other=other, actor=None)

    assert messages(refused) == {
        "max_plot_ratio": ["GFA 14,000 m² exceeds the cap of 9,000 m² (plot ratio 1.0 × 9,000 m²)."]
    }
    assert snapshot(parcel, other) == before


@pytest.mark.parametrize("stale", ["parcel", "other"])
def test_a_merge_based_on_a_stale_version_of_either_parcel_is_a_conflict(parcel, neighbour, stale):
    services.parcel_update(parcel=parcel if stale == "parcel" else neighbour, actor=None, lot_ref="changed")
    before = snapshot(parcel, neighbour)

    with pytest.raises(ConflictError) as conflict:
        services.parcel_merge(parcel=parcel, other=neighbour, actor=None, expected_version=1, other_expected_version=1)

    assert (conflict.value.expected_version, conflict.value.current_version) == (1, 2)
    assert snapshot(parcel, neighbour) == before


# --- at the same moment (real transactions) ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_planners_merging_the_same_parcel_at_once_get_one_merge_and_one_clear_refusal():
    """P1-B lies between P1-A and P1-C; both neighbours try to absorb it at once. The campus lock orders them: one
    merge happens, the other is told that P1-B is gone (no deadlock, no server error)."""
    phase = PhaseFactory()
    a, b, c = (
        ParcelFactory(
            phase=phase, code=code, geometry=geometry.rectangle_geojson(WEST + dx, SOUTH, WEST + dx + 50, NORTH)
        )
        for code, dx in (("P1-A", 0), ("P1-B", 50), ("P1-C", 100))
    )

    def merge_into(parcel):
        return lambda: services.parcel_merge(
            parcel=Parcel.objects.get(pk=parcel.pk), other=Parcel.objects.get(pk=b.pk), actor=None
        )

    results = race(merge_into(a), merge_into(c))

    merged = [result for result in results if isinstance(result, Parcel)]
    refused = [result for result in results if isinstance(result, ValidationError)]
    assert (len(merged), len(refused)) == (1, 1), results
    assert refused[0].message_dict == {
        "other": ["This parcel (P1-B) has been deleted in the meantime; reload the page."]
    }
    assert sorted(Parcel.objects.values_list("code", flat=True)) == ["P1-A", "P1-C"]
    assert float(Parcel.objects.get(pk=merged[0].pk).computed_area_m2) == pytest.approx(6000, rel=0.001)
