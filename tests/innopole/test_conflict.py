"""An edit on a stale version: the 409 says who changed the row since, when, and what (core.services.ConflictError
from the row's history), in the API body and its schema, in the reader's language."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.roles import PLANNER, STAFF
from core.services import ConflictError
from planning import services
from tests.conftest import api_client_for
from tests.factories import FacilityFactory, ParcelFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Chan", role=PLANNER)


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", role=STAFF)


def test_a_stale_patch_answers_who_when_and_what(alice, bob):
    parcel = ParcelFactory(lot_ref="STT Lot 1", max_plot_ratio=Decimal("5"))
    version = parcel.version
    before = timezone.now()
    services.parcel_update(
        parcel=parcel, actor=alice, expected_version=version, lot_ref="STT Lot 2", max_plot_ratio=Decimal("4.5")
    )

    response = api_client_for(bob).patch(
        f"/api/v1/parcels/{parcel.pk}/", {"zoning": "R(A)", "version": version}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["current_version"] == version + 1
    assert body["changed_by"] == "Alice Chan"
    changed_at = datetime.datetime.fromisoformat(body["changed_at"])
    assert before <= changed_at <= timezone.now()
    assert body["changes"] == [
        {"field": "Lot reference", "old": "STT Lot 1", "new": "STT Lot 2"},
        {"field": "Max plot ratio", "old": "5", "new": "4.5"},
    ]
    assert "Changed by Alice Chan at " in body["detail"]
    assert "Lot reference STT Lot 1 → STT Lot 2; Max plot ratio 5 → 4.5." in body["detail"]
    parcel.refresh_from_db()
    assert parcel.zoning != "R(A)"  # nothing of the stale edit saved


def test_several_editors_since_are_all_named_and_the_changes_are_the_net_ones(alice, bob):
    facility = FacilityFactory(gfa_m2=Decimal("12000"), name="Block A")
    version = facility.version
    services.facility_update(facility=facility, actor=alice, expected_version=version, gfa_m2=Decimal("13000"))
    services.facility_update(facility=facility, actor=bob, expected_version=version + 1, name="Block B")

    with pytest.raises(ConflictError) as refused:
        services.facility_update(facility=facility, actor=alice, expected_version=version, capacity=Decimal("5"))

    conflict = refused.value
    assert conflict.changed_by == "bob"  # the last change
    assert conflict.editors == ["Alice Chan", "bob"]
    assert [change.as_dict() for change in conflict.changes] == [
        {"field": "Name", "old": "Block A", "new": "Block B"},
        {"field": "GFA (m²)", "old": "12,000", "new": "13,000"},
    ]
    assert "Changed by Alice Chan, bob at " in str(conflict)


def test_a_related_row_and_a_choice_are_named_as_people_read_them(alice):
    parcel = ParcelFactory()
    version = parcel.version
    services.parcel_update(parcel=parcel, actor=alice, expected_version=version, phase=None, land_status="transferred")

    with pytest.raises(ConflictError) as refused:
        services.parcel_update(parcel=parcel, actor=alice, expected_version=version, lot_ref="X")

    changes = {change.field: (change.old, change.new) for change in refused.value.changes}
    assert changes["Phase"] == (parcel.phase.name, "—")
    assert changes["Land status"] == ("Not transferred", "Transferred")


def test_the_sentence_is_in_the_readers_language(alice, settings):
    parcel = ParcelFactory(lot_ref="A")
    services.parcel_update(parcel=parcel, actor=alice, expected_version=parcel.version, lot_ref="B")

    response = api_client_for(alice).patch(
        f"/api/v1/parcels/{parcel.pk}/",
        {"lot_ref": "C", "version": parcel.version},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hant",
    )

    assert response.status_code == 409
    # The date is written the Chinese way ("2026年12月1日"), whatever the translations say yet.
    assert "年" in response.json()["detail"]


def test_without_history_of_the_version_the_conflict_still_answers_plainly(bob):
    parcel = ParcelFactory()

    response = api_client_for(bob).patch(
        f"/api/v1/parcels/{parcel.pk}/", {"lot_ref": "X", "version": parcel.version + 5}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert (body["changed_by"], body["changed_at"], body["changes"]) == (None, None, [])
    assert "changed by someone else" in body["detail"]


def test_the_schema_documents_the_conflict_body(client):
    schema = client.get("/api/schema/?format=json").json()

    conflict = schema["components"]["schemas"]["Conflict"]
    assert set(conflict["required"]) == {"detail", "code", "current_version", "changed_by", "changed_at", "changes"}
    assert conflict["properties"]["changed_by"]["nullable"] is True
    assert conflict["properties"]["changed_at"]["format"] == "date-time"
    change = conflict["properties"]["changes"]["items"]
    assert set(change["required"]) == {"field", "old", "new"}
    patch = schema["paths"]["/api/v1/parcels/{id}/"]["patch"]["responses"]["409"]
    assert patch["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Conflict"
