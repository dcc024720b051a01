"""Schemathesis over the whole OpenAPI schema: no server error, and every response matches the schema.

The rows the fuzzer works on are made once for the module: a plan (facility, utility, a milestone and an activity
linked by a dependency), an organisation with an MoU, an EOI at every workflow status (files on the draft),
commitments, a tenant with allocations. Each example runs in a savepoint inside that and is rolled back after it,
so every example starts from those rows. Path ids are steered: three examples in four name an existing row of the
resource, so updates, deletes (protected rows too) and workflow actions reach real rows and their rules; the others
keep the drawn id for the "not found" path. Examples per operation follow what there is to vary: reads and deletes
have ids and filters; workflow actions an id and a note but eight statuses to meet; creates and updates have whole
bodies.
"""

import zlib
from types import SimpleNamespace

import pytest
import schemathesis
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from core.roles import STAFF
from innopole.urls import router
from partners import services as partner_services
from partners.models import ExpressionOfInterest
from tests.factories import (
    AllocationFactory,
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    MilestoneFactory,
    MoUFactory,
    OrganisationFactory,
    ScheduleDependencyFactory,
    ScheduleItemFactory,
    TenantFactory,
    UserFactory,
    UtilityCapacityFactory,
    partner_user,
)

pytestmark = pytest.mark.slow  # half a minute an item

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def model_of(viewset):
    return getattr(viewset, "model", None) or viewset.serializer_class.Meta.model


@pytest.fixture(scope="module")
def fuzz_rows(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        user = UserFactory(username="fuzz-staff", role=STAFF, is_staff=True)
        token = Token.objects.create(user=user).key
        facilities = [FacilityFactory(), FacilityFactory()]
        for facility in facilities:
            phase = facility.parcel.phase
            UtilityCapacityFactory(phase=phase)
            ScheduleDependencyFactory(
                predecessor=MilestoneFactory(phase=phase), successor=ScheduleItemFactory(phase=phase)
            )
        organisation = OrganisationFactory()
        MoUFactory(organisation=organisation)
        partner = partner_user(organisation, role="admin")
        parcel = facilities[0].parcel
        for status in ExpressionOfInterest.Status:
            eoi = EOIFactory(organisation=organisation, status=status, preferred_phase=parcel.phase)
            if status == ExpressionOfInterest.Status.DRAFT:
                for name in ("plan.png", "site.png"):
                    upload = SimpleUploadedFile(name, PNG, content_type="image/png")
                    partner_services.attachment_add(eoi=eoi, actor=partner, upload=upload)
        CommitmentFactory(organisation=organisation, parcel=parcel, facility=facilities[0])
        CommitmentFactory(organisation=organisation, parcel=facilities[1].parcel)
        tenant = TenantFactory(organisation=organisation)
        AllocationFactory(tenant=tenant, facility=facilities[0], status="signed", gfa_m2=100)
        AllocationFactory(tenant=tenant, facility=facilities[1], status="reserved", gfa_m2=100)
        ids = {
            prefix: list(model_of(viewset)._default_manager.order_by("pk").values_list("pk", flat=True))
            for prefix, viewset, _basename in router.registry
        }
        yield SimpleNamespace(token=token, ids=ids)
        transaction.set_rollback(True)


@pytest.fixture
def api_schema(fuzz_rows, db):
    # Requests run inside the test's transaction: like Django's test client, keep the handler from closing the
    # connection at the end of each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")
ACTION = r"/\{id\}/[a-z-]+/$"  # a workflow action or another read on one row: /eois/{id}/submit/


def steer(case, fuzz_rows) -> bool:
    """Point the case's id at an existing row (three times in four); False for a case not to send."""
    if case.path_parameters and "geojson" in case.path_parameters.values():
        # /parcels/geojson/ is the FeatureCollection endpoint by design, not the parcel with id "geojson".
        return False
    if case.path_parameters and "id" in case.path_parameters:
        # The schema types ids as strings: the drawn value picks, deterministically, an existing row or none.
        pick = zlib.crc32(str(case.path_parameters["id"]).encode())
        existing = fuzz_rows.ids[case.operation.path.removeprefix("/api/v1/").split("/{id}")[0]]
        if pick % 4 and existing:
            case.path_parameters["id"] = existing[pick % len(existing)]
    return True


def headers(fuzz_rows) -> dict:
    return {"Authorization": f"Token {fuzz_rows.token}", "Host": "testserver"}


def call(case, fuzz_rows) -> None:
    """Send one example and check the answer, then undo what it wrote: every example starts from the same rows.
    (The operations of a test share one transaction; without this, the DELETE of /auth/token/ signed the fuzzer
    out and every later operation was answered 401, and a deleted row stayed deleted.)"""
    if not steer(case, fuzz_rows):
        return
    with transaction.atomic():
        case.call_and_validate(headers=headers(fuzz_rows), checks=CHECKS)
        transaction.set_rollback(True)


FUZZ = {"deadline": None, "suppress_health_check": list(HealthCheck)}


@schema.include(method=["GET", "DELETE"]).parametrize()
@settings(max_examples=3, **FUZZ)
def test_reads_and_deletes_conform_to_the_schema(case, fuzz_rows):
    call(case, fuzz_rows)


@schema.include(method="POST", path_regex=ACTION).parametrize()
@settings(max_examples=10, **FUZZ)  # cheap; more examples reach more of the EOIs' statuses
def test_workflow_actions_conform_to_the_schema(case, fuzz_rows):
    call(case, fuzz_rows)


# The writes in three tests, so that parallel test runs (`make test` runs two workers) can share them out: each
# schemathesis test is one pytest item, run whole by one worker. (Schemathesis ORs its include filters and ANDs the
# arguments of one: each group is one include.)
WRITE_METHODS = ["POST", "PUT", "PATCH"]
GEOMETRY = r"^/api/v1/(campuses|parcels)/"
PLAN = r"^/api/v1/(phases|facility-types|facilities|utility-capacities|schedule-items|schedule-dependencies)/"


@schema.include(method=WRITE_METHODS, path_regex=GEOMETRY).exclude(method="POST", path_regex=ACTION).parametrize()
@settings(max_examples=4, **FUZZ)
def test_creates_and_updates_of_shapes_conform_to_the_schema(case, fuzz_rows):
    call(case, fuzz_rows)


@schema.include(method=WRITE_METHODS, path_regex=PLAN).exclude(method="POST", path_regex=ACTION).parametrize()
@settings(max_examples=3, **FUZZ)
def test_creates_and_updates_of_the_plan_conform_to_the_schema(case, fuzz_rows):
    call(case, fuzz_rows)


@(
    schema.include(method=WRITE_METHODS)
    .exclude(method="POST", path_regex=ACTION)
    .exclude(path_regex=GEOMETRY)
    .exclude(path_regex=PLAN)
    .parametrize()
)
@settings(max_examples=3, **FUZZ)
def test_other_creates_and_updates_conform_to_the_schema(case, fuzz_rows):
    call(case, fuzz_rows)


@pytest.mark.django_db
def test_every_resource_has_rows_to_fuzz(fuzz_rows):
    """Without rows, a resource's steered ids would all be "not found" and its writes and deletes untried."""
    assert [prefix for prefix, ids in fuzz_rows.ids.items() if not ids] == []
    assert len(fuzz_rows.ids["eois"]) == len(ExpressionOfInterest.Status)
