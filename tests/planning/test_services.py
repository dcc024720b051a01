"""The plan's rules (DESIGN §3), each from both sides, through the services."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.services import ConflictError
from planning import selectors, services
from planning.geometry import rectangle_geojson
from planning.models import Facility, Parcel, ScheduleDependency, ScheduleItem
from tests.factories import (
    CAMPUS_ORIGIN,
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    UtilityCapacityFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db

X0, Y0 = CAMPUS_ORIGIN


def messages_of(error: ValidationError, field: str) -> str:
    return " ".join(error.message_dict.get(field, []))


def new_parcel(phase, planner, **fields):
    defaults = {"code": "NEW", "geometry": grid_square(40), "max_plot_ratio": Decimal("5")}
    return services.parcel_create(actor=planner, campus=phase.campus, phase=phase, **{**defaults, **fields})


class TestParcelCode:
    @pytest.mark.parametrize(
        ("code", "message"),
        [("P1/A", "A parcel code cannot contain “/”."), ("new", "“new” is reserved; choose another parcel code.")],
    )
    def test_a_code_that_would_break_the_parcel_s_address_is_refused(self, planner, code, message):
        phase = PhaseFactory()
        with pytest.raises(ValidationError) as refused:
            new_parcel(phase, planner, code=code)
        assert refused.value.message_dict["code"] == [message]
        assert not Parcel.objects.exists()

    def test_new_in_capitals_is_an_ordinary_code(self, planner):
        assert new_parcel(PhaseFactory(), planner, code="NEW").code == "NEW"


def test_a_check_constraint_on_one_field_is_reported_on_that_field(planner):
    # The model's constraint, not a form's copy: the service's full_clean keys it by the field it looks at.
    with pytest.raises(ValidationError) as refused:
        new_parcel(PhaseFactory(), planner, max_site_coverage_pct=Decimal("120"))
    assert refused.value.message_dict == {"max_site_coverage_pct": ["Site coverage is a percentage from 0 to 100."]}
    assert not Parcel.objects.exists()


class TestParcelGeometry:
    def test_area_is_computed_in_hk1980_grid(self, planner):
        phase = PhaseFactory()
        parcel = new_parcel(phase, planner, geometry=rectangle_geojson(X0 + 10, Y0 + 10, X0 + 110, Y0 + 260))

        assert float(parcel.computed_area_m2) == pytest.approx(25_000, rel=0.001)
        assert parcel.site_area_m2 == parcel.computed_area_m2  # no survey recorded

    def test_surveyed_area_wins_and_a_difference_over_1_percent_is_flagged(self, planner):
        phase = PhaseFactory()
        parcel = new_parcel(phase, planner, surveyed_area_m2=Decimal("10050"))  # 100 m × 100 m drawn
        assert parcel.site_area_m2 == Decimal("10050")
        assert not parcel.area_mismatch

        parcel = services.parcel_update(parcel=parcel, actor=planner, surveyed_area_m2=Decimal("10200"))

        assert parcel.area_mismatch
        assert parcel.area_difference_pct == pytest.approx(Decimal("2.00"), abs=Decimal("0.02"))
        [warning] = [w for w in selectors.campus_warnings(phase.campus) if w.code == "parcel_area_mismatch"]
        assert "NEW" in warning.message and "more than 1 %" in warning.message

    @pytest.mark.parametrize(
        ("geometry", "message"),
        [
            (
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[114.07, 22.49], [114.071, 22.491], [114.071, 22.49], [114.07, 22.491], [114.07, 22.49]]
                    ],
                },
                "edges cross each other",
            ),
            (
                {"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.0], [113.1, 22.1], [113.0, 22.0]]]},
                "outside Hong Kong",
            ),
            (rectangle_geojson(X0 - 300, Y0 + 10, X0 - 200, Y0 + 110), "beyond the boundary"),
            (rectangle_geojson(X0 + 950, Y0 + 10, X0 + 1050, Y0 + 110), "extends 5,000 m² beyond the boundary"),
        ],
    )
    def test_bad_geometry_is_refused_and_nothing_is_saved(self, planner, geometry, message):
        phase = PhaseFactory()

        with pytest.raises(ValidationError) as refused:
            new_parcel(phase, planner, geometry=geometry)

        assert message in messages_of(refused.value, "geometry")
        assert not Parcel.objects.filter(code="NEW").exists()

    def test_overlapping_parcels_are_refused_naming_the_other_parcel(self, planner):
        phase = PhaseFactory()
        new_parcel(phase, planner, code="A", geometry=rectangle_geojson(X0 + 10, Y0 + 10, X0 + 110, Y0 + 110))

        with pytest.raises(ValidationError) as refused:
            new_parcel(phase, planner, code="B", geometry=rectangle_geojson(X0 + 60, Y0 + 10, X0 + 160, Y0 + 110))

        assert "overlaps parcel A by 5,000 m²" in messages_of(refused.value, "geometry")
        assert list(Parcel.objects.values_list("code", flat=True)) == ["A"]

    def test_parcels_that_only_touch_are_accepted(self, planner):
        phase = PhaseFactory()
        new_parcel(phase, planner, code="A", geometry=rectangle_geojson(X0 + 10, Y0 + 10, X0 + 110, Y0 + 110))
        new_parcel(phase, planner, code="B", geometry=rectangle_geojson(X0 + 110, Y0 + 10, X0 + 210, Y0 + 110))

        assert Parcel.objects.count() == 2

    def test_moving_a_parcel_onto_another_is_refused_and_the_old_geometry_kept(self, planner):
        phase = PhaseFactory()
        a = new_parcel(phase, planner, code="A", geometry=rectangle_geojson(X0 + 10, Y0 + 10, X0 + 110, Y0 + 110))
        b = new_parcel(phase, planner, code="B", geometry=rectangle_geojson(X0 + 200, Y0 + 10, X0 + 300, Y0 + 110))

        with pytest.raises(ValidationError):
            services.parcel_update(parcel=b, actor=planner, geometry=a.geometry)

        b.refresh_from_db()
        assert b.geometry["coordinates"][0][0][0] > a.geometry["coordinates"][0][0][0]
        assert b.version == 1


class TestGfaCap:
    def test_facility_gfa_up_to_the_cap_is_accepted(self, planner):
        parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
        FacilityFactory(parcel=parcel, gfa_m2=Decimal("37000"))
        FacilityFactory(parcel=parcel, gfa_m2=Decimal("8000"))

        assert sum(f.gfa_m2 for f in parcel.facilities.all()) == Decimal("45000")

    def test_gfa_over_the_cap_is_refused_with_the_numbers(self, planner):
        parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
        FacilityFactory(parcel=parcel, gfa_m2=Decimal("37000"))

        with pytest.raises(ValidationError) as refused:
            services.facility_create(
                actor=planner,
                parcel=parcel,
                facility_type=FacilityTypeFactory(),
                name="Too big",
                gfa_m2=Decimal("9000"),
            )

        assert "GFA 46,000 m² exceeds the cap of 45,000 m² (plot ratio 5.0 × 9,000 m²)" in messages_of(
            refused.value, "gfa_m2"
        )
        assert not Facility.objects.filter(name="Too big").exists()

    def test_lowering_the_plot_ratio_under_the_planned_gfa_is_refused(self, planner):
        parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
        FacilityFactory(parcel=parcel, gfa_m2=Decimal("45000"))

        with pytest.raises(ValidationError) as refused:
            services.parcel_update(parcel=parcel, actor=planner, max_plot_ratio=Decimal("4.5"))

        assert "exceeds the cap of 40,500 m² (plot ratio 4.5 × 9,000 m²)" in messages_of(
            refused.value, "max_plot_ratio"
        )
        parcel.refresh_from_db()
        assert parcel.max_plot_ratio == Decimal("5")

    def test_growing_a_facility_checks_the_cap_without_counting_it_twice(self, planner):
        parcel = ParcelFactory(surveyed_area_m2=Decimal("9000"), max_plot_ratio=Decimal("5"))
        facility = FacilityFactory(parcel=parcel, gfa_m2=Decimal("40000"))

        facility = services.facility_update(facility=facility, actor=planner, gfa_m2=Decimal("45000"))
        assert facility.gfa_m2 == Decimal("45000")
        with pytest.raises(ValidationError):
            services.facility_update(facility=facility, actor=planner, gfa_m2=Decimal("45000.01"))


class TestTotals:
    def test_campus_parcels_may_not_exceed_the_land_target_plus_1_percent(self, planner):
        phase = PhaseFactory()
        services.campus_update(campus=phase.campus, actor=planner, land_target_ha=Decimal("2"))
        new_parcel(phase, planner, code="A", geometry=grid_square(0), surveyed_area_m2=Decimal("10000"))
        # 10,000 + 10,200 = 20,200 m² = target + 1 %: still accepted.
        new_parcel(phase, planner, code="B", geometry=grid_square(1), surveyed_area_m2=Decimal("10200"))

        with pytest.raises(ValidationError) as refused:
            services.parcel_update(
                parcel=Parcel.objects.get(code="B"), actor=planner, surveyed_area_m2=Decimal("10201")
            )

        assert "would total 20,201 m², more than its land target of 20,000 m² + 1 % (20,200 m²)" in messages_of(
            refused.value, "surveyed_area_m2"
        )

    def test_lowering_the_land_target_below_the_parcels_is_refused(self, planner):
        phase = PhaseFactory()
        new_parcel(phase, planner, surveyed_area_m2=Decimal("10000"))

        with pytest.raises(ValidationError) as refused:
            services.campus_update(campus=phase.campus, actor=planner, land_target_ha=Decimal("0.5"))

        assert "total 10,000 m²" in messages_of(refused.value, "land_target_ha")

    def test_phase_off_its_target_by_more_than_5_percent_is_a_warning_not_a_refusal(self, planner):
        phase = PhaseFactory(target_area_ha=Decimal("2"))
        new_parcel(phase, planner, code="A", geometry=grid_square(0), surveyed_area_m2=Decimal("10000"))
        new_parcel(phase, planner, code="B", geometry=grid_square(1), surveyed_area_m2=Decimal("9000"))
        # 19,000 m² against 20,000 m²: -5.0 %, within tolerance.
        assert not [w for w in selectors.campus_warnings(phase.campus) if w.code == "phase_area_off_target"]

        services.parcel_update(parcel=Parcel.objects.get(code="B"), actor=planner, surveyed_area_m2=Decimal("8900"))

        [warning] = [w for w in selectors.campus_warnings(phase.campus) if w.code == "phase_area_off_target"]
        assert "18,900 m²" in warning.message and "-5.5 %" in warning.message and "20,000 m²" in warning.message

    def test_talent_housing_over_the_campus_cap_is_a_warning(self, planner):
        # Which types count is the type's flag, not its code: staff may name their housing types as they like.
        housing = FacilityTypeFactory(
            code="staff_flats", name_en="Talent accommodation", capacity_unit="units", counts_against_housing_cap=True
        )
        hotel = FacilityTypeFactory(code="talent_housing", name_en="Hotel", capacity_unit="rooms")
        parcel = ParcelFactory(max_plot_ratio=Decimal("6"))
        campus = services.campus_update(campus=parcel.campus, actor=planner, talent_housing_units_cap=1000)
        FacilityFactory(parcel=parcel, facility_type=housing, gfa_m2=Decimal("20000"), capacity=Decimal("1000"))
        FacilityFactory(parcel=parcel, facility_type=hotel, gfa_m2=Decimal("5000"), capacity=Decimal("300"))
        assert not selectors.campus_warnings(campus)

        FacilityFactory(parcel=parcel, facility_type=housing, gfa_m2=Decimal("1000"), capacity=Decimal("20"))

        [warning] = selectors.campus_warnings(campus)
        assert warning.code == "talent_housing_over_cap"
        assert "1,020 units" in warning.message and "1,000 units" in warning.message


class TestSchedule:
    """The rules the old milestones had, on the schedule (tests/planning/test_schedule_services.py has the rest)."""

    def test_a_dependency_closing_a_cycle_is_refused_naming_the_chain(self, planner):
        phase = PhaseFactory()
        a = MilestoneFactory(phase=phase, title="A")
        b = MilestoneFactory(phase=phase, title="B")
        c = MilestoneFactory(phase=phase, title="C")
        ScheduleDependencyFactory(predecessor=a, successor=b)
        ScheduleDependencyFactory(predecessor=b, successor=c)

        with pytest.raises(ValidationError) as refused:
            services.schedule_dependency_create(actor=planner, predecessor=c, successor=a)

        assert "would close a cycle: C → A → B → C" in messages_of(refused.value, "predecessor")
        assert not ScheduleDependency.objects.filter(successor=a).exists()

    def test_an_item_depending_on_itself_is_refused(self, planner):
        a = MilestoneFactory(title="A")
        with pytest.raises(ValidationError) as refused:
            services.schedule_dependency_create(actor=planner, predecessor=a, successor=a)
        assert "An item cannot depend on itself." in refused.value.messages
        assert not ScheduleDependency.objects.exists()

    def test_a_chain_without_cycle_is_accepted_and_overdue_is_computed(self, planner):
        phase = PhaseFactory()
        a = MilestoneFactory(phase=phase, title="A", baseline_start=datetime.date(2020, 1, 1))
        b = MilestoneFactory(phase=phase, title="B", baseline_start=datetime.date(2099, 1, 1))
        services.schedule_dependency_create(actor=planner, predecessor=a, successor=b)

        assert list(ScheduleItem.objects.overdue()) == [a]
        services.schedule_item_update(item=a, actor=planner, actual_start=datetime.date(2020, 1, 5))
        assert list(ScheduleItem.objects.overdue()) == []

    def test_two_milestones_of_the_same_category_in_a_phase_are_refused(self, planner):
        phase = PhaseFactory()
        fields = {"phase": phase, "kind": "milestone", "category": "site_handover"}
        services.schedule_item_create(actor=planner, baseline_start=datetime.date(2027, 1, 1), **fields)
        with pytest.raises(ValidationError) as refused:
            services.schedule_item_create(actor=planner, baseline_start=datetime.date(2027, 2, 1), **fields)
        assert "already has a milestone of this category" in " ".join(refused.value.messages)
        assert ScheduleItem.objects.filter(phase=phase).count() == 1


class TestEditsAndHistory:
    def test_an_edit_based_on_a_stale_version_is_refused(self, planner, executive):
        parcel = ParcelFactory()
        services.parcel_update(parcel=parcel, actor=planner, expected_version=1, lot_ref="Lot 1")

        with pytest.raises(ConflictError) as refused:
            services.parcel_update(parcel=parcel, actor=planner, expected_version=1, lot_ref="Lot 2")

        assert refused.value.current_version == 2
        parcel.refresh_from_db()
        assert parcel.lot_ref == "Lot 1"

    def test_every_change_records_who_when_and_old_to_new(self, planner):
        parcel = ParcelFactory(land_status="not_transferred")

        services.parcel_update(parcel=parcel, actor=planner, land_status="transferred")

        latest, first = parcel.history.all()[:2]
        assert latest.history_user == planner
        assert latest.history_type == "~"
        delta = latest.diff_against(first)
        assert [(c.field, c.old, c.new) for c in delta.changes] == [
            ("land_status", "not_transferred", "transferred"),
        ]

    def test_an_update_that_changes_nothing_writes_nothing(self, planner):
        parcel = ParcelFactory(lot_ref="Lot 1")
        rows = parcel.history.count()

        services.parcel_update(parcel=parcel, actor=planner, lot_ref="Lot 1")

        assert parcel.history.count() == rows
        parcel.refresh_from_db()
        assert parcel.version == 1

    def test_computed_fields_cannot_be_set_through_a_service(self, planner):
        parcel = ParcelFactory()
        with pytest.raises(ValidationError) as refused:
            services.parcel_update(parcel=parcel, actor=planner, computed_area_m2=Decimal("1"))
        assert "computed_area_m2" in refused.value.message_dict

    def test_deleting_a_phase_with_parcels_is_refused(self, planner):
        parcel = ParcelFactory()
        with pytest.raises(ValidationError) as refused:
            services.phase_delete(phase=parcel.phase, actor=planner)
        assert "still has 1 parcel; move it" in " ".join(refused.value.messages)

    def test_a_phase_of_another_campus_is_refused(self, planner):
        parcel = ParcelFactory()
        other_phase = PhaseFactory()  # a new campus
        with pytest.raises(ValidationError) as refused:
            services.parcel_update(parcel=parcel, actor=planner, phase=other_phase)
        assert "another campus" in messages_of(refused.value, "phase")


class TestUtilityCapacity:
    def test_the_responsible_party_is_saved_and_each_change_recorded_old_to_new(self, planner):
        utility = services.utility_capacity_create(
            actor=planner,
            phase=PhaseFactory(),
            kind="power",
            capacity=Decimal("12"),
            available_from=datetime.date(2027, 1, 1),
            responsible="CLP Power",
        )

        services.utility_capacity_update(utility=utility, actor=planner, responsible="CLP Power Hong Kong")

        latest, first = utility.history.all()[:2]
        assert (first.history_type, first.responsible) == ("+", "CLP Power")
        assert latest.history_user == planner
        assert [(c.field, c.old, c.new) for c in latest.diff_against(first).changes] == [
            ("responsible", "CLP Power", "CLP Power Hong Kong"),
        ]
        utility.refresh_from_db()
        assert (utility.responsible, utility.version) == ("CLP Power Hong Kong", 2)

    def test_a_responsible_party_over_200_characters_is_refused_on_its_field(self, planner):
        utility = UtilityCapacityFactory(responsible="Water Supplies Department")

        with pytest.raises(ValidationError) as refused:
            services.utility_capacity_update(utility=utility, actor=planner, responsible="x" * 201)

        assert refused.value.message_dict == {
            "responsible": ["Ensure this value has at most 200 characters (it has 201)."]
        }
        utility.refresh_from_db()
        assert (utility.responsible, utility.version, utility.history.count()) == ("Water Supplies Department", 1, 1)
