"""The phase view (`/plan/phases/<number>/`) on the server side: what it says about a phase (readiness with its
reasons, the schedule against the target, site area, GFA and capacity by type, power and water by date), its
readiness fragment that htmx polls while a recompute is pending, who may open it, which campus a number means, and
a query count that does not grow with the phase's contents; and the phase as it stood at the end of a past day
(`?as_of=`), read-only, with its history of changes."""

import datetime
import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone

from planning import readiness, selectors, services
from planning.models import Facility, Parcel, Phase, ReadinessSnapshot, ScheduleItem, UtilityCapacity
from tests.factories import (
    CampusFactory,
    FacilityFactory,
    FacilityTypeFactory,
    MilestoneFactory,
    ParcelFactory,
    PhaseFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
    UtilityCapacityFactory,
    grid_square,
)
from tests.planning.test_asof import backdate, past_day

pytestmark = pytest.mark.django_db

POLLING = 'hx-trigger="every 2s"'


def text(response) -> str:
    """The page's text, tags dropped and spaces collapsed, as a reader sees it."""
    content = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", unescape(content)).strip()


def section(response, element_id: str) -> str:
    """The HTML of the element with `element_id` up to the end of its section (enough to look for words in)."""
    content = response.content.decode()
    start = content.index(f'id="{element_id}"')
    return content[start : content.index("</section>", start)]


# --- a phase with something to say: what a planner reads ---------------------------------------------------------


def make_phase_2() -> Phase:
    """Phase 2 (target 2.5 ha, 15 Jan to 30 Jun 2031): two parcels of 1 ha, one transferred and one to be handed
    over on 15 Mar 2031, after the construction start (the land gate fails: blocked); offices (3,000 workstations)
    and an edge data hall (4 MW IT load at PUE 1.35), 9.0 MVA in all against 8 MVA committed; a site handover not
    before 1 Mar 2031, 45 days after its baseline, which pushes the 150-day construction to 29 Jul 2031, 29 days
    after the target. Dates in 2031 so that "today" never moves the forecast."""
    phase = PhaseFactory(
        number=2,
        name_en="Phase 2",
        name_zh="第二期",
        target_area_ha=Decimal("2.5"),
        planned_start=datetime.date(2031, 1, 15),
        planned_completion=datetime.date(2031, 6, 30),
    )
    parcel = {"phase": phase, "max_plot_ratio": Decimal("5")}
    a1 = ParcelFactory(**parcel, code="A-1", geometry=grid_square(0), land_status=Parcel.LandStatus.TRANSFERRED)
    a2 = ParcelFactory(
        **parcel,
        code="A-2",
        geometry=grid_square(1),
        land_status=Parcel.LandStatus.HANDOVER_SCHEDULED,
        handover_date=datetime.date(2031, 3, 15),
    )
    office = FacilityTypeFactory()
    edge = FacilityTypeFactory(
        code="edge_computing",
        name_en="Edge computing",
        name_zh="邊緣運算",
        capacity_unit="MW IT load",
        power_kva_per_m2=None,
        pue=Decimal("1.35"),
        water_m3_day_per_1000m2=Decimal("4"),
    )
    FacilityFactory(parcel=a1, facility_type=office, name="Tower", gfa_m2=Decimal("30000"), capacity=2500)
    FacilityFactory(parcel=a1, facility_type=office, name="Co-work", gfa_m2=Decimal("6000"), capacity=500)
    FacilityFactory(parcel=a2, facility_type=edge, name="Data hall", gfa_m2=Decimal("8000"), capacity=4)
    supply = {"phase": phase, "available_from": datetime.date(2030, 12, 31)}
    UtilityCapacityFactory(
        **supply, kind=UtilityCapacity.Kind.POWER, capacity=Decimal("8"), responsible="CLP Power Hong Kong"
    )
    UtilityCapacityFactory(
        **supply, kind=UtilityCapacity.Kind.WATER, capacity=Decimal("100"), responsible="Water Supplies Department"
    )
    handover = MilestoneFactory(
        phase=phase,
        category="site_handover",
        title="",
        baseline_start=datetime.date(2031, 1, 15),
        start_not_before=datetime.date(2031, 3, 1),
    )
    construction = ScheduleItemFactory(
        phase=phase,
        category="construction",
        title="",
        duration_days=150,
        baseline_start=datetime.date(2031, 1, 15),
    )
    ScheduleDependencyFactory(predecessor=handover, successor=construction)
    services.readiness_recompute(phase=phase)
    return phase


@pytest.fixture(scope="class")
def phase_2(django_db_setup, django_db_blocker):
    """`make_phase_2()` once for a test class that only reads it, rolled back after it (as `demo_once_per_class`)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield make_phase_2()
        transaction.set_rollback(True)


@pytest.mark.usefixtures("phase_2")
class TestWhatItSays:
    def test_it_says_the_phase_is_blocked_late_and_why(self, client, planner):
        client.force_login(planner)

        response = client.get("/plan/phases/2/")

        assert response.status_code == 200
        page = text(response)
        assert "Phase 2" in page
        assert "Blocked" in section(response, "verdict-readiness")
        assert re.search(r"Land</a> <span[^>]*>failed", section(response, "verdict-blockers"))
        # The schedule: 29 days past the target, driven by the site handover (not before 1 Mar 2031).
        assert "29 days late forecast 29 Jul 2031, target 30 Jun 2031" in page
        assert "Driven by Site handover, forecast 45 days after its baseline" in page
        assert "Critical path: 2 items Item Forecast Slip (days) Site handover 1 Mar 2031 +45" in page
        assert "Construction 1 Mar 2031 – 29 Jul 2031 +45" in page
        assert "Overdue: 0 items" in page
        assert 'href="/plan/schedule/2/"' in response.content.decode()  # the phase's timeline
        # Readiness: each criterion with its reasons in words, failing ones first; nothing stale, nothing polling.
        readiness_html = unescape(section(response, "phase-readiness"))
        assert (
            "Parcel A-2 (10,000 m²) is to be handed over only on 15 Mar 2031, after the construction start on "
            "15 Jan 2031." in readiness_html
        )
        assert "Power demand 9.0 MVA exceeds committed supply 8.0 MVA from 31 Dec 2030." in readiness_html
        assert 'href="/plan/parcels/A-2/"' in readiness_html  # a planner opens the parcel behind the reason
        assert POLLING not in response.content.decode() and "stale" not in page
        assert page.index("Land Failed") < page.index("Utilities At risk")  # the failed gate first

    def test_the_figures_site_area_gfa_and_capacity_in_each_unit(self, client, executive):
        client.force_login(executive)

        response = client.get("/plan/phases/2/")

        page = text(response)
        assert "20,000 m² (2 ha) of a 25,000 m² (2.5 ha) target: 80 %" in page
        assert "Phase 2: its parcels total 20,000 m², -20.0 % from its target of 25,000 m²" in page
        # GFA by facility type, largest first, with each type's capacity in its own unit.
        assert "Office / R&D 2 facilities 36,000 81.8 % 3,000 workstations" in page
        assert "Edge computing 1 facility 8,000 18.2 % 4 MW IT load" in page
        assert "Total 44,000 of which lettable 44,000" in page
        # Power: 3.6 MVA of offices and 4 MW × 1.35 of IT load from the forecast completion, against 8 committed.
        assert "Demand exceeds committed supply from 29 Jul 2031, by up to 1 MVA." in page
        # Each supply line with who delivers it (the column says "—" on a date when none comes).
        assert "From Responsible Demand Committed Planned Balance" in page
        assert "31 Dec 2030 +8 committed CLP Power Hong Kong 0 8 0 no demand yet" in page
        assert "29 Jul 2031 3 facilities complete Co-work, Data hall, Tower — 9 8 0 short by 1" in page
        assert "Committed supply covers the demand on every date (up to 68 m³/day)." in page
        assert "31 Dec 2030 +100 committed Water Supplies Department 0 100 0 no demand yet" in page
        # An executive reads the page but cannot open the workspace: no links to parcels for them.
        assert 'href="/plan/parcels/' not in response.content.decode()

    def test_in_chinese_the_reasons_and_states_are_in_chinese(self, client, staff_user):
        client.force_login(staff_user)
        client.cookies.load({"django_language": "zh-hant"})

        response = client.get("/plan/phases/2/")

        page = text(response)
        assert response.status_code == 200 and "第二期" in page and "邊緣運算" in page
        assert "受阻" in section(response, "verdict-readiness")
        assert "土地" in page and "20,000 m²" in page  # numbers grouped in Chinese too

    @pytest.mark.parametrize("number", [1, 0, 32768, 10**12])
    def test_a_phase_that_does_not_exist_is_404(self, client, planner, number):
        client.force_login(planner)

        assert client.get(f"/plan/phases/{number}/").status_code == 404
        assert client.get(f"/plan/phases/{number}/readiness/").status_code == 404

    def test_demand_by_date_adds_up_to_what_the_readiness_counts(self):
        phase = Phase.objects.get(number=2)  # offices by kVA per m², the data hall by IT load × PUE
        facilities = selectors.phase_facility_completions(phase, default=phase.planned_completion)
        outlook = selectors.phase_utility_outlook(facilities, list(UtilityCapacity.objects.filter(phase=phase)))
        counted = readiness.demand_by_phase([phase])[phase.pk]

        assert outlook[UtilityCapacity.Kind.POWER].demand == counted["power_mva"] == Decimal("9.0")
        assert outlook[UtilityCapacity.Kind.WATER].demand == counted["water_m3_day"] == Decimal("68")

    def test_the_phase_table_links_the_phase_to_its_page(self, client, executive):
        client.force_login(executive)

        assert 'href="/plan/phases/2/"' in client.get("/dashboard/").content.decode()


# --- who may read it ---------------------------------------------------------------------------------------------


@pytest.fixture
def phase(db):
    """A phase of one transferred parcel with 50,000 m² of offices (5.0 MVA, 50 m³/day), 5.0 MVA and 60 m³/day
    committed, and a schedule of one milestone. Stale: its first recompute waits for a commit (none here)."""
    phase = PhaseFactory(number=1)
    parcel = ParcelFactory(
        phase=phase, code="A-1", geometry=grid_square(0), max_plot_ratio=Decimal("6"), land_status="transferred"
    )
    FacilityFactory(parcel=parcel, facility_type=FacilityTypeFactory(), name="Tower", gfa_m2=Decimal("50000"))
    UtilityCapacityFactory(phase=phase, kind=UtilityCapacity.Kind.POWER, capacity=Decimal("5"))
    UtilityCapacityFactory(phase=phase, kind=UtilityCapacity.Kind.WATER, capacity=Decimal("60"))
    MilestoneFactory(phase=phase, title="Opening", baseline_start=datetime.date(2029, 11, 30))
    return phase


@pytest.mark.parametrize("role", ["planner", "executive", "staff"])
def test_planners_executives_and_staff_read_it(client, users, phase, role):
    client.force_login(users[role])

    assert client.get("/plan/phases/1/").status_code == 200
    assert client.get("/plan/phases/1/readiness/").status_code == 200


def test_partners_are_refused_like_on_every_plan_page(client, partner, phase):
    client.force_login(partner)

    assert client.get("/plan/phases/1/").status_code == 403
    assert client.get("/plan/phases/1/readiness/").status_code == 403
    assert client.get("/plan/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, phase):
    for url in ("/plan/phases/1/", "/plan/phases/1/readiness/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_it_only_reads(client, planner, phase):
    client.force_login(planner)

    assert client.post("/plan/phases/1/").status_code == 405
    assert client.post("/plan/phases/1/readiness/").status_code == 405


# --- the readiness fragment: stale, polling, then current --------------------------------------------------------


def test_while_a_recompute_is_pending_the_section_says_stale_and_polls(client, planner, phase):
    client.force_login(planner)
    assert Phase.objects.get(pk=phase.pk).readiness_stale

    page = client.get("/plan/phases/1/")
    fragment = client.get("/plan/phases/1/readiness/")

    for response in (page, fragment):
        readiness_html = section(response, "phase-readiness")
        assert POLLING in readiness_html and 'hx-get="/plan/phases/1/readiness/?shown=none"' in readiness_html
        assert "stale — recomputing" in readiness_html and "Not computed yet" in readiness_html
    assert "stale — recomputing" in section(page, "verdict-readiness")
    # Asked again with what the page shows, while nothing changed: 204, so htmx leaves the page as it is.
    assert client.get("/plan/phases/1/readiness/?shown=none").status_code == 204


def test_once_recomputed_the_fragment_brings_the_result_and_stops_polling(client, planner, phase):
    client.force_login(planner)
    snapshot = services.readiness_recompute(phase=phase)

    response = client.get("/plan/phases/1/readiness/?shown=none")

    assert response.status_code == 200
    content = unescape(response.content.decode())
    assert POLLING not in content and "stale" not in content
    assert f"score {round(snapshot.score * 100)} %" in content
    assert "Power demand 5.0 MVA is covered by committed supply 5.0 MVA from 31 Dec 2026." in content
    # The verdict strip and the screen readers' status line follow, swapped in by id (htmx out-of-band).
    assert '<dd id="verdict-readiness" hx-swap-oob="true">' in content
    assert re.search(r'<p id="readiness-announce"[^>]*hx-swap-oob="true">Readiness updated: \w', content)
    assert POLLING not in client.get("/plan/phases/1/").content.decode()


def test_an_edit_makes_it_stale_again_showing_the_last_result_until_the_next(client, planner, phase):
    client.force_login(planner)
    before = services.readiness_recompute(phase=phase)
    power = UtilityCapacity.objects.get(phase=phase, kind=UtilityCapacity.Kind.POWER)

    services.utility_capacity_update(utility=power, actor=planner, capacity=Decimal("4.5"))

    response = client.get("/plan/phases/1/readiness/")
    readiness_html = unescape(section(response, "phase-readiness"))
    assert POLLING in readiness_html and f"shown={before.pk}" in readiness_html
    assert "stale — recomputing" in readiness_html and "covered by committed supply 5.0 MVA" in readiness_html
    assert client.get(f"/plan/phases/1/readiness/?shown={before.pk}").status_code == 204

    after = services.readiness_recompute(phase=phase)

    response = client.get(f"/plan/phases/1/readiness/?shown={before.pk}")
    assert response.status_code == 200 and after.pk != before.pk
    assert "Power demand 5.0 MVA exceeds committed supply 4.5 MVA" in unescape(response.content.decode())
    assert POLLING not in response.content.decode()


def test_a_shown_value_it_cannot_read_gets_the_section(client, planner, phase):
    client.force_login(planner)

    response = client.get("/plan/phases/1/readiness/?shown=%00%27;drop")

    assert response.status_code == 200 and POLLING in response.content.decode()


# --- power and water by date -------------------------------------------------------------------------------------


def test_demand_counts_from_each_facility_completion_and_supply_from_its_date(client, planner):
    """Power: 2.5 MVA committed from 1 Jan 2027 and 5 MVA planned from 30 Jun 2029; offices of 10,000 m² delivered
    by a schedule item, 20,000 m² planned to complete on 30 Jun 2028, 30,000 m² with no date (counted from the
    phase's forecast completion, its "Opening" milestone not before 30 Nov 2029)."""
    phase = PhaseFactory(number=1)
    parcel = ParcelFactory(phase=phase, code="A-1", geometry=grid_square(0), max_plot_ratio=Decimal("6"))
    office = FacilityTypeFactory()
    b = FacilityFactory(parcel=parcel, facility_type=office, name="B", gfa_m2=Decimal("10000"))
    FacilityFactory(
        parcel=parcel,
        facility_type=office,
        name="A",
        gfa_m2=Decimal("20000"),
        planned_completion=datetime.date(2028, 6, 30),
    )
    FacilityFactory(parcel=parcel, facility_type=office, name="C", gfa_m2=Decimal("30000"))
    build_b = ScheduleItemFactory(phase=phase, title="Build B", category="other", facility=b)
    MilestoneFactory(phase=phase, title="Opening", start_not_before=datetime.date(2029, 11, 30))
    power = {"phase": phase, "kind": UtilityCapacity.Kind.POWER}
    UtilityCapacityFactory(**power, capacity=Decimal("2.5"), available_from=datetime.date(2027, 1, 1))
    UtilityCapacityFactory(
        **power,
        capacity=Decimal("5"),
        available_from=datetime.date(2029, 6, 30),
        status=UtilityCapacity.Status.PLANNED,
        responsible="CLP Power Hong Kong",
    )
    b_done = ScheduleItem.objects.get(pk=build_b.pk).forecast_finish

    facilities = selectors.phase_facility_completions(phase, default=datetime.date(2029, 11, 30))
    outlook = selectors.phase_utility_outlook(facilities, list(UtilityCapacity.objects.filter(phase=phase)))

    assert {f.name: (f.completes_on, f.completion_source) for f in facilities} == {
        "A": (datetime.date(2028, 6, 30), "planned"),
        "B": (b_done, "schedule"),
        "C": (datetime.date(2029, 11, 30), "phase"),
    }
    steps = [
        (step.date, [f.name for f in step.facilities], step.demand, step.firm, step.planned, step.shortfall)
        for step in outlook[UtilityCapacity.Kind.POWER].steps
    ]
    assert steps == [
        (datetime.date(2027, 1, 1), [], 0, Decimal("2.5"), 0, 0),
        (b_done, ["B"], Decimal("1.0"), Decimal("2.5"), 0, 0),
        (datetime.date(2028, 6, 30), ["A"], Decimal("3.0"), Decimal("2.5"), 0, Decimal("0.5")),
        (datetime.date(2029, 6, 30), [], Decimal("3.0"), Decimal("2.5"), Decimal("5"), Decimal("0.5")),
        (datetime.date(2029, 11, 30), ["C"], Decimal("6.0"), Decimal("2.5"), Decimal("5"), Decimal("3.5")),
    ]
    assert outlook[UtilityCapacity.Kind.POWER].steps[-1].shortfall_with_planned == 0
    assert outlook[UtilityCapacity.Kind.POWER].demand == readiness.demand_by_phase([phase])[phase.pk]["power_mva"]

    client.force_login(planner)
    page = text(client.get("/plan/phases/1/"))
    assert "Demand exceeds committed supply from 30 Jun 2028, by up to 3.5 MVA." in page
    assert "1 Jan 2027 +2.5 committed — 0 2.5 0 no demand yet" in page  # no responsible party recorded
    assert (
        "30 Jun 2029 +5 planned CLP Power Hong Kong 3 2.5 5 short by 0.5 covered if the planned supply is committed"
        in page
    )
    assert (
        "30 Nov 2029 1 facility completes C — 6 2.5 5 short by 3.5 covered if the planned supply is committed" in page
    )
    assert "1 facility has no completion date of its own" in page


def test_a_phase_with_nothing_in_it_yet_says_so(client, planner):
    PhaseFactory(number=1)
    client.force_login(planner)

    page = text(client.get("/plan/phases/1/"))

    assert "0 m² (0 ha) of a 10,000 m² (1 ha) target: 0 %" in page
    assert "No parcel is assigned to this phase yet." in page
    assert "No facility is planned in this phase yet." in page
    assert "This phase has no schedule yet." in page and "No forecast yet" in page
    assert page.count("No demand and no supply recorded.") == 2
    assert "Readiness Not computed yet stale — recomputing" in page


# --- which campus -------------------------------------------------------------------------------------------------


def test_with_several_campuses_the_number_picks_the_first_and_offers_the_others(client, planner):
    first = PhaseFactory(number=1, campus=CampusFactory(code="alpha"), name_en="Alpha one")
    second = PhaseFactory(number=1, campus=CampusFactory(code="beta", name_en="Beta campus"), name_en="Beta one")
    client.force_login(planner)

    response = client.get("/plan/phases/1/")
    assert "Alpha one" in text(response) and 'href="/plan/phases/1/?campus=beta"' in response.content.decode()
    assert "?campus=alpha&amp;shown=none" in response.content.decode()  # the fragment keeps to the campus

    response = client.get("/plan/phases/1/?campus=beta")
    assert "Beta one" in text(response) and "Alpha one" in text(response)  # the other one, offered
    assert section(response, "phase-readiness").count("campus=beta") == 1
    assert client.get("/plan/phases/1/readiness/?campus=beta").status_code == 200
    assert client.get("/plan/phases/1/?campus=gamma").status_code == 404
    assert first.pk != second.pk


# --- cost ---------------------------------------------------------------------------------------------------------


def count_queries(client, url: str) -> int:
    client.get(url)  # Django's per-process caches (content types, translations) filled first
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_queries_do_not_grow_with_the_phase(client, planner, phase):
    client.force_login(planner)
    services.readiness_recompute(phase=phase)
    small = count_queries(client, "/plan/phases/1/")
    lab = FacilityTypeFactory(code="lab", name_en="Laboratory", capacity_unit="m2 lab")
    for index in range(1, 5):
        parcel = ParcelFactory(phase=phase, geometry=grid_square(index), land_status=Parcel.LandStatus.TRANSFERRED)
        FacilityFactory(parcel=parcel, facility_type=lab, planned_completion=datetime.date(2028, 1, index))
        UtilityCapacityFactory(phase=phase, available_from=datetime.date(2027, index, 1))
        ScheduleItemFactory(phase=phase, facility=Facility.objects.filter(parcel=parcel).first())
    services.readiness_recompute(phase=phase)

    assert count_queries(client, "/plan/phases/1/") == small
    assert count_queries(client, "/plan/phases/1/readiness/") < small


# --- the phase as it stood at the end of a past day (`?as_of=`) -------------------------------------------------


def make_phase_2_then_change_it_today() -> Phase:
    """`make_phase_2()` recorded three days ago (its history and its readiness snapshot moved back, as
    tests/planning/test_asof.py does), then today: the Tower grown to 40,000 m², the data hall deleted, A-2
    transferred, the site handover not before 1 Apr 2031, the power supply cut to 6 MVA and handed to another
    party, and the phase renumbered 7.
    Readiness is stale today (its recompute waits for a commit that never comes)."""
    phase = make_phase_2()
    backdate(3)
    ReadinessSnapshot.objects.update(computed_at=F("computed_at") - datetime.timedelta(days=3))
    services.facility_update(facility=Facility.objects.get(name="Tower"), actor=None, gfa_m2=Decimal("40000"))
    services.facility_delete(facility=Facility.objects.get(name="Data hall"), actor=None)
    services.parcel_update(parcel=Parcel.objects.get(code="A-2"), actor=None, land_status=Parcel.LandStatus.TRANSFERRED)
    handover = ScheduleItem.objects.get(phase=phase, category="site_handover")
    services.schedule_item_update(
        item=handover, actor=None, reason="Lands D letter", start_not_before=datetime.date(2031, 4, 1)
    )
    power = UtilityCapacity.objects.get(phase=phase, kind=UtilityCapacity.Kind.POWER)
    services.utility_capacity_update(
        utility=power, actor=None, capacity=Decimal("6"), responsible="CLP Power Hong Kong, Northern District"
    )
    return services.phase_update(phase=Phase.objects.get(pk=phase.pk), actor=None, number=7)


@pytest.fixture(scope="class")
def changed_today(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield make_phase_2_then_change_it_today()
        transaction.set_rollback(True)


@pytest.mark.usefixtures("changed_today")
class TestAsOfAPastDay:
    def test_today_the_page_shows_todays_phase(self, client, planner):
        client.force_login(planner)

        response = client.get("/plan/phases/7/")

        page = text(response)
        assert "Office / R&D 2 facilities 46,000" in page and "Edge computing" not in page
        assert "31 Dec 2030 +6 committed CLP Power Hong Kong, Northern District" in page
        assert (
            "60 days late forecast 29 Aug 2031" in page and POLLING in response.content.decode()
        )  # stale today: it polls
        assert client.get("/plan/phases/2/").status_code == 404  # renumbered

    def test_an_edit_after_the_day_does_not_show_and_a_facility_deleted_since_still_counts(self, client, planner):
        client.force_login(planner)

        response = client.get(f"/plan/phases/2/?as_of={past_day()}")

        assert response.status_code == 200
        page = text(response)
        assert "Phase 2" in page
        # The programme as it stood: the Tower at 30,000 m² and the data hall, deleted since, still there.
        assert "Office / R&D 2 facilities 36,000 81.8 % 3,000 workstations" in page
        assert "Edge computing 1 facility 8,000 18.2 % 4 MW IT load" in page
        assert "Total 44,000 of which lettable 44,000" in page and "46,000" not in page
        # The schedule as the engine computed it over that day's network: handover not before 1 Mar, not 1 Apr.
        assert "29 days late forecast 29 Jul 2031, target 30 Jun 2031" in page
        assert "Driven by Site handover, forecast 45 days after its baseline" in page
        # Power: that day's facilities (data hall included) against that day's 8 MVA, not today's 6, from that
        # day's responsible party.
        assert "31 Dec 2030 +8 committed CLP Power Hong Kong 0 8 0" in page
        assert "Northern District" not in section(response, "utilities-heading")
        assert "29 Jul 2031 3 facilities complete Co-work, Data hall, Tower — 9 8 0 short by 1" in page
        # The parcels and the readiness of that day: A-2 not yet transferred, the land gate failed.
        assert "Handover scheduled" in section(response, "parcels-heading")
        assert "Blocked" in section(response, "verdict-readiness")
        assert "is to be handed over only on 15 Mar 2031" in unescape(section(response, "phase-readiness"))

    def test_it_is_marked_read_only_with_the_way_back_to_today_and_does_not_poll(self, client, planner):
        client.force_login(planner)
        day = datetime.date.fromisoformat(past_day())

        response = client.get(f"/plan/phases/2/?as_of={day.isoformat()}")

        content = response.content.decode()
        banner = content[content.index('class="as-of-banner"') : content.index("</div>", content.index("as-of-banner"))]
        assert f"The plan as it stood at the end of {formats.date_format(day)} — read-only" in unescape(banner)
        assert 'href="/plan/phases/7/"' in banner  # the phase today, under its new number
        assert "hx-trigger" not in section(response, "phase-readiness") and "stale" not in text(response)
        # Links stay in the past where the past can be shown: the parcel's read-only panel of that day.
        assert f'href="/plan/history/parcels/A-2/?as_of={day.isoformat()}"' in content
        assert "Open today's timeline" in unescape(content) and 'href="/plan/schedule/7/"' in content
        assert f"<title>Phase 2 as of {formats.date_format(day)} ·" in content

    def test_the_phases_history_is_on_the_page_up_to_that_day(self, client, planner):
        client.force_login(planner)
        phase = Phase.objects.get(number=7)
        day = past_day()

        then = client.get(f"/plan/phases/2/?as_of={day}").content.decode()
        today = client.get("/plan/phases/7/").content.decode()

        assert f'hx-get="/plan/history/phase/{phase.pk}/?level=2&amp;as_of={day}"' in then
        assert f'hx-get="/plan/history/phase/{phase.pk}/?level=2"' in today
        # What the slot loads: the phase's and its utilities' changes, today's left out as of the day.
        history_then = text(client.get(f"/plan/history/phase/{phase.pk}/?level=2&as_of={day}"))
        history_today = text(client.get(f"/plan/history/phase/{phase.pk}/?level=2"))
        assert "Phase 2 created" in history_then and "Utility capacity: Power added" in history_then
        assert "Capacity: 8 → 6" not in history_then and "Number: 2 → 7" not in history_then
        assert "Capacity: 8 → 6" in history_today and "Number: 2 → 7" in history_today

    def test_before_the_phase_existed_it_is_404(self, client, planner):
        client.force_login(planner)
        before = (timezone.localdate() - datetime.timedelta(days=4)).isoformat()

        assert client.get(f"/plan/phases/2/?as_of={before}").status_code == 404
        assert client.get(f"/plan/phases/7/?as_of={past_day()}").status_code == 404  # numbered 7 only today

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("", "Give the date as YYYY-MM-DD"),
            ("yesterday", "“yesterday” is not a date: give it as YYYY-MM-DD"),
            ("2026-02-30", "“2026-02-30” is not a day of the calendar (YYYY-MM-DD)."),
            ("2999-01-01", "2999-01-01 is in the future"),
            ("%00%27", "is not a date"),
        ],
    )
    def test_a_date_that_is_not_a_past_day_answers_400_saying_why(self, client, planner, value, message):
        client.force_login(planner)

        response = client.get(f"/plan/phases/2/?as_of={value}")

        assert response.status_code == 400
        assert message in unescape(response.content.decode())
        assert 'href="/plan/phases/2/"' in response.content.decode()

    def test_who_may_read_it_is_who_may_read_the_phase(self, client, users):
        url = f"/plan/phases/2/?as_of={past_day()}"
        client.force_login(users["executive"])
        response = client.get(url)
        assert response.status_code == 200 and 'href="/plan/history/parcels/' not in response.content.decode()
        client.force_login(users["staff"])
        assert client.get(url).status_code == 200
        client.force_login(users["partner"])
        assert client.get(url).status_code == 403
        client.logout()
        assert client.get(url)["Location"].startswith("/accounts/login/?next=")
        assert client.post(url).status_code == 302


def test_as_of_today_the_query_count_does_not_grow_with_the_phase(client, planner, phase):
    client.force_login(planner)
    ScheduleItemFactory(phase=phase, facility=Facility.objects.get(name="Tower"))  # delivery dates from the engine
    services.readiness_recompute(phase=phase)
    url = f"/plan/phases/1/?as_of={timezone.localdate().isoformat()}"
    small = count_queries(client, url)
    lab = FacilityTypeFactory(code="lab", name_en="Laboratory", capacity_unit="m2 lab")
    for index in range(1, 5):
        parcel = ParcelFactory(phase=phase, geometry=grid_square(index), land_status=Parcel.LandStatus.TRANSFERRED)
        facility = FacilityFactory(parcel=parcel, facility_type=lab)
        UtilityCapacityFactory(phase=phase, available_from=datetime.date(2027, index, 1))
        ScheduleDependencyFactory(
            predecessor=ScheduleItemFactory(phase=phase, facility=facility), successor=ScheduleItemFactory(phase=phase)
        )
    services.readiness_recompute(phase=phase)

    assert count_queries(client, url) == small
