"""Each role's start page, and the 403 page, as the browser renders them."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_accessible

pytestmark = pytest.mark.browser

DEMO_PHASES = ["Phase 1", "Phase 2", "Phase 3", "Phase 4"]


@pytest.mark.parametrize(
    ("role", "path", "heading", "nav_link", "table_name"),
    [
        ("planner", "/plan/", "Phase plans", "Plan", "Phases of the campus"),
        ("executive", "/dashboard/", "Dashboard", "Dashboard", "Readiness of each phase"),
        ("partner", "/portal/", "Partner portal", "Portal", "Phases of the campus"),
    ],
)
def test_each_role_sees_the_demo_phases_on_an_accessible_page(
    request, page, sign_in, demo, role, path, heading, nav_link, table_name
):
    sign_in(request.getfixturevalue(role))

    response = page.goto(path)

    assert response.status == 200
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    table = page.get_by_role("table", name=table_name)
    row_headers = table.locator("tbody").get_by_role("rowheader")
    expect(row_headers).to_have_count(len(DEMO_PHASES))
    for header, name in zip(row_headers.all(), DEMO_PHASES, strict=True):
        expect(header).to_contain_text(name)
    current = page.get_by_role("navigation", name="Main").get_by_role("link", name=nav_link, exact=True)
    expect(current).to_have_attribute("aria-current", "page")
    assert_accessible(page)


def test_the_403_page_is_accessible(page, sign_in, partner):
    sign_in(partner)

    response = page.goto("/plan/")

    assert response.status == 403
    expect(page.get_by_role("heading", level=1, name="Not allowed")).to_be_visible()
    expect(page.get_by_role("link", name="Go to your start page")).to_be_visible()
    assert_accessible(page)
