"""The parcel panel in Chromium, as a planner uses it: errors beside the field as they type (the server's own rules),
two planners editing the same parcel (the second is told who changed it and keeps what they typed), the delete
confirmation, the new-parcel form, and the panel in Traditional Chinese. axe-core checks every state."""

import json
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect
from shapely.geometry import shape

from core.roles import PLANNER
from planning.models import Facility, Parcel
from tests.browser.helpers import assert_accessible
from tests.factories import AllocationFactory, FacilityFactory, ParcelFactory, UserFactory, grid_square

pytestmark = pytest.mark.browser


@pytest.fixture
def parcel(db):
    """P1-C: 10,000 m² at plot ratio 2, a cap of 20,000 m², 19,500 m² of it planned in two blocks."""
    parcel = ParcelFactory(code="P1-C", max_plot_ratio=Decimal("2"), lot_ref="STT Lot 7")
    FacilityFactory(parcel=parcel, name="Block A", gfa_m2=Decimal("12000"), capacity=Decimal("300"))
    FacilityFactory(parcel=parcel, name="Block B", gfa_m2=Decimal("7500"), capacity=Decimal("600"))
    return parcel


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Chan", role=PLANNER)


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", first_name="Bob", last_name="Lee", role=PLANNER)


def signed_in_page(context, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return context.new_page()


@pytest.fixture
def second_context(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    yield context
    context.close()


def panel(page):
    return page.locator("#parcel-panel")


def settled(page) -> None:
    """Wait until htmx has settled what it swapped in (and wired its fields: typing before that is not seen)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-added, .htmx-settling, .htmx-swapping, .htmx-request')"
    )


def test_gfa_past_the_cap_is_refused_beside_the_field_as_typed_then_fixed_and_saved(page, sign_in, planner, parcel):
    sign_in(planner)
    page.goto("/plan/parcels/P1-C/")
    expect(panel(page).get_by_role("heading", level=2)).to_contain_text("Parcel P1-C")
    expect(panel(page)).to_contain_text("19,500 / 20,000 m² (97.5 %)")
    assert_accessible(page)

    block_b = Facility.objects.get(name="Block B")
    panel(page).get_by_role("button", name="Edit Block B").click()
    expect(page.locator(f"#id_facility-{block_b.pk}-facility_type")).to_be_focused()  # the form takes the focus
    settled(page)
    gfa = page.locator(f"#id_facility-{block_b.pk}-gfa_m2")
    gfa.fill("9000")  # typed, not saved: 12,000 + 9,000 is past the cap

    error = page.locator(f"#id_facility-{block_b.pk}-gfa_m2_error")
    expect(error).to_have_text("Parcel P1-C: GFA 21,000 m² exceeds the cap of 20,000 m² (plot ratio 2.0 × 10,000 m²).")
    expect(gfa).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    block_b.refresh_from_db()
    assert block_b.gfa_m2 == Decimal("7500")

    gfa.fill("7900")
    expect(error).to_have_text("")
    expect(gfa).not_to_have_attribute("aria-invalid", "true")
    panel(page).get_by_role("button", name="Save facility").click()

    expect(panel(page).get_by_role("status")).to_have_text("Facility Block B saved.")
    expect(panel(page)).to_contain_text("19,900 / 20,000 m² (99.5 %)")
    expect(panel(page)).to_contain_text("GFA (m²): 7,500 → 7,900")
    assert_accessible(page)
    block_b.refresh_from_db()
    assert block_b.gfa_m2 == Decimal("7900")


def test_the_second_planner_is_told_who_changed_the_parcel_and_keeps_what_they_typed(
    context, second_context, live_server, alice, bob, parcel
):
    first = signed_in_page(context, live_server, alice)
    second = signed_in_page(second_context, live_server, bob)
    for page in (first, second):
        page.goto("/plan/parcels/P1-C/")
        panel(page).get_by_role("button", name="Edit attributes of parcel P1-C").click()
        expect(page.locator("#id_parcel-code")).to_be_focused()
        expect(page.locator("#id_parcel-lot_ref")).to_have_value("STT Lot 7")
        settled(page)

    first.locator("#id_parcel-lot_ref").fill("STT Lot 8")
    panel(first).get_by_role("button", name="Save attributes").click()
    expect(panel(first).get_by_role("status")).to_have_text("Attributes of parcel P1-C saved.")

    second.locator("#id_parcel-zoning").fill("OU(B)")
    panel(second).get_by_role("button", name="Save attributes").click()

    conflict = panel(second).locator(".conflict")
    expect(conflict).to_contain_text("Someone else saved a change to this first.")
    expect(conflict).to_contain_text("Changed by Alice Chan at ")
    expect(conflict).to_contain_text("Lot reference: STT Lot 7 → STT Lot 8")
    expect(second.locator("#id_parcel-zoning")).to_have_value("OU(B)")  # nothing typed is lost
    assert_accessible(second)

    panel(second).get_by_role("button", name="Load the current version").click()
    expect(second.locator("#id_parcel-lot_ref")).to_have_value("STT Lot 8")  # Alice's change, now shown
    settled(second)
    expect(second.locator("#id_parcel-zoning")).to_have_value("OU(B)")  # Bob's typed value, kept
    expect(panel(second)).to_contain_text("Saved now: OU(I&T). Your value is kept in the field.")
    assert_accessible(second)
    panel(second).get_by_role("button", name="Save attributes").click()

    expect(panel(second).get_by_role("status")).to_have_text("Attributes of parcel P1-C saved.")
    parcel.refresh_from_db()
    assert (parcel.lot_ref, parcel.zoning) == ("STT Lot 8", "OU(B)")


def test_the_delete_confirmation_lists_the_facilities_and_keeping_it_keeps_it(page, sign_in, planner, parcel):
    sign_in(planner)
    page.goto("/plan/parcels/P1-C/")

    panel(page).get_by_role("button", name="Delete parcel", exact=True).click()

    confirmation = page.locator("#parcel-delete")
    expect(confirmation.get_by_role("heading")).to_have_text("Delete parcel P1-C?")
    expect(confirmation).to_contain_text("Its 2 facilities go with it (19,500 m² in all):")
    expect(confirmation.get_by_role("listitem")).to_have_text(["Block A (12,000 m²)", "Block B (7,500 m²)"])
    assert_accessible(page)
    confirmation.get_by_role("button", name="Keep it").click()
    expect(page.locator("#parcel-delete")).to_have_count(0)
    assert Parcel.objects.filter(pk=parcel.pk).exists()

    panel(page).get_by_role("button", name="Delete parcel", exact=True).click()
    page.locator("#parcel-delete").get_by_role("button", name="Delete parcel P1-C").click()

    expect(panel(page).get_by_role("status")).to_have_text("Parcel P1-C deleted.")
    assert not Parcel.objects.filter(pk=parcel.pk).exists()


def test_a_new_parcel_from_the_form_the_map_fills(page, sign_in, planner, parcel):
    sign_in(planner)
    page.goto("/plan/parcels/new/")
    form = page.locator("#parcel-new-form")
    expect(form).to_be_visible()
    assert_accessible(page)
    # What the map's draw tool does when the polygon is finished.
    page.evaluate(
        "geometry => { document.getElementById('id_geometry').value = geometry; }", json.dumps(parcel.geometry)
    )
    page.locator("#id_code").fill("P1-D")
    form.get_by_role("button", name="Create parcel").click()

    expect(page.locator("#parcel-new-errors")).to_contain_text("The parcel overlaps parcel P1-C by 10,000 m².")
    # The map shows the refusal at the shape too (the `parcel-refused` event); axe reads it once it has faded in.
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    assert_accessible(page)
    assert not Parcel.objects.filter(code="P1-D").exists()

    free = next(
        square for square in map(grid_square, range(81)) if not shape(square).intersects(shape(parcel.geometry))
    )
    page.evaluate("geometry => { document.getElementById('id_geometry').value = geometry; }", json.dumps(free))
    form.get_by_role("button", name="Create parcel").click()

    expect(panel(page).get_by_role("status")).to_have_text("Parcel P1-D created.")
    expect(panel(page).get_by_role("heading", level=2)).to_contain_text("Parcel P1-D")
    assert_accessible(page)
    assert Parcel.objects.get(code="P1-D").max_plot_ratio == Decimal("6")  # the campus default


@pytest.mark.parametrize(("width", "height"), [(1366, 900), (390, 844)])
def test_the_panel_in_traditional_chinese(context, sign_in, planner, parcel, live_server, width, height):
    context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": live_server.url}])
    sign_in(planner)
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})

    page.goto("/plan/parcels/P1-C/")

    assert page.locator("html").get_attribute("lang") == "zh-hant"
    expect(panel(page)).to_contain_text("19,500 / 20,000 m²（97.5 %）")  # grouped in Chinese too, full-width brackets
    expect(panel(page).locator("#parcel-history time").first).to_contain_text("年")  # dates the Chinese way
    box = panel(page).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1  # the panel fits the screen
    assert_accessible(page)
    panel(page).locator("#parcel-attributes button").click()
    expect(page.locator("#id_parcel-code")).to_be_focused()
    assert_accessible(page)


def test_removing_a_facility_asks_first_says_what_refuses_it_and_works_by_keyboard(page, sign_in, planner, parcel):
    AllocationFactory(facility=Facility.objects.get(name="Block A"), status="signed", gfa_m2=Decimal("2000"))
    sign_in(planner)
    page.goto("/plan/parcels/P1-C/")

    panel(page).get_by_role("button", name="Remove Block A").focus()
    page.keyboard.press("Enter")
    refused = page.locator("#facility-rows tr.row-open")
    expect(refused).to_contain_text("Remove facility Block A (12,000 m²) from the programme?")
    expect(refused.get_by_role("alert")).to_contain_text("It cannot be removed now:")
    expect(refused.get_by_role("alert")).to_contain_text("2,000 m² (Signed)")
    expect(refused.get_by_role("button", name="Remove Block A")).to_have_count(0)
    assert_accessible(page)
    refused.get_by_role("button", name="Close").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#facility-rows tr.row-open")).to_have_count(0)

    panel(page).get_by_role("button", name="Remove Block B").focus()
    page.keyboard.press("Enter")
    confirm = page.locator("#facility-rows tr.row-open")
    expect(confirm).to_contain_text("Remove facility Block B (7,500 m²) from the programme?")
    assert_accessible(page)
    confirm.get_by_role("button", name="Remove Block B").focus()
    page.keyboard.press("Enter")

    expect(panel(page).get_by_role("status")).to_have_text("Facility Block B removed.")
    expect(panel(page)).to_contain_text("12,000 / 20,000 m² (60.0 %)")
    assert list(Facility.objects.filter(parcel=parcel).values_list("name", flat=True)) == ["Block A"]
