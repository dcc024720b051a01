"""What the API accepts as input: JSON bodies only, nesting capped, no format-suffix URLs, text never null."""

import pytest
from rest_framework.test import APIClient

from planning.models import Parcel
from tests.conftest import api_client_for
from tests.factories import OrganisationFactory, ParcelFactory


@pytest.fixture
def parcel(db):
    return ParcelFactory()


class TestJSONOnly:
    # Past Python's recursion limit (about 1,000 levels) and just under it: both are refused, neither is a 500.
    @pytest.mark.parametrize("depth", [100_000, 900])
    def test_deeply_nested_json_is_a_400_on_a_write(self, api, depth):
        response = api.post("/api/v1/parcels/", "[" * depth + "]" * depth, content_type="application/json")

        assert response.status_code == 400
        assert response.json()["detail"] == (
            "JSON parse error - the body nests lists or objects more than 32 levels deep."
        )
        assert not Parcel.objects.exists()

    def test_deeply_nested_objects_are_a_400(self, staff_user):
        body = '{"a":' * 50_000 + "1" + "}" * 50_000

        response = api_client_for(staff_user).post("/api/v1/organisations/", body, content_type="application/json")

        assert response.status_code == 400
        assert "levels deep" in response.json()["detail"]

    def test_deeply_nested_json_is_a_400_anonymously_on_the_token_endpoint(self, db):
        # Small enough for the sign-in body limit, far deeper than Python's decoder can follow.
        body = "[" * 4_000 + "]" * 4_000

        response = APIClient().post("/api/v1/auth/token/", body, content_type="application/json")

        assert response.status_code == 400
        assert "levels deep" in response.json()["detail"]

    def test_a_body_nested_within_the_limit_is_read(self, api, parcel):
        # The geometry nests 5 levels: read, and checked by the services as usual.
        geometry = {"type": "Polygon", "coordinates": [[[[[114.0, 22.4]]]]]}

        response = api.patch(f"/api/v1/parcels/{parcel.pk}/", {"geometry": geometry}, format="json")

        assert response.status_code == 400
        assert "geometry" in response.json()

    def test_a_form_encoded_sign_in_is_a_415(self, planner):
        response = APIClient().post(
            "/api/v1/auth/token/",
            "username=planner-t&password=secret-pass-123",
            content_type="application/x-www-form-urlencoded",
        )

        assert response.status_code == 415
        assert 'Unsupported media type "application/x-www-form-urlencoded"' in response.json()["detail"]

    def test_a_multipart_write_is_a_415_and_saves_nothing(self, api, parcel):
        created = api.post("/api/v1/parcels/", {"code": "X-1", "campus": parcel.campus_id}, format="multipart")
        changed = api.patch(f"/api/v1/parcels/{parcel.pk}/", {"lot_ref": "changed"}, format="multipart")

        assert (created.status_code, changed.status_code) == (415, 415)
        assert "multipart/form-data" in created.json()["detail"]
        parcel.refresh_from_db()
        assert parcel.lot_ref == "" and Parcel.objects.count() == 1

    def test_every_request_body_is_documented_as_json_only(self, api):
        schema = api.get("/api/schema/?format=json").json()

        content_types = {
            content_type
            for operations in schema["paths"].values()
            for operation in operations.values()
            if isinstance(operation, dict) and "requestBody" in operation
            for content_type in operation["requestBody"]["content"]
        }

        assert content_types == {"application/json"}

    def test_the_browsable_api_still_reads(self, client, planner, parcel):
        client.force_login(planner)

        response = client.get("/api/v1/parcels/", HTTP_ACCEPT="text/html")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert parcel.code in response.content.decode()


class TestFormats:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/parcels/geojson.json",
            "/api/v1/phases/{phase}/readiness.json",
            "/api/v1/campuses/{campus}/warnings.json",
            "/api/v1/parcels.json",
            "/api/v1/parcels/{parcel}.json",
        ],
    )
    def test_format_suffix_urls_are_not_routes(self, api, parcel, path):
        url = path.format(phase=parcel.phase_id, campus=parcel.campus_id, parcel=parcel.pk)

        assert api.get(url).status_code == 404

    @pytest.mark.parametrize(
        ("path", "query", "status", "content_type"),
        [
            ("/api/v1/parcels/geojson/", "", 200, "application/geo+json"),
            ("/api/v1/parcels/geojson/", "?format=json", 200, "application/json"),
            ("/api/v1/parcels/geojson/", "?format=geojson", 200, "application/geo+json"),
            ("/api/v1/parcels/geojson/", "?format=api", 404, None),
            ("/api/v1/phases/{phase}/readiness/", "?format=json", 200, "application/json"),
            ("/api/v1/phases/{phase}/readiness/", "?format=api", 200, "text/html"),
            ("/api/v1/campuses/{campus}/warnings/", "?format=json", 200, "application/json"),
            ("/api/v1/parcels/", "?format=geojson", 404, None),
            ("/api/v1/parcels/", "?format=xml", 404, None),
        ],
    )
    def test_the_format_parameter_picks_a_renderer_or_answers_404(self, api, parcel, path, query, status, content_type):
        response = api.get(path.format(phase=parcel.phase_id, campus=parcel.campus_id) + query)

        assert response.status_code == status
        if content_type:
            assert response["Content-Type"].startswith(content_type)


class TestNullText:
    """One rule for every text field: null is a 400 ("" clears a field that may be blank; left out, it is kept)."""

    def test_null_zoning_is_a_400_and_the_zoning_is_kept(self, api, parcel):
        response = api.patch(f"/api/v1/parcels/{parcel.pk}/", {"zoning": None}, format="json")

        assert response.status_code == 400
        assert response.json() == {"zoning": ["This field may not be null."]}
        parcel.refresh_from_db()
        assert parcel.zoning == "OU(I&T)"

    def test_null_zoning_on_create_is_a_400_and_left_out_takes_the_campus_default(self, api, parcel):
        campus = parcel.campus
        body = {"campus": campus.pk, "code": "N-1", "geometry": parcel.geometry}
        Parcel.objects.filter(pk=parcel.pk).delete()

        refused = api.post("/api/v1/parcels/", {**body, "zoning": None}, format="json")
        created = api.post("/api/v1/parcels/", body, format="json")

        assert refused.status_code == 400 and refused.json() == {"zoning": ["This field may not be null."]}
        assert created.status_code == 201 and created.json()["zoning"] == campus.zoning_default

    def test_null_text_is_a_400_in_partners_too(self, staff_user):
        organisation = OrganisationFactory(contact_name="Ada")

        response = api_client_for(staff_user).patch(
            f"/api/v1/organisations/{organisation.pk}/", {"contact_name": None}, format="json"
        )

        assert response.status_code == 400
        organisation.refresh_from_db()
        assert organisation.contact_name == "Ada"

    def test_no_request_body_documents_a_nullable_text_field(self, api):
        schemas = api.get("/api/schema/?format=json").json()["components"]["schemas"]

        nullable_text = [
            f"{name}.{field}"
            for name, schema in schemas.items()
            if name.endswith("Request")
            for field, prop in schema.get("properties", {}).items()
            if prop.get("type") == "string" and "format" not in prop and prop.get("nullable")
        ]

        assert nullable_text == []
