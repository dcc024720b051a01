"""The delivery schedule in Chromium, on the demo campus (phase 2 finishes 73 days late because its site handover
cannot happen before 30 Sep 2027): a planner opens the handover from the chart, moves its "start not before" date
back to its baseline, is asked for a reason beside the field, gives it, and sees the knock-on in the same page —
its successor moves, the slip turns into float and the critical path goes; the table (the keyboard path) opens the
same editor. axe-core checks the page in English and in Traditional Chinese. One page load serves the journey."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_accessible

pytestmark = pytest.mark.browser


def settled(page) -> None:
    """Wait until htmx has settled what it swapped in."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-added, .htmx-settling, .htmx-swapping, .htmx-request')"
    )


def test_a_planner_moves_a_milestone_and_sees_the_knock_on_without_a_reload(
    context, page, sign_in, planner, demo, live_server
):
    sign_in(planner)
    page.goto("/plan/schedule/2/")
    charts = page.locator("#schedule-chart")
    expect(charts).to_contain_text(
        "Forecast completion 14 Mar 2031: 73 days after the target of 31 Dec 2030, driven by Site handover."
    )
    expect(charts).to_contain_text("Critical path: Site handover → Design → Building plans approval")
    design = page.locator("#schedule-tables tbody tr", has=page.get_by_role("rowheader", name="Design", exact=True))
    expect(design).to_contain_text("30 Sep 2027 – 25 Aug 2028")
    expect(design).to_contain_text("+92 d")
    assert_accessible(page)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    # The chart's row opens the item in the editor.
    page.locator("g.gantt-row", has_text="Site handover").click()
    editor = page.locator("#schedule-editor")
    expect(editor.get_by_role("heading", level=2)).to_contain_text("Site handover")
    settled(page)
    editor.get_by_label("Start not before").fill("2027-06-30")
    editor.get_by_role("button", name="Save and reschedule").click()
    reason = editor.get_by_label("Reason for the change")
    expect(page.locator("#id_item-reason_error")).to_contain_text("Say in a few words why the schedule changes")
    expect(reason).to_be_focused()
    expect(charts).to_contain_text("73 days after the target")  # nothing saved
    assert_accessible(page)

    reason.fill("Lands Department confirms the June handover")
    editor.get_by_role("button", name="Save and reschedule").click()
    expect(editor).to_contain_text("Site handover saved.")
    expect(editor).to_contain_text("Phase 2 now completes on 18 Dec 2030, 86 days earlier than before")
    expect(editor).to_contain_text("Design: 25 Aug 2028 → 25 May 2028 (−92 d)")
    # The charts and the tables were swapped in, rescheduled: the successor moved, the slip is now float.
    expect(design).to_contain_text("30 Jun 2027 – 25 May 2028")
    expect(charts).to_contain_text(
        "Forecast completion 18 Dec 2030: 13 days of float before the target of 31 Dec 2030."
    )
    expect(charts).to_contain_text("No critical path: every item has at least 13 days of float.")
    expect(page.locator("g.gantt-row.gantt-critical")).to_have_count(0)
    expect(editor).to_contain_text("Lands Department confirms the June handover")  # kept in the history
    assert page.evaluate("window.sameDocument") is True
    assert_accessible(page)

    # The keyboard path: the table's Edit link opens the same editor, which takes the focus.
    design.get_by_role("link", name="Edit Design").focus()
    page.keyboard.press("Enter")
    expect(editor.get_by_role("heading", level=2)).to_contain_text("Design")
    expect(editor.get_by_role("heading", level=2)).to_be_focused()

    # The readiness follows the new forecast: the phase's schedule criterion no longer reports a slip.
    page.get_by_role("link", name="Readiness and figures of Phase 2").click()
    readiness = page.locator("#phase-readiness")
    expect(readiness).to_contain_text("The schedule finishes on 18 Dec 2030, on or before the target of 31 Dec 2030.")
    expect(readiness).not_to_contain_text("days after the target")
    page.go_back()

    context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": live_server.url}])
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page.locator("g.gantt-row")).to_have_count(9)
    assert_accessible(page)
