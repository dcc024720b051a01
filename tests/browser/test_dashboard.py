"""The executive dashboard in Chromium, on the demo campus: the headline figures above the fold at 1366 px, every
chart drawn and with its table, no sideways scroll on a phone, the keyboard's way through the filters, downloads and
the "what blocks" chooser, axe-core clean in English and Chinese; and the board pack as Chromium prints it (a cover,
then each section from the top of a page of its own, no site header) and the XLSX download's name."""

import io
import re
import unicodedata

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.browser.helpers import assert_accessible

pytestmark = pytest.mark.browser

HEADLINE_CARDS = 8
MIN_CHARTS = 7
# The sections' headings as the English page shows them, in the order they print.
SECTION_HEADINGS = [
    "Headline figures",
    "What blocks Phase 1",
    "Readiness per phase",
    "Partner pipeline",
    "Schedule",
    "GFA by facility type: planned, committed and allocated",
]
PAGE_NUMBER = re.compile(r"^\d+ / \d+$")  # the footer, which Chromium's PDF puts first in a page's text
TOP_LINES = 2
TAB_STOPS = 80  # more than the page has before the "what blocks" chooser


def sign_in_executive(sign_in) -> None:
    """The demo's executive (seed_demo's user), as a board member reading the page would be."""
    sign_in(get_user_model().objects.get(username="executive"))


def charts_drawn(page) -> int:
    """How many charts dashboard.js drew: one for every canvas, and no fewer than the demo's seven."""
    page.wait_for_function("document.documentElement.dataset.chartsDrawn !== undefined")
    drawn = int(page.evaluate("document.documentElement.dataset.chartsDrawn"))
    assert drawn == page.locator("canvas[data-chart]").count(), "a chart was not drawn"
    assert drawn >= MIN_CHARTS
    return drawn


def tab_stops(page) -> list[str]:
    """What Tab reaches from the top of the page, in order (an id, else the text), up to the "what blocks" chooser."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    stops = []
    for _ in range(TAB_STOPS):
        page.keyboard.press("Tab")
        stops.append(page.evaluate("(el => el.id || el.textContent.trim())(document.activeElement)"))
        if stops[-1] == "blocks-phase":
            return stops
    raise AssertionError(f"the 'what blocks' chooser is not reachable with Tab: {stops}")


def assert_no_sideways_scroll(page, where: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{where}: it scrolls sideways"


def test_the_executive_reads_the_dashboard_on_a_desktop_and_a_phone_in_both_languages(
    context, page, sign_in, demo, live_server
):
    sign_in_executive(sign_in)
    page.set_viewport_size({"width": 1366, "height": 900})

    page.goto("/dashboard/")

    cards = page.locator(".headline-cards > .card")
    expect(cards).to_have_count(HEADLINE_CARDS)
    for card in cards.all():
        expect(card).to_be_visible()
        box = card.bounding_box()
        assert box["y"] + box["height"] <= 900, f"a headline card is below the fold: {card.inner_text()}"
    charts_drawn(page)
    for figure in page.locator("figure.chart").all():
        expect(figure.locator("table")).to_have_count(1)
    assert_accessible(page)

    stops = tab_stops(page)
    order = [stops.index(stop) for stop in ("filter-phase", "Download XLSX", "Print board pack", "blocks-phase")]
    assert order == sorted(order), f"focus order: {stops}"

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/dashboard/")

    charts_drawn(page)
    assert_no_sideways_scroll(page, "en at 390 px")
    assert_accessible(page)

    # In Traditional Chinese, still on the phone (only what the catalogue already translates is asserted).
    context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": live_server.url}])
    page.goto("/dashboard/")

    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page.locator('nav a[aria-current="page"]')).to_have_text("儀表板")
    charts_drawn(page)
    assert_no_sideways_scroll(page, "zh-hant at 390 px")
    assert_accessible(page)


def pdf_pages(pdf: bytes) -> list[list[str]]:
    """Each page's lines of text (ligatures such as "ﬁ" undone), the page-number footer left out."""
    from pypdf import PdfReader

    pages = []
    for pdf_page in PdfReader(io.BytesIO(pdf)).pages:
        text = unicodedata.normalize("NFKC", pdf_page.extract_text())
        pages.append([line.strip() for line in text.splitlines() if line.strip() and not PAGE_NUMBER.match(line)])
    return pages


def test_the_board_pack_prints_a_cover_then_a_page_per_section_and_downloads(page, sign_in, demo):
    sign_in_executive(sign_in)
    page.goto("/dashboard/")
    charts_drawn(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download XLSX").click()
    assert download.value.suggested_filename.endswith("-en.xlsx"), download.value.suggested_filename
    assert download.value.failure() is None

    page.emulate_media(media="print")
    pages = pdf_pages(page.pdf(format="A4"))

    cover = " ".join(pages[0])
    assert "INNOPOLE" in cover
    assert not [heading for heading in SECTION_HEADINGS if heading in cover], f"the cover: {pages[0]}"
    tops = [" ".join(lines[:TOP_LINES]) for lines in pages]
    found = []
    for heading in SECTION_HEADINGS:
        on = [index for index, top in enumerate(tops) if top.startswith(heading)]
        assert on, f"{heading!r} heads no page: {tops}"
        found.append(on[0])
    assert found == sorted(set(found)), f"the sections are not each on pages of their own, in order: {found}"
    everything = " ".join(" ".join(lines) for lines in pages)
    for header_text in ("Sign out", "Language"):
        assert header_text not in everything, f"the site header printed: {header_text!r}"
