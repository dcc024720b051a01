"""The phase view in Chromium: a readiness made stale by an edit updates itself once a real Celery worker has
recomputed it, with no reload; the answer (ready? what blocks it? on schedule?) above the fold in both languages at
1366 and 390 px, also as of a past day (read-only, marked, its history loaded, no polling), with axe-core clean; the
keyboard path from the verdict to the criterion behind it."""

import datetime
from decimal import Decimal

import pytest
from django.db.models import F
from playwright.sync_api import expect

from planning import services
from planning.models import Facility, Parcel, Phase, ReadinessSnapshot, UtilityCapacity
from tests.browser.helpers import assert_accessible
from tests.factories import (
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
from tests.planning.test_worker import broker, start_worker  # noqa: F401 (fixtures: Redis of its own, workers)

pytestmark = pytest.mark.browser

WORKER_WAIT_MS = 30_000  # a bound for what takes about a second once the worker is up, on a loaded CI machine


def make_phase() -> tuple[Phase, Parcel]:
    """Phase 1: one parcel not transferred (the land gate fails: blocked), 50,000 m² of offices (5.0 MVA) with
    5.0 MVA committed, and a short schedule whose design runs into the site handover."""
    phase = PhaseFactory(number=1, name_en="Phase 1", name_zh="第一期")
    parcel = ParcelFactory(phase=phase, code="A-1", geometry=grid_square(0), max_plot_ratio=Decimal("6"))
    FacilityFactory(parcel=parcel, facility_type=FacilityTypeFactory(), name="Tower", gfa_m2=Decimal("50000"))
    UtilityCapacityFactory(phase=phase, kind=UtilityCapacity.Kind.POWER, capacity=Decimal("5"))
    handover = MilestoneFactory(
        phase=phase, category="site_handover", title="", baseline_start=datetime.date(2027, 1, 15)
    )
    design = ScheduleItemFactory(phase=phase, title="Design", duration_days=120)
    ScheduleDependencyFactory(predecessor=handover, successor=design)
    return phase, parcel


def readiness_section(page):
    return page.locator("#phase-readiness")


def test_a_stale_readiness_updates_itself_once_the_worker_has_recomputed(page, sign_in, planner, start_worker):  # noqa: F811
    phase, parcel = make_phase()  # each save queues a recompute in Redis; no worker runs yet
    services.readiness_recompute(phase=phase)  # what the worker does, so the page starts from a result
    services.parcel_update(parcel=parcel, actor=planner, land_status=Parcel.LandStatus.TRANSFERRED)
    assert Phase.objects.get(pk=phase.pk).readiness_stale
    sign_in(planner)

    page.goto("/plan/phases/1/")

    section = readiness_section(page)
    expect(section.locator(".readiness-state")).to_have_text("Blocked")  # the last result, until the recompute
    score_before = section.locator(".readiness-score").inner_text()
    expect(section.locator(".readiness-stale")).to_have_text("stale — recomputing")
    expect(page.locator("#verdict-readiness")).to_contain_text("stale — recomputing")
    expect(section).to_have_attribute("hx-trigger", "every 2s")
    page.evaluate("window.phaseViewNotReloaded = true")
    # It polls, and while nothing has changed the server answers 204 and the page stays as it is.
    with page.expect_response(lambda r: "/plan/phases/1/readiness/" in r.url and r.status == 204):
        pass
    expect(section.locator(".readiness-state")).to_have_text("Blocked")
    assert_accessible(page)

    start_worker()  # takes the queued recompute from Redis

    expect(section.locator(".readiness-state")).to_have_text("At risk", timeout=WORKER_WAIT_MS)
    expect(section.locator(".readiness-stale")).to_have_count(0)
    expect(page.locator("#phase-readiness[hx-trigger]")).to_have_count(0)  # current: the polling has stopped
    expect(section.locator(".readiness-score")).not_to_have_text(score_before)
    expect(page.locator("#verdict-readiness .readiness-state")).to_have_text("At risk")  # the strip follows
    expect(page.locator("#verdict-blockers")).not_to_contain_text("Land")  # the land gate passes now
    expect(page.locator("#readiness-announce")).to_contain_text("Readiness updated: At risk")
    assert page.evaluate("window.phaseViewNotReloaded") is True, "the page was reloaded"
    assert not Phase.objects.get(pk=phase.pk).readiness_stale
    assert_accessible(page)


@pytest.fixture
def current_phase(db):
    phase, _parcel = make_phase()
    services.readiness_recompute(phase=phase)
    return phase


def assert_answer_on_top(page, *, blocked: str, where: str) -> None:
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    verdict = page.locator(".phase-verdict")
    expect(verdict).to_contain_text(blocked)
    box = verdict.bounding_box()
    assert box["y"] + box["height"] <= height, f"{where}: the verdict is below the fold"
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{where}: the page scrolls sideways"
    assert_accessible(page)


def test_the_answer_is_at_the_top_in_both_languages_on_a_desktop_and_a_phone(
    context, sign_in, planner, current_phase, live_server
):
    sign_in(planner)
    page = context.new_page()
    for language, blocked in (("en", "Blocked"), ("zh-hant", "受阻")):
        context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        for width, height in ((1366, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto("/plan/phases/1/")

            assert_answer_on_top(page, blocked=blocked, where=f"{language} at {width} px")

    # As of a past day (on the phone, in Chinese): what was made three days ago, not today's bigger tower, with no
    # polling although today's readiness waits for a recompute; marked read-only; its history loaded and readable.
    backdate(3)
    ReadinessSnapshot.objects.update(computed_at=F("computed_at") - datetime.timedelta(days=3))
    services.facility_update(facility=Facility.objects.get(name="Tower"), actor=planner, gfa_m2=Decimal("60000"))

    page.goto(f"/plan/phases/1/?as_of={past_day()}")

    expect(page.locator(".as-of-banner a")).to_have_attribute("href", "/plan/phases/1/")
    expect(page.locator(".programme-by-type tfoot")).to_contain_text("50,000")
    expect(page.locator("#phase-readiness")).to_be_visible()
    expect(page.locator("#phase-readiness[hx-trigger]")).to_have_count(0)
    history = page.locator(f"#history-phase-{current_phase.pk}")
    expect(history.locator("ol.history > li")).to_have_count(2)  # the phase and its power supply, created then
    assert_answer_on_top(page, blocked="受阻", where="as of a past day, zh-hant at 390 px")


def test_the_keyboard_goes_from_what_blocks_it_to_the_criterion_and_its_parcel(page, sign_in, planner, current_phase):
    sign_in(planner)
    page.goto("/plan/phases/1/")
    blocker = page.locator("#verdict-blockers").get_by_role("link", name="Land")

    for _ in range(40):
        page.keyboard.press("Tab")
        if blocker.evaluate("element => element === document.activeElement"):
            break
    else:
        raise AssertionError("the blockers are not reachable with Tab")
    page.keyboard.press("Enter")

    expect(page.locator("#criterion-land")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#criterion-land").get_by_role("link", name="A-1")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/plan/parcels/A-1/")
