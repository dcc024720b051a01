"""A planner imports parcels on the demo campus in Chromium: a file with one good and three bad features is refused
whole with every reason, then the good feature alone is previewed and applied; the parcels are exported as XLSX
from the page and read back. axe-core on every state."""

import io
import json

import openpyxl
import pytest
from playwright.sync_api import expect

from planning.models import Parcel
from tests.browser.helpers import assert_accessible

pytestmark = pytest.mark.browser

HK1980 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2326"}}


def square(x0, y0, x1, y1) -> dict:
    """A rectangle in HK1980 Grid metres (the demo campus spans about 825,285–825,859 E × 839,185–839,765 N)."""
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


# 40 m × 25 m of free land east of P1-D: 1,000 m², within the campus's 20 ha + 1 % (the demo holds 20 ha).
GOOD = {
    "type": "Feature",
    "geometry": square(825_640, 839_200, 825_680, 839_225),
    "properties": {
        "code": "P1-E",
        "phase": 1,
        "lot_ref": "Lot No. 1234 in D.D. 99",
        "land_status": "handover_scheduled",
    },
}
BAD = [
    {"type": "Feature", "geometry": square(825_320, 839_220, 825_340, 839_240), "properties": {"code": "P1-X"}},
    {
        "type": "Feature",
        "geometry": {
            "type": "MultiPolygon",
            "coordinates": [square(825_700, 839_200, 825_710, 839_210)["coordinates"]],
        },
        "properties": {"code": "P1-Y"},
    },
    {
        "type": "Feature",
        "geometry": square(825_700, 839_230, 825_720, 839_250),
        "properties": {"code": "P1-Z", "phase": 9},
    },
]


def upload(page, name: str, features: list, crs: str = "EPSG:2326") -> None:
    data = json.dumps({"type": "FeatureCollection", "crs": HK1980, "features": features}).encode()
    page.set_input_files("#id_file", files=[{"name": name, "mimeType": "application/geo+json", "buffer": data}])
    page.select_option("#id_crs", crs)
    page.get_by_role("button", name="Preview").click()


def test_a_planner_imports_a_file_refused_whole_then_its_good_feature_and_exports_xlsx(page, sign_in, planner, demo):
    sign_in(planner)
    page.goto("/plan/import/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Import parcels")
    assert_accessible(page)

    # Not JSON: the error is beside the file field, and described by it.
    page.set_input_files("#id_file", files=[{"name": "notes.geojson", "mimeType": "text/plain", "buffer": b"{oops"}])
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#id_file_error")).to_have_text(
        "The file is not valid JSON (the problem is at line 1, column 2)."
    )
    expect(page.locator("#id_file")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)

    # One good and three bad features: refused whole, a summary and one line of reasons per bad feature.
    upload(page, "layout.geojson", [GOOD, *BAD])
    refused = page.locator(".import-refused")
    expect(refused.locator(".import-summary")).to_have_text(
        "3 of 4 features were refused, so nothing was imported. Correct the file and preview it again."
    )
    rows = refused.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("td")).to_have_text(["2", "P1-X", "The parcel overlaps parcel P1-A by 400 m²."])
    expect(rows.nth(1).locator("td")).to_have_text(
        [
            "3",
            "P1-Y",
            "The geometry is a MultiPolygon; a parcel is one Polygon. Give each part its own feature and code.",
        ]
    )
    expect(rows.nth(2).locator("td")).to_have_text(
        ["4", "P1-Z", "phase: INNOPOLE, San Tin Technopole has no phase 9 (its phases: 1, 2, 3, 4)."]
    )
    assert not Parcel.objects.filter(code__in=["P1-E", "P1-X", "P1-Z"]).exists()
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # a phone: no sideways scrolling
    page.set_viewport_size({"width": 1366, "height": 900})

    # The good feature alone: previewed (nothing saved yet), then applied.
    upload(page, "p1-e.geojson", [GOOD])
    preview = page.locator(".import-preview")
    expect(preview.locator(".import-summary")).to_have_text(
        "If you apply this file — new parcels: 1; updated: 0; unchanged: 0."
    )
    row = preview.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("th")).to_have_text("P1-E")
    expect(row).to_contain_text("New parcel")
    expect(row).to_contain_text("Land status: Handover scheduled")
    expect(row.locator("td").last).to_have_text("1,000 m²")
    assert not Parcel.objects.filter(code="P1-E").exists()
    assert_accessible(page)

    page.get_by_role("button", name="Apply the import").click()
    expect(page).to_have_url("/plan/import/done/")
    expect(page.locator(".import-summary")).to_have_text(
        "p1-e.geojson is imported into INNOPOLE, San Tin Technopole — new parcels: 1; updated: 0; unchanged: 0."
    )
    expect(page.get_by_role("link", name="P1-E")).to_have_attribute("href", "/plan/parcels/P1-E/")
    expect(page.get_by_role("link", name="Back to the plan")).to_have_attribute("href", "/plan/")
    assert_accessible(page)
    parcel = Parcel.objects.get(code="P1-E")
    assert float(parcel.computed_area_m2) == pytest.approx(1000, rel=0.001)
    assert (parcel.phase.number, parcel.land_status) == (1, "handover_scheduled")

    # Export XLSX from the page, and read it back.
    page.goto("/plan/import/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel workbook (XLSX)").click()
    assert download.value.suggested_filename.startswith("innopole-parcels-")
    assert download.value.suggested_filename.endswith(".xlsx")
    # (The downloaded file's path has no extension, which openpyxl insists on: read it as bytes.)
    sheet = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    by_code = {row[header.index("code")]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert len(by_code) == 19  # the demo's 18 parcels and P1-E
    assert by_code["P1-E"]["site_area_m2"] == pytest.approx(1000, rel=0.001)
    assert (by_code["P1-A"]["site_area_m2"], by_code["P1-A"]["gfa_office_m2"]) == (9000, 37000)
    assert sheet.freeze_panes == "A2"


def test_a_file_too_big_is_refused_beside_the_field_before_it_is_sent(page, sign_in, planner, demo):
    sign_in(planner)
    page.goto("/plan/import/")
    limit = int(page.locator("#id_file").get_attribute("data-max-bytes"))
    requests = []
    page.on("request", lambda request: requests.append(request.method) if request.method == "POST" else None)

    page.set_input_files(
        "#id_file", files=[{"name": "big.geojson", "mimeType": "application/geo+json", "buffer": b" " * (limit + 1)}]
    )
    page.get_by_role("button", name="Preview").click()

    expect(page.locator("#id_file_error")).to_have_text(
        "The file is larger than 8.0 MB, the most that can be imported. Split it into several files."
    )
    expect(page.locator("#id_file")).to_have_attribute("aria-invalid", "true")
    assert requests == []
    assert_accessible(page)
