"""The parcel panel over HTTP (planning.views.parcel): the panel, its attributes and facility programme edited in
place, checks as the planner types (saving nothing), conflicts on stale versions, the new-parcel form and the
delete confirmation. htmx requests are sent with `HX-Request: true`, as htmx sends them."""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from shapely.geometry import shape

from core.roles import EXECUTIVE, PARTNER, PLANNER
from planning import services
from planning.models import Facility, Parcel
from tests.factories import (
    AllocationFactory,
    CampusFactory,
    CommitmentFactory,
    FacilityFactory,
    FacilityTypeFactory,
    ParcelFactory,
    PhaseFactory,
    UserFactory,
    grid_square,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Chan", role=PLANNER)


@pytest.fixture
def planner_client(client, planner):
    client.force_login(planner)
    return client


@pytest.fixture
def parcel(db):
    """A 100 m × 100 m parcel (10,000 m²) at plot ratio 2: a cap of 20,000 m², 19,500 m² of it planned."""
    parcel = ParcelFactory(code="P1-C", max_plot_ratio=Decimal("2"), lot_ref="STT Lot 7")
    FacilityFactory(parcel=parcel, name="Block A", gfa_m2=Decimal("12000"), capacity=Decimal("300"))
    FacilityFactory(parcel=parcel, name="Block B", gfa_m2=Decimal("7500"), capacity=None)
    return parcel


def text(response) -> str:
    """The response's visible text, whitespace collapsed (tags dropped)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).strip()


def attributes_data(parcel: Parcel, **changes) -> dict:
    values = {
        "version": parcel.version,
        "code": parcel.code,
        "lot_ref": parcel.lot_ref,
        "phase": parcel.phase_id or "",
        "zoning": parcel.zoning,
        "max_plot_ratio": parcel.max_plot_ratio,
        "max_site_coverage_pct": parcel.max_site_coverage_pct,
        "max_building_height_mpd": parcel.max_building_height_mpd,
        "land_status": parcel.land_status,
        "handover_date": parcel.handover_date or "",
    }
    values.update(changes)
    return {f"parcel-{name}": value for name, value in values.items()}


def facility_data(facility: Facility | None, prefix: str, **changes) -> dict:
    values = {
        "facility_type": facility.facility_type_id if facility else FacilityTypeFactory().pk,
        "name": facility.name if facility else "",
        "gfa_m2": facility.gfa_m2 if facility else "",
        "capacity": facility.capacity if facility and facility.capacity is not None else "",
        "status": facility.status if facility else "concept",
        "planned_completion": "",
        "delivery_model": facility.delivery_model if facility else "ppp",
    }
    if facility:
        values["version"] = facility.version
    values.update(changes)
    return {f"{prefix}-{name}": value for name, value in values.items()}


def free_square(phase) -> dict:
    """A grid square of the test campus that no parcel of it covers."""
    taken = [shape(p.geometry) for p in Parcel.objects.filter(campus=phase.campus)]
    return next(square for square in map(grid_square, range(81)) if not any(shape(square).intersects(t) for t in taken))


def trigger(response) -> dict:
    return json.loads(response["HX-Trigger"])


# --- the panel --------------------------------------------------------------------------------------------------


class TestPanel:
    def test_htmx_gets_the_panel_with_figures_programme_and_history(self, planner_client, parcel):
        response = planner_client.get("/plan/parcels/P1-C/", **HTMX)

        assert response.status_code == 200
        page = text(response)
        assert f"Parcel P1-C · {parcel.phase.name} · 10,000 m² (1.00 ha)" in page
        assert "19,500 / 20,000 m² (97.5 %)" in page
        assert "<html" not in response.content.decode()  # a fragment
        assert "Block A" in page and "12,000" in page and "300 workstations" in page
        assert "STT Lot 7" in page
        assert "Facility Block B added" in page and "Parcel P1-C created" in page

    def test_a_full_request_gets_the_workspace_with_the_panel_open(self, planner_client, parcel):
        response = planner_client.get("/plan/parcels/P1-C/")

        assert response.status_code == 200
        content = response.content.decode()
        assert "<html" in content and 'id="parcel-panel"' in content
        assert "19,500 / 20,000 m² (97.5 %)" in text(response)

    @pytest.mark.parametrize(
        "path",
        [
            "attributes/",
            "attributes/edit/",
            "delete/",
            "facilities/new/",
            "facilities/{pk}/",
            "facilities/{pk}/edit/",
            "facilities/{pk}/delete/",
        ],
    )
    def test_each_part_opened_without_htmx_is_the_workspace_with_that_part_open(self, planner_client, parcel, path):
        facility = parcel.facilities.get(name="Block A")

        response = planner_client.get("/plan/parcels/P1-C/" + path.format(pk=facility.pk))

        assert response.status_code == 200
        assert "<html" in response.content.decode() and "19,500 / 20,000 m² (97.5 %)" in text(response)

    @pytest.mark.parametrize("role", [EXECUTIVE, PARTNER])
    def test_executives_and_partners_are_refused(self, client, parcel, role):
        client.force_login(UserFactory(role=role))

        assert client.get("/plan/parcels/P1-C/", **HTMX).status_code == 403
        response = client.post("/plan/parcels/P1-C/attributes/", attributes_data(parcel, lot_ref="X"), **HTMX)
        assert response.status_code == 403
        facility = parcel.facilities.get(name="Block A")
        response = client.post(f"/plan/parcels/P1-C/facilities/{facility.pk}/delete/", {"version": 1}, **HTMX)
        assert response.status_code == 403
        assert client.post("/plan/parcels/P1-C/delete/", {"version": parcel.version}, **HTMX).status_code == 403
        parcel.refresh_from_db()
        assert parcel.lot_ref == "STT Lot 7" and Facility.objects.filter(pk=facility.pk).exists()

    def test_signed_out_goes_to_sign_in(self, client, parcel):
        response = client.get("/plan/parcels/P1-C/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_an_unknown_code_and_a_facility_of_another_parcel_are_404(self, planner_client, parcel):
        assert planner_client.get("/plan/parcels/NOPE/", **HTMX).status_code == 404
        other = FacilityFactory()
        assert planner_client.get(f"/plan/parcels/P1-C/facilities/{other.pk}/edit/", **HTMX).status_code == 404
        assert planner_client.get("/plan/parcels/P1-C/facilities/abc/edit/", **HTMX).status_code == 404

    def test_a_row_gone_meanwhile_is_said_in_the_panel(self, planner_client, parcel):
        facility = parcel.facilities.get(name="Block B")
        data = facility_data(facility, f"facility-{facility.pk}")
        services.facility_delete(facility=facility, actor=None)  # by someone else, while the form was open

        response = planner_client.post(f"/plan/parcels/P1-C/facilities/{facility.pk}/", data, **HTMX)

        assert response.status_code == 404
        assert response["HX-Retarget"] == "#parcel-panel"
        assert "This parcel or facility is no longer there" in text(response)

    def test_campus_picks_the_parcel_when_two_campuses_hold_the_code(self, planner_client, parcel):
        other_campus = CampusFactory(code="second")
        ParcelFactory(campus=other_campus, phase=None, code="P1-C", lot_ref="Elsewhere")

        response = planner_client.get("/plan/parcels/P1-C/?campus=second", **HTMX)

        assert response.status_code == 200
        assert "Elsewhere" in text(response)
        assert "/plan/parcels/P1-C/attributes/edit/?campus=second" in response.content.decode()
        assert planner_client.get("/plan/parcels/P1-C/?campus=none-such", **HTMX).status_code == 404
        # A NUL names no campus (PostgreSQL would refuse it in the comparison): 404 too, on each page that reads it.
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        for url, query in (
            ("/plan/parcels/P1-C/", {}),
            ("/plan/parcels/new/", {}),
            ("/plan/history/parcels/P1-C/", {"as_of": yesterday.isoformat()}),
        ):
            assert planner_client.get(url, {"campus": "a\x00b", **query}).status_code == 404, url

    def test_the_panel_query_count_does_not_grow_with_the_programme(self, planner_client, parcel):
        def count() -> int:
            # The newest history holds a change of each kind either way (each kind's previous rows are one query).
            services.facility_update(facility=parcel.facilities.first(), actor=None, capacity=Decimal(len(queries)))
            services.parcel_update(parcel=Parcel.objects.get(pk=parcel.pk), actor=None, lot_ref=f"Lot {len(queries)}")
            with CaptureQueriesContext(connection) as captured:
                assert planner_client.get("/plan/parcels/P1-C/", **HTMX).status_code == 200
            queries.append(len(captured))
            return len(captured)

        queries: list[int] = []
        few = count()
        for n in range(10):
            FacilityFactory(parcel=parcel, name=f"Pavilion {n}", gfa_m2=Decimal("10"))
        assert count() == few

    def test_history_says_who_when_what_and_offers_more(self, planner_client, parcel, alice):
        services.parcel_update(parcel=parcel, actor=alice, expected_version=parcel.version, lot_ref="STT Lot 8")

        response = planner_client.get("/plan/parcels/P1-C/", **HTMX)
        page = text(response)
        assert "Parcel P1-C changed · Alice Chan ·" in page
        assert "Lot reference: STT Lot 7 → STT Lot 8" in page
        assert "Show more changes" not in page

        for n in range(12):
            parcel.refresh_from_db()
            services.parcel_update(parcel=parcel, actor=alice, lot_ref=f"Lot {n}")
        page = text(planner_client.get("/plan/parcels/P1-C/", **HTMX))
        assert "Show more changes" in page and "Lot reference: Lot 10 → Lot 11" in page
        assert "Parcel P1-C created" not in page  # older than the first ten
        more = planner_client.get("/plan/parcels/P1-C/history/?shown=30", **HTMX)
        assert "Parcel P1-C created" in text(more) and "Show more changes" not in text(more)


# --- attributes -------------------------------------------------------------------------------------------------


class TestAttributes:
    def test_edit_opens_the_form_with_the_version(self, planner_client, parcel):
        response = planner_client.get("/plan/parcels/P1-C/attributes/edit/", **HTMX)

        content = response.content.decode()
        assert response.status_code == 200
        assert f'name="parcel-version" value="{parcel.version}"' in content
        assert 'name="parcel-lot_ref"' in content and 'value="STT Lot 7"' in content
        # Each field checks itself as it is typed, through the validate endpoint.
        assert 'hx-post="/plan/parcels/P1-C/attributes/validate/"' in content
        assert 'hx-trigger="input changed delay:400ms"' in content

    def test_save_changes_the_parcel_and_tells_the_map(self, planner_client, planner, parcel):
        response = planner_client.post(
            "/plan/parcels/P1-C/attributes/", attributes_data(parcel, lot_ref="STT Lot 9", zoning="OU(B)"), **HTMX
        )

        assert response.status_code == 200
        assert trigger(response) == {"parcel-changed": {"id": parcel.pk, "code": "P1-C"}}
        assert response["HX-Retarget"] == "#parcel-panel"
        parcel.refresh_from_db()
        assert (parcel.lot_ref, parcel.zoning, parcel.version) == ("STT Lot 9", "OU(B)", 2)
        assert parcel.history.first().history_user == planner
        assert "Attributes of parcel P1-C saved." in text(response)

    def test_without_htmx_a_save_redirects_and_a_refusal_shows_the_whole_page(self, planner_client, parcel):
        saved = planner_client.post("/plan/parcels/P1-C/attributes/", attributes_data(parcel, lot_ref="Plain"))
        refused = planner_client.post(
            "/plan/parcels/P1-C/attributes/", attributes_data(Parcel.objects.get(pk=parcel.pk), max_plot_ratio="1")
        )

        assert saved.status_code == 302 and saved["Location"] == "/plan/parcels/P1-C/"
        assert refused.status_code == 422
        assert "<html" in refused.content.decode() and "exceeds the cap of 10,000 m²" in text(refused)
        parcel.refresh_from_db()
        assert (parcel.lot_ref, parcel.max_plot_ratio) == ("Plain", Decimal("2"))

    def test_the_url_keeps_the_workspace_filters_when_the_code_changes(self, planner_client, parcel):
        response = planner_client.post(
            "/plan/parcels/P1-C/attributes/",
            attributes_data(parcel, code="P1-C2"),
            HTTP_HX_CURRENT_URL="http://testserver/plan/parcels/P1-C/?phase=1&land_status=transferred",
            **HTMX,
        )

        assert response["HX-Push-Url"] == "/plan/parcels/P1-C2/?phase=1&land_status=transferred"

    def test_a_new_code_moves_the_url(self, planner_client, parcel):
        response = planner_client.post("/plan/parcels/P1-C/attributes/", attributes_data(parcel, code="P1-C1"), **HTMX)

        assert response.status_code == 200
        assert response["HX-Push-Url"] == "/plan/parcels/P1-C1/"
        assert trigger(response)["parcel-changed"]["code"] == "P1-C1"

    def test_a_value_that_is_not_a_number_is_refused_beside_its_field(self, planner_client, parcel):
        response = planner_client.post(
            "/plan/parcels/P1-C/attributes/", attributes_data(parcel, max_plot_ratio="lots", lot_ref="X"), **HTMX
        )

        assert response.status_code == 422
        assert re.search(
            r'id="id_parcel-max_plot_ratio_error"[^>]*>\s*<p>Enter a number.</p>', response.content.decode()
        )
        parcel.refresh_from_db()
        assert parcel.lot_ref == "STT Lot 7"

    def test_a_plot_ratio_below_the_programme_is_refused_with_the_numbers(self, planner_client, parcel):
        response = planner_client.post(
            "/plan/parcels/P1-C/attributes/", attributes_data(parcel, max_plot_ratio="1.5", lot_ref="X"), **HTMX
        )

        assert response.status_code == 422
        error = re.search(r'id="id_parcel-max_plot_ratio_error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
        assert "GFA 19,500 m² exceeds the cap of 15,000 m² (plot ratio 1.5 × 10,000 m²)." in error.group(1)
        parcel.refresh_from_db()
        assert (parcel.max_plot_ratio, parcel.lot_ref, parcel.version) == (Decimal("2"), "STT Lot 7", 1)

    def test_a_stale_save_names_who_changed_it_and_keeps_what_was_typed(self, planner_client, parcel, alice):
        typed = attributes_data(parcel, lot_ref="My typed lot")
        services.parcel_update(
            parcel=parcel, actor=alice, expected_version=1, zoning="R(B)", max_site_coverage_pct=Decimal("40")
        )

        response = planner_client.post("/plan/parcels/P1-C/attributes/", typed, **HTMX)

        assert response.status_code == 409
        page = text(response)
        assert "Someone else saved a change to this first." in page
        assert "Changed by Alice Chan at " in page
        assert "Zoning: OU(I&amp;T) → R(B)" in page and "Max site coverage (%): 60 → 40" in page
        assert 'value="My typed lot"' in response.content.decode()
        assert "Load the current version" in page
        parcel.refresh_from_db()
        assert (parcel.lot_ref, parcel.zoning) == ("STT Lot 7", "R(B)")

    def test_loading_the_current_version_keeps_the_typed_value_beside_the_saved_ones(
        self, planner_client, parcel, alice
    ):
        typed = attributes_data(parcel, lot_ref="My typed lot", zoning="Mine")
        services.parcel_update(parcel=parcel, actor=alice, expected_version=1, zoning="R(B)", lot_ref="STT Lot 7")
        services.parcel_update(parcel=parcel, actor=alice, expected_version=2, max_site_coverage_pct=Decimal("40"))

        response = planner_client.post("/plan/parcels/P1-C/attributes/edit/", typed, **HTMX)

        assert response.status_code == 200
        content = response.content.decode()
        assert 'name="parcel-version" value="3"' in content  # a save from here is deliberate, on the current version
        assert 'value="My typed lot"' in content  # what the planner typed is kept…
        assert 'value="Mine"' in content
        assert "Saved now: R(B). Your value is kept in the field." in text(response)  # …with the saved value beside it
        # A field the planner did not change shows the saved value, so saving cannot undo Alice's change.
        assert re.search(r'name="parcel-max_site_coverage_pct" value="40(\.00)?"', content)
        assert "Changed since you opened it (was 60)." in text(response)

        saved = planner_client.post(
            "/plan/parcels/P1-C/attributes/",
            attributes_data(Parcel.objects.get(pk=parcel.pk), lot_ref="My typed lot", zoning="Mine"),
            **HTMX,
        )
        assert saved.status_code == 200
        parcel.refresh_from_db()
        assert (parcel.lot_ref, parcel.zoning, parcel.max_site_coverage_pct) == ("My typed lot", "Mine", Decimal("40"))

    def test_the_check_as_typed_reports_errors_and_saves_nothing(self, planner_client, parcel):
        data = attributes_data(parcel, max_plot_ratio="1.5")

        response = planner_client.post(
            "/plan/parcels/P1-C/attributes/validate/", data, HTTP_HX_TRIGGER_NAME="parcel-max_plot_ratio", **HTMX
        )

        assert response.status_code == 200
        content = response.content.decode()
        assert '<div id="id_parcel-max_plot_ratio_error" hx-swap-oob="innerHTML">' in content
        assert "GFA 19,500 m² exceeds the cap of 15,000 m²" in content
        parcel.refresh_from_db()
        assert (parcel.max_plot_ratio, parcel.version, parcel.history.count()) == (Decimal("2"), 1, 1)

    def test_the_check_as_typed_says_when_someone_else_saved_meanwhile(self, planner_client, parcel, alice):
        services.parcel_update(parcel=parcel, actor=alice, expected_version=1, lot_ref="Theirs")

        response = planner_client.post(
            "/plan/parcels/P1-C/attributes/validate/", attributes_data(parcel, version=1), **HTMX
        )

        assert "Changed by Alice Chan at " in text(response)


# --- the facility programme -------------------------------------------------------------------------------------


class TestProgramme:
    def test_add_a_facility(self, planner_client, planner, parcel):
        data = facility_data(None, "facility-new", name="Block C", gfa_m2="400", capacity="30")

        response = planner_client.post("/plan/parcels/P1-C/facilities/new/", data, **HTMX)

        assert response.status_code == 200
        assert trigger(response) == {"parcel-changed": {"id": parcel.pk, "code": "P1-C"}}
        facility = parcel.facilities.get(name="Block C")
        assert (facility.gfa_m2, facility.capacity) == (Decimal("400"), Decimal("30"))
        assert "19,900 / 20,000 m² (99.5 %)" in text(response)

    def test_a_new_facility_past_the_cap_is_refused_beside_its_gfa(self, planner_client, parcel):
        data = facility_data(None, "facility-new", name="Block C", gfa_m2="1000")

        response = planner_client.post("/plan/parcels/P1-C/facilities/new/", data, **HTMX)

        assert response.status_code == 422
        error = re.search(r'id="id_facility-new-gfa_m2_error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
        assert "GFA 20,500 m² exceeds the cap of 20,000 m² (plot ratio 2.0 × 10,000 m²)" in error.group(1)
        assert not parcel.facilities.filter(name="Block C").exists()

    def test_a_missing_name_is_refused_beside_it(self, planner_client, parcel):
        response = planner_client.post(
            "/plan/parcels/P1-C/facilities/new/", facility_data(None, "facility-new", gfa_m2="10"), **HTMX
        )

        assert response.status_code == 422
        assert re.search(
            r'id="id_facility-new-name_error"[^>]*>\s*<p>This field is required.</p>', response.content.decode()
        )
        assert parcel.facilities.count() == 2

    def test_change_a_facility(self, planner_client, parcel):
        facility = parcel.facilities.get(name="Block B")
        prefix = f"facility-{facility.pk}"

        opened = planner_client.get(f"/plan/parcels/P1-C/facilities/{facility.pk}/edit/", **HTMX)
        assert f'name="{prefix}-version" value="1"' in opened.content.decode()
        response = planner_client.post(
            f"/plan/parcels/P1-C/facilities/{facility.pk}/", facility_data(facility, prefix, gfa_m2="7900"), **HTMX
        )

        assert response.status_code == 200, text(response)
        assert trigger(response)["parcel-changed"]["id"] == parcel.pk
        facility.refresh_from_db()
        assert (facility.gfa_m2, facility.version) == (Decimal("7900"), 2)
        assert "Facility Block B changed" in text(response) and "GFA (m²): 7,500 → 7,900" in text(response)

    def test_raising_gfa_past_the_cap_is_refused_as_typed_and_on_save(self, planner_client, parcel):
        facility = parcel.facilities.get(name="Block B")
        prefix = f"facility-{facility.pk}"
        data = facility_data(facility, prefix, gfa_m2="9000")

        checked = planner_client.post(
            f"/plan/parcels/P1-C/facilities/validate/?facility={facility.pk}",
            data,
            HTTP_HX_TRIGGER_NAME=f"{prefix}-gfa_m2",
            **HTMX,
        )
        saved = planner_client.post(f"/plan/parcels/P1-C/facilities/{facility.pk}/", data, **HTMX)

        message = "Parcel P1-C: GFA 21,000 m² exceeds the cap of 20,000 m² (plot ratio 2.0 × 10,000 m²)."
        oob = re.search(
            rf'<div id="id_{prefix}-gfa_m2_error" hx-swap-oob="innerHTML">(.*?)</div>', checked.content.decode(), re.S
        )
        assert message in oob.group(1)
        assert saved.status_code == 422 and message in text(saved)
        facility.refresh_from_db()
        assert (facility.gfa_m2, facility.version, facility.history.count()) == (Decimal("7500"), 1, 1)

    def test_the_check_as_typed_names_the_capacity_unit_of_the_chosen_type(self, planner_client, parcel):
        housing = FacilityTypeFactory(code="talent_housing", name_en="Talent accommodation", capacity_unit="units")

        response = planner_client.post(
            "/plan/parcels/P1-C/facilities/validate/",
            facility_data(None, "facility-new", facility_type=housing.pk),
            HTTP_HX_TRIGGER_NAME="facility-new-facility_type",
            **HTMX,
        )

        assert re.search(
            r'<span id="facility-new-unit" hx-swap-oob="innerHTML">\s*\(units\)', response.content.decode()
        )
        # Fields not reached yet are left alone: no "required" for the empty name while the type is chosen.
        assert 'id="id_facility-new-name_error"' not in response.content.decode()
        assert parcel.facilities.count() == 2

    def test_a_stale_facility_save_names_who_changed_it(self, planner_client, parcel, alice):
        facility = parcel.facilities.get(name="Block A")
        prefix = f"facility-{facility.pk}"
        typed = facility_data(facility, prefix, name="Block A (typed)")
        services.facility_update(facility=facility, actor=alice, expected_version=1, gfa_m2=Decimal("11000"))

        response = planner_client.post(f"/plan/parcels/P1-C/facilities/{facility.pk}/", typed, **HTMX)

        assert response.status_code == 409
        page = text(response)
        assert "Changed by Alice Chan at " in page and "GFA (m²): 12,000 → 11,000" in page
        assert 'value="Block A (typed)"' in response.content.decode()
        reloaded = planner_client.post(f"/plan/parcels/P1-C/facilities/{facility.pk}/edit/", typed, **HTMX)
        content = reloaded.content.decode()
        assert f'name="{prefix}-version" value="2"' in content
        assert 'value="Block A (typed)"' in content and re.search(
            rf'name="{prefix}-gfa_m2" value="11000(\.00)?"', content
        )
        facility.refresh_from_db()
        assert facility.name == "Block A"

    def test_remove_asks_first_then_removes(self, planner_client, parcel):
        facility = parcel.facilities.get(name="Block B")

        asked = planner_client.get(f"/plan/parcels/P1-C/facilities/{facility.pk}/delete/", **HTMX)
        assert "Remove facility Block B (7,500 m²) from the programme?" in text(asked)
        assert Facility.objects.filter(pk=facility.pk).exists()
        removed = planner_client.post(f"/plan/parcels/P1-C/facilities/{facility.pk}/delete/", {"version": 1}, **HTMX)

        assert removed.status_code == 200 and trigger(removed)["parcel-changed"]["id"] == parcel.pk
        assert not Facility.objects.filter(pk=facility.pk).exists()
        assert "Facility Block B removed" in text(removed)

    def test_remove_says_what_refuses_it(self, planner_client, parcel):
        facility = parcel.facilities.get(name="Block A")
        AllocationFactory(facility=facility, status="signed", gfa_m2=Decimal("2000"))
        CommitmentFactory(parcel=parcel, facility=facility)

        asked = planner_client.get(f"/plan/parcels/P1-C/facilities/{facility.pk}/delete/", **HTMX)
        posted = planner_client.post(f"/plan/parcels/P1-C/facilities/{facility.pk}/delete/", {"version": 1}, **HTMX)

        page = text(asked)
        assert "It cannot be removed now:" in page
        assert "space allocation is recorded in it" in page and "2,000 m² (Signed)" in page
        assert "commitment names it" in page
        assert "Remove Block A" not in page  # no button to press
        assert posted.status_code == 422 and "space allocation is recorded in it" in text(posted)
        assert Facility.objects.filter(pk=facility.pk).exists()


# --- a new parcel -----------------------------------------------------------------------------------------------


class TestNewParcel:
    @pytest.fixture
    def phase(self, parcel):
        return parcel.phase

    def data(self, phase, geometry, **changes) -> dict:
        values = {
            "geometry": json.dumps(geometry) if geometry else "",
            "code": "P1-D",
            "lot_ref": "",
            "phase": phase.pk,
            "zoning": "",
            "max_plot_ratio": "",
            "max_site_coverage_pct": "",
            "max_building_height_mpd": "",
            "land_status": "not_transferred",
            "handover_date": "",
        }
        values.update(changes)
        return values

    def test_the_form_has_the_geometry_field_the_map_fills(self, planner_client, phase):
        response = planner_client.get("/plan/parcels/new/", **HTMX)

        content = response.content.decode()
        assert response.status_code == 200
        assert re.search(r'<input type="hidden" name="geometry"[^>]* id="id_geometry"', content)
        assert "Blank: the campus default, 6.0." in text(response)
        assert "Reserve (no phase)" in content

    def test_create_takes_the_campus_defaults_for_blank_controls(self, planner_client, phase):
        response = planner_client.post("/plan/parcels/new/", self.data(phase, free_square(phase)), **HTMX)

        assert response.status_code == 200
        created = Parcel.objects.get(code="P1-D")
        assert trigger(response) == {"parcel-changed": {"id": created.pk, "code": "P1-D"}}
        assert response["HX-Push-Url"] == "/plan/parcels/P1-D/"
        assert (created.max_plot_ratio, created.zoning, created.phase) == (Decimal("6"), "OU(I&T)", phase)
        assert "Parcel P1-D created." in text(response)

    def test_an_overlapping_shape_is_refused_at_the_top_and_to_the_map(self, planner_client, phase, parcel):
        response = planner_client.post("/plan/parcels/new/", self.data(phase, parcel.geometry), **HTMX)  # on top

        assert response.status_code == 422
        refused = trigger(response)["parcel-refused"]["messages"]
        assert "The parcel overlaps parcel P1-C by 10,000 m²." in refused
        content = response.content.decode()
        top = re.search(r'<div id="parcel-new-errors">(.*?)</div>\s*<div class="field-grid">', content, re.S)
        assert "The parcel overlaps parcel P1-C by 10,000 m²." in top.group(1)
        assert not Parcel.objects.filter(code="P1-D").exists()

    def test_no_shape_and_a_taken_code_are_refused(self, planner_client, phase):
        no_shape = planner_client.post("/plan/parcels/new/", self.data(phase, None), **HTMX)
        taken = planner_client.post("/plan/parcels/new/", self.data(phase, free_square(phase), code="P1-C"), **HTMX)

        assert no_shape.status_code == 422
        assert "Draw the parcel on the map first" in text(no_shape)
        assert taken.status_code == 422
        assert "This campus already has a parcel with this code." in text(taken)
        assert Parcel.objects.count() == 1

    def test_executives_cannot_create(self, client, phase):
        client.force_login(UserFactory(role=EXECUTIVE))
        response = client.post("/plan/parcels/new/", self.data(phase, free_square(phase)), **HTMX)
        assert response.status_code == 403 and Parcel.objects.count() == 1


# --- delete the parcel ------------------------------------------------------------------------------------------


class TestDeleteParcel:
    def test_the_confirmation_names_the_facilities_that_go_with_it(self, planner_client, parcel):
        response = planner_client.get("/plan/parcels/P1-C/delete/", **HTMX)

        page = text(response)
        assert "Delete parcel P1-C?" in page
        assert "Its 2 facilities go with it (19,500 m² in all):" in page
        assert "Block A (12,000 m²)" in page and "Block B (7,500 m²)" in page
        assert "Delete parcel P1-C" in page and "cannot be deleted" not in page

    def test_delete_removes_it_and_returns_to_the_map(self, planner_client, parcel):
        response = planner_client.post("/plan/parcels/P1-C/delete/", {"version": parcel.version}, **HTMX)

        assert response.status_code == 200
        assert trigger(response) == {"parcel-changed": {"id": parcel.pk, "code": "P1-C"}}
        assert response["HX-Push-Url"] == "/plan/"
        assert not Parcel.objects.filter(pk=parcel.pk).exists()
        assert not Facility.objects.filter(parcel_id=parcel.pk).exists()

    def test_signed_allocations_refuse_it_and_are_listed(self, planner_client, parcel):
        facility = parcel.facilities.get(name="Block A")
        AllocationFactory(facility=facility, status="signed", gfa_m2=Decimal("3000"))

        asked = planner_client.get("/plan/parcels/P1-C/delete/", **HTMX)
        posted = planner_client.post("/plan/parcels/P1-C/delete/", {"version": parcel.version}, **HTMX)

        assert "It cannot be deleted now:" in text(asked)
        assert "Facility Block A cannot be deleted" in text(asked) and "3,000 m² (Signed)" in text(asked)
        assert "Delete parcel P1-C</button>" not in asked.content.decode()
        assert posted.status_code == 422 and "3,000 m² (Signed)" in text(posted)
        assert Parcel.objects.filter(pk=parcel.pk).exists()

    def test_a_stale_delete_is_a_conflict(self, planner_client, parcel, alice):
        version = parcel.version
        services.parcel_update(parcel=parcel, actor=alice, expected_version=version, lot_ref="Changed")

        response = planner_client.post("/plan/parcels/P1-C/delete/", {"version": version}, **HTMX)

        assert response.status_code == 409 and "Changed by Alice Chan" in text(response)
        assert Parcel.objects.filter(pk=parcel.pk).exists()


def test_a_reserve_parcel_says_so(planner_client):
    campus = CampusFactory()
    PhaseFactory(campus=campus)
    ParcelFactory(campus=campus, phase=None, code="R-1")

    response = planner_client.get("/plan/parcels/R-1/", **HTMX)

    assert "Parcel R-1 · Reserve · 10,000 m² (1.00 ha)" in text(response)
