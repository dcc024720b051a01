"""The phase table in Traditional Chinese: short cells keep their words whole, numbers grouped, no favicon 404."""

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_chinese_status_and_readiness_cells_do_not_wrap_per_character(
    context, sign_in, planner, demo, live_server, width, height
):
    context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": live_server.url}])
    sign_in(planner)
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    missing = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)

    page.goto("/plan/")

    table = page.locator("table.phase-table")
    # One line each: the header "狀態" and a status such as "規劃", the readiness "有風險".
    for cell in [table.locator("thead th").nth(1), table.locator("tbody td").first, table.locator(".readiness").first]:
        line = cell.evaluate("element => parseFloat(getComputedStyle(element).lineHeight)")
        text = cell.evaluate(
            "element => { const range = document.createRange(); range.selectNodeContents(element);"
            " return range.getBoundingClientRect().height; }"
        )
        assert text < 1.6 * line, f"{cell.inner_text()!r} wraps at {width} px"
    assert "107,000" in table.inner_text()  # thousands grouped in Chinese too
    # The page itself never scrolls sideways; a table too wide for a phone scrolls in its own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.goto("/favicon.ico")
    assert not missing, missing
