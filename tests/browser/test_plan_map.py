"""The planner's map workspace in Chromium, on the demo campus: every parcel on the map with its label, the colour
switch and its legend, filters kept in the URL, tooltips on hover and on the table's focus, a parcel opened in the
panel with its URL pushed (back and forward), the pointer in HK1980 Grid as pyproj reads it, a vertex dragged with
the area updating live and matching the server's, a move onto a neighbour refused with the numbers, a conflict
with another planner's edit, the keyboard path, the page in Traditional Chinese, and axe-core on each state.

Drawing a new parcel saves through the parcel panel's form and splitting and merging through the API's split and
merge actions; those journeys run once those parts are in the app (they are skipped, and say why, until then).
"""

import re

import pytest
from django.urls import NoReverseMatch, Resolver404, resolve
from playwright.sync_api import expect

from planning import services
from planning.api import views as api_views
from planning.geometry import area_m2, parse_polygon, transformer_to_grid, transformer_to_wgs84
from planning.models import Parcel
from tests.browser.helpers import assert_accessible
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

DEMO_PARCELS = 18
# Demo parcels in HK1980 Grid (data/innopole-demo.json, `hk1980_bbox`): min E, min N, max E, max N.
P1_C = (825510.0, 839200.0, 825560.0, 839300.0)
P1_D = (825580.0, 839200.0, 825610.0, 839300.0)
P2_E = (825746.67, 839320.0, 825796.67, 839440.0)


def has_panel_views() -> bool:
    try:
        resolve("/plan/parcels/new/")
    except (Resolver404, NoReverseMatch):
        return False
    return True


needs_panel = pytest.mark.skipif(not has_panel_views(), reason="the parcel panel's views are not in the app yet")
needs_split_merge = pytest.mark.skipif(
    not (hasattr(api_views.ParcelViewSet, "split") and hasattr(api_views.ParcelViewSet, "merge")),
    reason="the API's split and merge actions are not in the app yet",
)


@pytest.fixture
def problems(page):
    """Script errors and Content Security Policy violations on the page (the map must run under the strict CSP)."""
    found = []
    page.on("pageerror", lambda error: found.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda message: found.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return found


def open_plan(page, sign_in, user, path="/plan/"):
    sign_in(user)
    page.goto(path)
    page.wait_for_selector("#plan-map[data-rendered]")


def parcel_paths(page):
    return page.locator("#plan-map path.parcel")


def pixel_of(page, easting: float, northing: float) -> tuple[float, float]:
    """The page pixel of an HK1980 Grid position on the map as it is now."""
    lng, lat = transformer_to_wgs84().transform(easting, northing)
    return page.evaluate(
        """([lat, lng]) => {
            const map = document.getElementById("plan-map"), box = map.getBoundingClientRect();
            const point = InnopolePlan.map.latLngToContainerPoint([lat, lng]);
            return [box.left + map.clientLeft + point.x, box.top + map.clientTop + point.y];
        }""",
        [lat, lng],
    )


def zoom_to(page, *bboxes):
    """Show these grid boxes filling the map, below where a tool's bar lies (the view a planner zooms to)."""
    to_wgs84 = transformer_to_wgs84()
    corners = [to_wgs84.transform(e, n) for box in bboxes for e, n in ((box[0], box[1]), (box[2], box[3]))]
    bounds = [[min(lat for _, lat in corners), min(lng for lng, _ in corners)]]
    bounds.append([max(lat for _, lat in corners), max(lng for lng, _ in corners)])
    page.evaluate(
        "bounds => InnopolePlan.map.fitBounds(bounds, "
        "{paddingTopLeft: [40, 150], paddingBottomRight: [40, 40], animate: false})",
        bounds,
    )
    page.wait_for_timeout(100)


def centre_of(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def click_parcel(page, box):
    page.mouse.click(*pixel_of(page, *centre_of(box)))


def drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def area_figure(text: str, pattern: str) -> float:
    return float(re.search(pattern, text).group(1).replace(",", ""))


def test_the_map_shows_every_demo_parcel_with_its_label_and_the_legend(page, sign_in, planner, demo, problems):
    open_plan(page, sign_in, planner)

    expect(parcel_paths(page)).to_have_count(DEMO_PARCELS)
    assert Parcel.objects.count() == DEMO_PARCELS
    # One request for all the parcels, none inline in the page.
    assert page.locator("#plan-map").get_attribute("data-parcels") == str(DEMO_PARCELS)
    labels = page.locator(".parcel-label").all_text_contents()
    assert "P2-A 1.40 ha" in labels and "P3-B 1.60 ha" in labels
    legend = page.locator("#map-legend")
    expect(legend.get_by_role("heading")).to_have_text("Colour by Phase")
    for name in ["Phase 1", "Phase 2", "Phase 3", "Phase 4", "Reserve (no phase)"]:
        expect(legend.get_by_text(name, exact=True)).to_be_visible()
    expect(page.locator(".leaflet-control-scale-line")).to_be_visible()
    expect(page.locator("#map-pointer")).to_contain_text("HK1980 Grid")
    assert_accessible(page)
    assert not problems, problems


def test_labels_give_way_when_zoomed_out_too_far_to_read(page, sign_in, planner, demo):
    open_plan(page, sign_in, planner)
    assert page.locator(".parcel-label").count() > 0

    page.evaluate("InnopolePlan.map.setZoom(InnopolePlan.map.getZoom() - 3, {animate: false})")

    expect(page.locator(".parcel-label")).to_have_count(0)
    expect(parcel_paths(page)).to_have_count(DEMO_PARCELS)


def test_the_colour_switch_changes_the_colours_the_legend_and_the_url(page, sign_in, planner, demo, problems):
    services.readiness_sweep(kind="all")
    open_plan(page, sign_in, planner)
    p1_a = page.locator("#plan-map path.parcel").first
    by_phase = p1_a.get_attribute("fill")

    page.get_by_label("Colour by").select_option("land_status")

    legend = page.locator("#map-legend")
    expect(legend.get_by_role("heading")).to_have_text("Colour by Land status")
    for status in ["Not transferred", "Handover scheduled", "Transferred", "Site formation", "Site formed / ready"]:
        expect(legend.get_by_text(status, exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/plan/\?colour=land_status$"))
    assert p1_a.get_attribute("fill") != by_phase
    assert_accessible(page)

    page.get_by_label("Colour by").select_option("readiness")
    expect(legend.get_by_role("heading")).to_have_text("Colour by Readiness of the phase")
    for state in ["Ready", "At risk", "Blocked", "Not computed yet"]:
        expect(legend.get_by_text(state, exact=True)).to_be_visible()
    page.reload()
    page.wait_for_selector("#plan-map[data-rendered]")
    expect(page.get_by_label("Colour by")).to_have_value("readiness")
    expect(legend.get_by_role("heading")).to_have_text("Colour by Readiness of the phase")
    assert not problems, problems


def test_filters_narrow_the_map_and_the_table_and_stay_in_the_url(page, sign_in, planner, demo, problems):
    open_plan(page, sign_in, planner)

    page.get_by_label("Phase", exact=True).select_option(label="Phase 2")
    page.get_by_label("Land status").select_option("site_formation")
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"/plan/\?phase=2&land_status=site_formation$"))
    page.wait_for_selector("#plan-map[data-rendered]")
    expect(parcel_paths(page)).to_have_count(5)
    rows = page.locator("#parcel-table tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.locator("th")).to_have_text(["P2-A", "P2-B", "P2-C", "P2-D", "P2-E"])

    page.get_by_label("Facility type").select_option(label="GMP manufacturing")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_selector("#plan-map[data-rendered]")
    codes = page.locator("#parcel-table tbody th").all_inner_texts()
    assert codes and all(code.startswith("P2-") for code in codes)
    expect(parcel_paths(page)).to_have_count(len(codes))
    # The table's sort links keep the filters.
    page.get_by_role("link", name=re.compile(r"^Site area \(m²\)")).click()
    expect(page).to_have_url(re.compile(r"phase=2&land_status=site_formation&facility_type=gmp&sort=site_area"))
    assert not problems, problems


def test_hover_and_the_table_s_focus_show_a_parcel_s_figures(page, sign_in, planner, demo):
    open_plan(page, sign_in, planner)

    page.mouse.move(*pixel_of(page, *centre_of(P1_C)))

    tooltip = page.locator(".parcel-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("P1-C")
    expect(tooltip).to_contain_text("Phase 1")
    expect(tooltip).to_contain_text("5,000 m² (0.50 ha)")
    expect(tooltip).to_contain_text("Handover scheduled")
    parcel = Parcel.objects.with_gfa().get(code="P1-C")
    expect(tooltip).to_contain_text(f"{parcel.gfa_m2:,.0f} / {parcel.gfa_cap_m2:,.0f} m²")
    assert_accessible(page)

    page.mouse.move(5, 5)
    page.get_by_role("link", name="Open P2-B").focus()
    expect(tooltip).to_have_count(1)
    expect(tooltip).to_contain_text("P2-B")
    expect(tooltip).to_contain_text("1.20 ha")


def test_a_click_opens_the_parcel_in_the_panel_and_the_url_follows_back_and_forward(page, sign_in, planner, demo):
    open_plan(page, sign_in, planner, "/plan/?phase=1")

    with page.expect_request(lambda request: "/plan/parcels/P1-C/" in request.url) as opened:
        click_parcel(page, P1_C)

    assert opened.value.headers.get("hx-request") == "true"
    assert opened.value.headers.get("hx-target") == "parcel-panel"
    expect(page).to_have_url(re.compile(r"/plan/parcels/P1-C/\?phase=1$"))
    expect(page.locator("#plan-map path.parcel-selected")).to_have_count(1)

    with page.expect_request(lambda request: "/plan/parcels/P1-D/" in request.url):
        click_parcel(page, P1_D)
    expect(page).to_have_url(re.compile(r"/plan/parcels/P1-D/\?phase=1$"))

    with page.expect_request(lambda request: "/plan/parcels/P1-C/" in request.url):
        page.go_back()
    expect(page).to_have_url(re.compile(r"/plan/parcels/P1-C/\?phase=1$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/plan/\?phase=1$"))
    expect(page.locator("#parcel-panel")).to_contain_text("Select a parcel on the map or in the table")
    expect(page.locator("#plan-map path.parcel-selected")).to_have_count(0)
    with page.expect_request(lambda request: "/plan/parcels/P1-C/" in request.url):
        page.go_forward()
    # The map was never reloaded: the same page, answering history itself.
    assert page.locator("#plan-map").get_attribute("data-loads") == "1"


def test_the_pointer_reads_hk1980_grid_as_pyproj_does(page, sign_in, planner, demo):
    open_plan(page, sign_in, planner)
    to_grid = transformer_to_grid()

    # The transformation itself, at a demo corner and far from the campus (Central).
    for lng, lat in [(114.0702876, 22.4923531), (114.158, 22.282)]:
        easting, northing = page.evaluate("([lng, lat]) => InnopolePlan.area.toGrid(lng, lat)", [lng, lat])
        expected = to_grid.transform(lng, lat)
        assert abs(easting - expected[0]) < 0.001 and abs(northing - expected[1]) < 0.001

    # The readout under the pointer: within a pixel of where the pointer is, and exactly what pyproj says there.
    zoom_to(page, P1_C)
    page.mouse.move(*pixel_of(page, 825535.0, 839250.0))
    box = page.locator("#map-pointer")
    expect(box).to_contain_text("HK1980 Grid at the pointer: E 825,53")
    lng, lat = float(box.get_attribute("data-lng")), float(box.get_attribute("data-lat"))
    expected = to_grid.transform(lng, lat)
    assert abs(expected[0] - 825535.0) < 1 and abs(expected[1] - 839250.0) < 1
    assert abs(float(box.get_attribute("data-easting")) - expected[0]) < 0.001
    assert abs(float(box.get_attribute("data-northing")) - expected[1]) < 0.001
    assert f"E {expected[0]:,.1f} m, N {expected[1]:,.1f} m" in box.inner_text()


def test_dragging_a_corner_updates_the_area_live_and_the_server_agrees(page, sign_in, planner, demo, problems):
    open_plan(page, sign_in, planner)
    zoom_to(page, P1_C, P1_D)
    click_parcel(page, P1_D)
    page.get_by_role("button", name="Edit shape").click()
    bar = page.locator("#edit-bar")
    expect(bar).to_contain_text("Editing P1-D")
    expect(bar).to_contain_text("3,000 m² (0.30 ha)")
    assert_accessible(page)

    # The north-east corner 20 m east: 3,000 m² + a triangle of 20 m × 100 m / 2 = 4,000 m².
    drag(page, pixel_of(page, P1_D[2], P1_D[3]), pixel_of(page, P1_D[2] + 20, P1_D[3]))

    live = float(bar.get_attribute("data-area"))
    assert 3900 < live < 4100
    expect(bar).to_contain_text("no overlap with other parcels")
    shown = area_figure(bar.inner_text(), r"Area ([\d,]+) m²")
    assert abs(shown - live) <= 0.5
    page.get_by_role("button", name="Save shape").click()

    expect(page.locator("#plan-status")).to_contain_text("P1-D saved")
    parcel = Parcel.objects.get(code="P1-D")
    assert parcel.version == 2
    assert abs(float(parcel.computed_area_m2) - live) <= live * 0.001
    assert parcel.computed_area_m2 == area_m2(parse_polygon(parcel.geometry))
    expect(bar).to_be_hidden()
    assert not problems, problems


def test_moving_a_parcel_onto_its_neighbour_is_refused_with_the_numbers(page, sign_in, planner, demo, problems):
    open_plan(page, sign_in, planner)
    zoom_to(page, P1_C, P1_D)
    before = Parcel.objects.get(code="P1-D")
    click_parcel(page, P1_D)
    page.get_by_role("button", name="Move", exact=True).click()
    original = page.evaluate("InnopolePlan.layer('P1-D').getBounds().toBBoxString()")

    # 40 m west: P1-D (30 m wide) then covers the east 20 m of P1-C, 20 m × 100 m = 2,000 m².
    centre = centre_of(P1_D)
    drag(page, pixel_of(page, *centre), pixel_of(page, centre[0] - 40, centre[1]))

    bar = page.locator("#edit-bar")
    expect(bar).to_contain_text("overlaps P1-C by")
    live = area_figure(bar.inner_text(), r"overlaps P1-C by ([\d,]+) m²")
    assert 1900 <= live <= 2100
    expect(page.locator("#plan-map path.parcel").nth(2)).to_have_attribute("stroke", "#a4161a")  # P1-C
    assert_accessible(page)
    page.get_by_role("button", name="Save shape").click()

    refusal = page.locator(".refusal-popup")
    expect(refusal).to_contain_text("Not saved")
    expect(refusal).to_contain_text("The parcel overlaps parcel P1-C by")
    server = area_figure(refusal.inner_text(), r"overlaps parcel P1-C by ([\d,]+) m²")
    assert abs(server - live) <= 0.01 * server
    expect(page.locator("#plan-status")).to_contain_text("The parcel overlaps parcel P1-C by")
    assert_accessible(page)
    # Nothing saved, and the shape is back where it was.
    after = Parcel.objects.get(code="P1-D")
    assert (after.version, after.geometry) == (before.version, before.geometry)
    assert page.evaluate("InnopolePlan.layer('P1-D').getBounds().toBBoxString()") == original
    assert not problems, problems


def test_an_edit_on_a_stale_version_says_who_changed_it_and_reloads(page, sign_in, planner, demo):
    open_plan(page, sign_in, planner)
    zoom_to(page, P1_C, P1_D)
    click_parcel(page, P1_D)
    page.get_by_role("button", name="Edit shape").click()
    other = UserFactory(username="kim", first_name="Kim", last_name="Lau", role="Planner")
    parcel = Parcel.objects.get(code="P1-D")
    services.parcel_update(parcel=parcel, actor=other, expected_version=parcel.version, lot_ref="STTL 601")

    drag(page, pixel_of(page, P1_D[2], P1_D[3]), pixel_of(page, P1_D[2] + 10, P1_D[3]))
    page.get_by_role("button", name="Save shape").click()

    conflict = page.locator("#plan-conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("This record was changed by someone else")
    expect(conflict).to_contain_text("Kim Lau")
    assert_accessible(page)
    loads = int(page.locator("#plan-map").get_attribute("data-loads"))
    conflict.get_by_role("button", name="Reload").click()
    expect(conflict).to_be_hidden()
    expect(page.locator("#plan-map")).to_have_attribute("data-loads", str(loads + 1))
    expect(page.locator("#plan-status")).to_contain_text("Reloaded the current version of P1-D")
    assert Parcel.objects.get(code="P1-D").version == 2
    assert page.evaluate("InnopolePlan.layer('P1-D').feature.properties.version") == 2


def test_the_keyboard_reaches_the_map_pans_zooms_and_opens_a_parcel_from_the_table(page, sign_in, planner, demo):
    open_plan(page, sign_in, planner)
    map_element = page.locator("#plan-map")

    for _ in range(40):
        page.keyboard.press("Tab")
        if map_element.evaluate("element => element === document.activeElement"):
            break
    else:
        raise AssertionError("the map is not reachable with Tab")
    assert map_element.get_attribute("aria-label").startswith("Campus map")
    assert map_element.evaluate("element => getComputedStyle(element).outlineStyle") != "none"
    centre = page.evaluate("InnopolePlan.map.getCenter().lng")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(400)
    assert page.evaluate("InnopolePlan.map.getCenter().lng") > centre
    zoom = page.evaluate("InnopolePlan.map.getZoom()")
    page.keyboard.press("+")
    page.wait_for_timeout(400)
    assert page.evaluate("InnopolePlan.map.getZoom()") > zoom

    first_open = page.get_by_role("link", name="Open P1-A")
    for _ in range(60):
        page.keyboard.press("Tab")
        if first_open.evaluate("element => element === document.activeElement"):
            break
    else:
        raise AssertionError("the table's first parcel is not reachable with Tab")
    with page.expect_request(lambda request: "/plan/parcels/P1-A/" in request.url):
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/plan/parcels/P1-A/$"))


def test_the_whole_page_in_traditional_chinese(context, sign_in, planner, demo, live_server):
    context.add_cookies([{"name": "django_language", "value": "zh-hant", "url": live_server.url}])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    open_plan(page, sign_in, planner)

    assert page.locator("html").get_attribute("lang") == "zh-hant"
    expect(parcel_paths(page)).to_have_count(DEMO_PARCELS)
    expect(page.locator("#parcel-table tbody tr")).to_have_count(DEMO_PARCELS)
    assert "1.40" in " ".join(page.locator(".parcel-label").all_text_contents())
    assert not errors, errors
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page)


def draw_polygon(page, corners):
    """Draw a polygon with the Draw tool: click each grid corner, then the first one again to close it."""
    page.get_by_role("button", name="Draw").click()
    for corner in corners:
        page.mouse.click(*pixel_of(page, *corner))
    page.mouse.click(*pixel_of(page, *corners[0]))


@needs_panel
def test_a_drawn_parcel_is_saved_through_the_panel_s_form(page, sign_in, planner, demo, problems):
    # The demo's parcels fill its 20 ha land target: room for one more.
    campus = Parcel.objects.get(code="P1-D").campus
    services.campus_update(campus=campus, actor=None, land_target_ha=21)
    open_plan(page, sign_in, planner)
    zoom_to(page, P1_D, (825650.0, 839210.0, 825750.0, 839290.0))

    draw_polygon(page, [(825650, 839210), (825750, 839210), (825750, 839290), (825650, 839290)])

    expect(page.locator("#plan-status")).to_contain_text("no overlap with other parcels")
    figure = area_figure(page.locator("#plan-status").inner_text(), r"Area ([\d,]+) m²")
    assert abs(figure - 8000) <= 80
    geometry = page.locator("#id_geometry")
    expect(geometry).to_have_value(re.compile(r'"type":"Polygon"'))
    page.locator("#id_code").fill("P1-E")
    page.locator("#parcel-panel form [type=submit]").first.click()
    expect(parcel_paths(page)).to_have_count(DEMO_PARCELS + 1)
    assert Parcel.objects.filter(code="P1-E").exists()
    assert_accessible(page)
    assert not problems, problems


@needs_panel
def test_a_drawn_parcel_over_a_neighbour_is_refused_with_the_numbers(page, sign_in, planner, demo):
    open_plan(page, sign_in, planner)
    zoom_to(page, P1_D, (825590.0, 839210.0, 825700.0, 839290.0))

    # 20 m × 80 m of it on P1-D: 1,600 m².
    draw_polygon(page, [(825590, 839210), (825700, 839210), (825700, 839290), (825590, 839290)])

    status = page.locator("#plan-status")
    expect(status).to_contain_text("overlaps P1-D by")
    assert abs(area_figure(status.inner_text(), r"overlaps P1-D by ([\d,]+) m²") - 1600) <= 40
    page.locator("#id_code").fill("P1-X")
    page.locator("#parcel-panel form [type=submit]").first.click()
    expect(page.locator(".refusal-popup")).to_contain_text("The parcel overlaps parcel P1-D by")
    assert not Parcel.objects.filter(code="P1-X").exists()
    assert_accessible(page)


@needs_split_merge
def test_a_parcel_is_split_along_a_line_and_merged_back(page, sign_in, planner, demo, problems):
    open_plan(page, sign_in, planner)
    zoom_to(page, P2_E)
    original = Parcel.objects.get(code="P2-E")
    click_parcel(page, P2_E)

    # A line across P2-E at half its height (it is 50 m × 120 m): two parts of 3,000 m².
    page.get_by_role("button", name="Split").click()
    middle = (P2_E[1] + P2_E[3]) / 2
    start, end = (P2_E[0] - 10, middle), (P2_E[2] + 10, middle)
    page.mouse.click(*pixel_of(page, *start))
    page.mouse.click(*pixel_of(page, *end))
    page.mouse.click(*pixel_of(page, *end))

    bar = page.locator("#split-bar")
    expect(bar.get_by_role("radio")).to_have_count(2)
    expect(page.locator("#plan-map path.split-part")).to_have_count(2)
    assert_accessible(page)
    # The planner keeps the northern part (clicked on the map) and names the other.
    page.mouse.click(*pixel_of(page, centre_of(P2_E)[0], middle + 30))
    assert bar.get_by_role("radio", checked=True).count() == 1
    bar.get_by_label("Code of the new parcel (the other part)").fill("P2-F")
    bar.get_by_role("button", name="Split").click()

    expect(page.locator("#plan-status")).to_contain_text("P2-E split: P2-F created.")
    expect(parcel_paths(page)).to_have_count(DEMO_PARCELS + 1)
    kept, created = Parcel.objects.get(code="P2-E"), Parcel.objects.get(code="P2-F")
    assert kept.pk == original.pk
    # The line is placed by pixels (about 0.3 m each at this zoom): halves within 2 %, and nothing lost.
    assert abs(float(kept.computed_area_m2) - 3000) < 60 and abs(float(created.computed_area_m2) - 3000) < 60
    assert abs(float(kept.computed_area_m2 + created.computed_area_m2) - float(original.computed_area_m2)) < 1
    north = parse_polygon(kept.geometry).centroid
    assert transformer_to_grid().transform(north.x, north.y)[1] > middle

    # And back: P2-E absorbs P2-F.
    click_parcel(page, P2_E)
    page.get_by_role("button", name="Merge").click()
    page.mouse.click(*pixel_of(page, centre_of(P2_E)[0], middle - 30))
    confirm = page.locator("#merge-bar").get_by_role("button", name="Merge")
    expect(confirm).to_be_visible()
    expect(page.locator("#plan-status")).to_contain_text("P2-E and P2-F together")
    confirm.click()
    expect(page.locator("#plan-status")).to_contain_text("P2-F merged into P2-E.")
    expect(parcel_paths(page)).to_have_count(DEMO_PARCELS)
    merged = Parcel.objects.get(code="P2-E")
    assert merged.pk == original.pk and not Parcel.objects.filter(code="P2-F").exists()
    assert abs(float(merged.computed_area_m2) - float(original.computed_area_m2)) < 1
    assert not problems, problems
