"""The plan workspace page (`/plan/`) on the server side: filters kept in the URL narrow the table, the map's one
GeoJSON request and the exports alike; the table sorts and pages on the server; who may open it; its query count
does not grow with the parcels; the basemap setting and its Content Security Policy."""

import json
import re
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning import services
from planning.models import Parcel
from planning.views import pages
from tests.factories import FacilityFactory, FacilityTypeFactory, ParcelFactory, PhaseFactory, grid_square

pytestmark = pytest.mark.django_db


def table_codes(content: str) -> list[str]:
    """The codes of the parcels table's rows, in order."""
    return re.findall(r'<tr data-parcel-id="\d+" data-code="([^"]+)"', content)


def map_config(content: str) -> dict:
    match = re.search(r'<script id="plan-map-config" type="application/json">(.*?)</script>', content, re.S)
    return json.loads(match.group(1))


def geojson_codes(client, content: str) -> list[str]:
    """The codes of the parcels the page's map requests (the URL it was given, fetched as the browser would)."""
    features = client.get(map_config(content)["geojsonUrl"]).json()["features"]
    return sorted(feature["properties"]["code"] for feature in features)


@pytest.fixture
def plan(db):
    """Two phases and a reserve parcel with different land statuses, zonings and facility types."""
    phase_1 = PhaseFactory(number=1)
    campus = phase_1.campus
    phase_2 = PhaseFactory(number=2, campus=campus)
    office = FacilityTypeFactory(code="office")
    lab = FacilityTypeFactory(code="lab", name_en="Laboratory", name_zh="實驗室")

    def parcel(code, index, phase, **fields):
        return ParcelFactory(code=code, campus=campus, phase=phase, geometry=grid_square(index), **fields)

    a = parcel("P1-A", 0, phase_1, land_status=Parcel.LandStatus.TRANSFERRED, zoning="OU(I&T)")
    b = parcel("P1-B", 1, phase_1, land_status=Parcel.LandStatus.NOT_TRANSFERRED, zoning="OU(I&T)")
    c = parcel("P2-A", 2, phase_2, land_status=Parcel.LandStatus.SITE_READY, zoning="R(A)")
    parcel("R-1", 3, None, land_status=Parcel.LandStatus.NOT_TRANSFERRED, zoning="OU(I&T)")
    FacilityFactory(parcel=a, facility_type=office, gfa_m2=Decimal("20000"))
    FacilityFactory(parcel=a, facility_type=office, gfa_m2=Decimal("1000"))
    FacilityFactory(parcel=b, facility_type=lab, gfa_m2=Decimal("5000"))
    FacilityFactory(parcel=c, facility_type=lab, gfa_m2=Decimal("2000"))
    return campus


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("", ["P1-A", "P1-B", "P2-A", "R-1"]),
        ("phase=1", ["P1-A", "P1-B"]),
        ("phase=2", ["P2-A"]),
        ("phase=reserve", ["R-1"]),
        ("land_status=not_transferred", ["P1-B", "R-1"]),
        ("zoning=R(A)", ["P2-A"]),
        ("facility_type=lab", ["P1-B", "P2-A"]),
        ("facility_type=office", ["P1-A"]),  # two office facilities: still one row
        ("phase=1&facility_type=lab", ["P1-B"]),
        ("phase=1&land_status=site_ready", []),
    ],
)
def test_filters_in_the_url_narrow_the_table_and_the_map_alike(client, planner, plan, query, codes):
    client.force_login(planner)

    content = client.get(f"/plan/?{query}").content.decode()

    assert table_codes(content) == codes
    assert geojson_codes(client, content) == codes


def test_the_filters_stay_in_the_links_of_the_page(client, planner, plan):
    client.force_login(planner)

    content = unescape(client.get("/plan/?phase=1&land_status=transferred&colour=readiness").content.decode())

    # The form shows them chosen; sorting, opening a parcel and exporting keep them.
    assert '<option value="1" selected>' in content
    assert '<option value="transferred" selected>' in content
    assert '<option value="readiness" selected>' in content
    sort_link = re.search(r'<a href="\?([^"]*sort=-code[^"]*)"', content).group(1)
    assert parse_qs(sort_link) == {
        "phase": ["1"],
        "land_status": ["transferred"],
        "colour": ["readiness"],
        "sort": ["-code"],
    }
    assert 'href="/plan/parcels/P1-A/?phase=1&land_status=transferred&colour=readiness"' in content
    assert 'hx-target="#parcel-panel"' in content and 'hx-push-url="true"' in content
    for fmt in ("csv", "xlsx", "geojson"):
        assert f'href="/api/v1/parcels/export/?format={fmt}&phase_number=1&land_status=transferred"' in content
    config = map_config(content)
    assert parse_qs(urlsplit(config["geojsonUrl"]).query) == {"phase_number": ["1"], "land_status": ["transferred"]}
    assert config["colour"] == "readiness"


def test_a_filter_value_it_cannot_read_is_named_and_ignored(client, planner, plan):
    client.force_login(planner)

    response = client.get("/plan/?phase=first&land_status=sold&sort=price")
    content = response.content.decode()

    assert response.status_code == 200
    assert "Phase filter ignored: Enter a number." in content
    assert "Land status filter ignored: Select a valid choice. sold is not one of the available choices." in content
    assert table_codes(content) == ["P1-A", "P1-B", "P2-A", "R-1"]  # unfiltered, sorted by code
    assert urlsplit(map_config(content)["geojsonUrl"]).query == ""


@pytest.mark.parametrize(
    ("sort", "codes", "sorted_column"),
    [
        ("code", ["P1-A", "P1-B", "P2-A", "R-1"], ("Code", "ascending")),
        ("-code", ["R-1", "P2-A", "P1-B", "P1-A"], ("Code", "descending")),
        ("gfa", ["R-1", "P2-A", "P1-B", "P1-A"], ("GFA / cap (m²)", "ascending")),
        ("-gfa", ["P1-A", "P1-B", "P2-A", "R-1"], ("GFA / cap (m²)", "descending")),
        # The reserve (no phase) comes last either way; ties are broken by code.
        ("phase", ["P1-A", "P1-B", "P2-A", "R-1"], ("Phase", "ascending")),
        ("-phase", ["P2-A", "P1-A", "P1-B", "R-1"], ("Phase", "descending")),
        # Land status in its order of progress, not alphabetically.
        ("land_status", ["P1-B", "R-1", "P1-A", "P2-A"], ("Land status", "ascending")),
    ],
)
def test_the_table_sorts_on_the_server_and_says_so(client, planner, plan, sort, codes, sorted_column):
    client.force_login(planner)

    content = client.get(f"/plan/?sort={sort}").content.decode()

    assert table_codes(content) == codes
    headers = re.findall(r'<th scope="col" aria-sort="(\w+)"[^>]*>\s*<a href="[^"]*">([^<]+)<', content)
    assert headers == [(sorted_column[1], sorted_column[0])]


def test_site_area_sorts_by_the_surveyed_area_where_there_is_one(client, planner, plan):
    parcel = Parcel.objects.get(code="P1-B")
    services.parcel_update(parcel=parcel, actor=None, surveyed_area_m2=Decimal("12000"))
    small = Parcel.objects.get(code="R-1")
    services.parcel_update(parcel=small, actor=None, surveyed_area_m2=Decimal("9000"))
    client.force_login(planner)

    content = client.get("/plan/?sort=-site_area").content.decode()

    assert table_codes(content) == ["P1-B", "P1-A", "P2-A", "R-1"]
    row = re.search(r'data-code="P1-B">(.*?)</tr>', content, re.S).group(1)
    assert "12,000" in row and "1.20" in row


def test_the_table_pages_while_the_map_shows_every_parcel(client, planner, plan, monkeypatch):
    monkeypatch.setattr(pages, "PARCELS_PER_PAGE", 3)
    client.force_login(planner)

    first = client.get("/plan/?sort=-code").content.decode()
    second = client.get("/plan/?sort=-code&page=2").content.decode()

    assert table_codes(first) == ["R-1", "P2-A", "P1-B"]
    assert table_codes(second) == ["P1-A"]
    assert "Parcels 1–3 of 4 that match the filters; the map shows them all." in first
    assert 'href="?sort=-code&amp;page=2" rel="next"' in first
    assert geojson_codes(client, first) == ["P1-A", "P1-B", "P2-A", "R-1"]


def test_the_page_holds_no_parcel_geometry(client, planner, plan):
    """The map fetches the parcels; the page itself carries only the campus boundary."""
    client.force_login(planner)
    parcel = Parcel.objects.get(code="P1-A")
    longitude = parcel.geometry["coordinates"][0][0][0]

    content = client.get("/plan/").content.decode()

    assert str(longitude) not in content
    assert map_config(content)["campuses"][0]["boundary"] == plan.boundary


@pytest.mark.parametrize("role", ["executive", "partner"])
def test_roles_that_do_not_plan_are_refused(client, users, role):
    client.force_login(users[role])
    response = client.get("/plan/")
    assert response.status_code == 403
    assert "Your role does not give access to this page." in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/plan/?phase=1")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/plan/%3Fphase%3D1"


def test_staff_may_open_it_with_the_editing_tools(client, users, plan):
    client.force_login(users["staff"])
    content = client.get("/plan/").content.decode()
    assert 'id="tool-draw"' in content and map_config(content)["canEdit"] is True


def test_queries_do_not_grow_with_the_parcels(client, planner, plan):
    client.force_login(planner)
    client.get("/plan/")  # the session and the user's roles, read once
    with CaptureQueriesContext(connection) as few:
        assert client.get("/plan/?sort=-gfa").status_code == 200
    phase = plan.phases.get(number=2)
    lab = FacilityTypeFactory(code="lab")
    for index in range(10, 40):
        parcel = ParcelFactory(code=f"X-{index}", campus=plan, phase=phase, geometry=grid_square(index))
        FacilityFactory(parcel=parcel, facility_type=lab, gfa_m2=Decimal("100"))
    with CaptureQueriesContext(connection) as many:
        response = client.get("/plan/?sort=-gfa")
    assert len(table_codes(response.content.decode())) == 34
    assert len(many) == len(few), [query["sql"][:120] for query in many.captured_queries]


def test_the_map_data_has_what_the_map_shows(client, planner, plan):
    """The GeoJSON's properties the map reads: phase id, GFA cap, hectares, facility types, version; and the
    readiness of each phase (the map's third colouring) and the types' names in the page's map settings."""
    phase = plan.phases.get(number=1)
    snapshot = services.readiness_recompute(phase=phase)
    client.force_login(planner)

    features = client.get("/api/v1/parcels/geojson/").json()["features"]
    config = map_config(client.get("/plan/").content.decode())

    properties = {feature["properties"]["code"]: feature["properties"] for feature in features}
    a = properties["P1-A"]
    assert a["phase_id"] == phase.pk and a["phase"] == 1
    assert a["facility_types"] == ["office"]
    assert a["gfa_m2"] == 21000.0
    assert a["gfa_cap_m2"] == pytest.approx(50000, abs=0.1)  # 5 × the 100 m square's 10,000 m²
    assert a["site_area_ha"] == 1.0
    assert a["version"] == Parcel.objects.get(code="P1-A").version
    assert properties["P1-B"]["facility_types"] == ["lab"]
    reserve = properties["R-1"]
    assert (reserve["phase_id"], reserve["facility_types"]) == (None, [])
    readiness = {item["number"]: item["readiness"] for item in config["phases"]}
    assert readiness == {1: snapshot.state, 2: None}  # phase 2 never computed
    assert config["facilityTypes"] == {"lab": "Laboratory", "office": "Office / R&D"}


def test_without_a_basemap_the_map_has_none_and_the_policy_is_unchanged(client, planner, plan, settings):
    settings.BASEMAP_TILE_URL = ""
    client.force_login(planner)
    response = client.get("/plan/")
    assert map_config(response.content.decode())["basemap"] is None
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_a_basemap_may_load_its_tiles_and_logo_and_nothing_else(client, planner, plan, settings):
    settings.BASEMAP_TILE_URL = "https://mapapi.geodata.gov.hk/gs/api/v1.0.0/xyz/basemap/WGS84/{z}/{x}/{y}.png"
    settings.BASEMAP_ATTRIBUTION = (
        '<a href="https://api.portal.hkmapservice.gov.hk/disclaimer">&copy; Map from Lands Department</a> '
        '<img src="https://api.hkmapservice.gov.hk/mapapi/landsdlogo.jpg" alt="Lands Department">'
    )
    client.force_login(planner)

    response = client.get("/plan/")

    policy = dict(
        (directive.split()[0], directive.split()[1:]) for directive in response["Content-Security-Policy"].split("; ")
    )
    assert policy["img-src"] == [
        "'self'",
        "data:",
        "blob:",
        "https://mapapi.geodata.gov.hk",
        "https://api.hkmapservice.gov.hk",
    ]
    assert policy["script-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert map_config(response.content.decode())["basemap"] == {
        "url": settings.BASEMAP_TILE_URL,
        "attribution": settings.BASEMAP_ATTRIBUTION,
    }


def test_a_tile_url_with_subdomains_allows_them_all(client, planner, plan, settings):
    settings.BASEMAP_TILE_URL = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    settings.BASEMAP_ATTRIBUTION = "Example"
    client.force_login(planner)
    policy = client.get("/plan/")["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://*.tiles.example.org;" in policy
