"""Schemathesis over the whole OpenAPI schema: no server error, and every response matches the schema."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from innopole.roles import STAFF
from tests.factories import FacilityFactory, MilestoneFactory, UserFactory, UtilityCapacityFactory


@pytest.fixture
def api_schema(db):
    # Requests run inside the test's transaction: like Django's test client, keep the handler from closing the
    # connection at the end of each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def staff_token(db):
    user = UserFactory(username="fuzz-staff", role=STAFF, is_staff=True)
    # Some rows to read, update and delete, so the fuzzer reaches past "not found".
    facility = FacilityFactory()
    UtilityCapacityFactory(phase=facility.parcel.phase)
    MilestoneFactory(phase=facility.parcel.phase)
    return Token.objects.create(user=user).key


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, staff_token):
    if case.path_parameters and "geojson" in case.path_parameters.values():
        # /parcels/geojson/ is the FeatureCollection endpoint by design, not the parcel with id "geojson".
        return
    case.call_and_validate(
        headers={"Authorization": f"Token {staff_token}", "Host": "testserver"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
