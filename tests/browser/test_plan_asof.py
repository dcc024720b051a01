"""The map workspace as it stood at the end of a past day, in Chromium: the banner says so, there is no editing tool,
the map draws the parcels of that day (one deleted since included, one created since not), a parcel opens read-only
with its history up to that day, the way back leads to today's plan; axe-core on each state, in both languages."""

import pytest
from playwright.sync_api import expect

from core.roles import PLANNER
from tests.browser.helpers import assert_accessible
from tests.factories import UserFactory
from tests.planning.test_asof import backdate, change_everything, make_plan, past_day

pytestmark = pytest.mark.browser


@pytest.fixture
def plan(db):
    """Three parcels recorded three days ago; today P-A is transferred, R-1 deleted and P-NEW drawn."""
    made = make_plan()
    backdate(3)
    change_everything(made)
    return made


def test_the_plan_of_a_past_day_is_read_only_and_says_so(page, sign_in, plan):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(UserFactory(username="mei", first_name="Mei", last_name="Wong", role=PLANNER))

    page.goto(f"/plan/?as_of={past_day()}")
    page.wait_for_selector("#plan-map[data-rendered]")

    banner = page.locator(".as-of-banner")
    expect(banner).to_contain_text("The plan as it stood at the end of")
    expect(banner).to_contain_text("read-only")
    assert page.locator("#plan-map").get_attribute("data-rendered") == "3"  # P-A, P-B, R-1
    for tool in ("Draw", "Edit shape", "Move", "Split", "Merge"):
        expect(page.get_by_role("button", name=tool, exact=True)).to_have_count(0)
    expect(page.get_by_text("Export", exact=True)).to_have_count(0)
    expect(page.locator("#parcel-table")).to_contain_text("R-1")
    expect(page.locator("#parcel-table")).not_to_contain_text("P-NEW")
    assert_accessible(page)

    page.locator('#parcel-table a.parcel-open[data-code="P-B"]').click()
    panel = page.locator("#parcel-panel")
    expect(panel).to_contain_text("Read-only: as it stood at the end of")
    expect(panel).to_contain_text("Lab B")  # removed today
    expect(panel.get_by_role("button")).to_have_count(0)  # nothing to edit
    assert "/plan/history/parcels/P-B/" in page.url and f"as_of={past_day()}" in page.url
    assert_accessible(page)

    page.context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": page.url}])
    page.reload()
    page.wait_for_selector("#plan-map[data-rendered]")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page.locator("#parcel-panel time").first).to_contain_text("年")
    assert_accessible(page)

    banner.get_by_role("link").click()
    page.wait_for_selector("#plan-map[data-rendered]")
    expect(page.locator(".as-of-banner")).to_have_count(0)
    expect(page.locator("#parcel-table")).to_contain_text("P-NEW")
    assert not errors
