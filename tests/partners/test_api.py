"""The partners API: organisation scoping (404 outside it), roles, the EOI workflow, conflicts (query counts:
tests/test_query_counts.py)."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from partners import services
from partners.models import Commitment, CommitmentStage, ExpressionOfInterest, MoU
from tests.conftest import api_client_for
from tests.factories import (
    CommitmentFactory,
    EOIFactory,
    FacilityFactory,
    FacilityTypeFactory,
    MoUFactory,
    OrganisationFactory,
    ParcelFactory,
    PhaseFactory,
    partner_user,
)
from tests.scoped import MISSING, ScopedResource

pytestmark = pytest.mark.django_db

Status = ExpressionOfInterest.Status

LIST_ENDPOINTS = [
    "/api/v1/organisations/",
    "/api/v1/mous/",
    "/api/v1/eois/",
    "/api/v1/commitments/",
    "/api/v1/commitment-stages/",
]
STAFF_MOVES = {
    # action: (a status it is allowed from, the status it leads to, a status it is refused from)
    "start-review": (Status.SUBMITTED, Status.UNDER_REVIEW, Status.DRAFT),
    "shortlist": (Status.UNDER_REVIEW, Status.SHORTLISTED, Status.SUBMITTED),
    "accept": (Status.SHORTLISTED, Status.ACCEPTED, Status.SUBMITTED),
    "decline": (Status.UNDER_REVIEW, Status.DECLINED, Status.ACCEPTED),
    "hold": (Status.SHORTLISTED, Status.ON_HOLD, Status.SUBMITTED),
    "resume": (Status.ON_HOLD, Status.UNDER_REVIEW, Status.UNDER_REVIEW),
}
PARTNER_MOVES = {
    "submit": (Status.DRAFT, Status.SUBMITTED, Status.SUBMITTED),
    "withdraw": (Status.UNDER_REVIEW, Status.WITHDRAWN, Status.DRAFT),
}
ALL_MOVES = [*STAFF_MOVES, *PARTNER_MOVES, "commitment"]


def png(name: str = "site-plan.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")


# The scoping rule (own rows 200, another organisation's rows answer like a missing id for every method and action,
# lists hold only the partner's rows) for each partner-scoped resource: tests/scoped.py. org_a, org_b and partner_a
# come from tests/conftest.py.


class TestScopedOrganisations(ScopedResource):
    endpoint = "organisations"

    def make(self, organisation):
        return organisation


class TestScopedMoUs(ScopedResource):
    endpoint = "mous"

    def make(self, organisation):
        return MoUFactory(organisation=organisation)


class TestScopedEOIs(ScopedResource):
    endpoint = "eois"

    def make(self, organisation):
        return EOIFactory(organisation=organisation, preferred_phase=ParcelFactory().phase)


class TestScopedCommitments(ScopedResource):
    endpoint = "commitments"

    def make(self, organisation):
        return CommitmentFactory(organisation=organisation, parcel=ParcelFactory())


SCOPED = (TestScopedOrganisations, TestScopedMoUs, TestScopedEOIs, TestScopedCommitments)


def holdings(organisation) -> dict:
    """One of each partner object of `organisation`, by endpoint."""
    return {resource.endpoint: resource().make(organisation) for resource in SCOPED}


@pytest.fixture
def of_a(org_a):
    return holdings(org_a)


@pytest.fixture
def of_b(org_b):
    return holdings(org_b)


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


class TestScoping:
    """What the scoping rule means beyond one resource (tests/scoped.py has the rule per resource)."""

    def test_filtering_by_another_organisation_tells_nothing(self, partner_a, of_a, of_b, org_b):
        client = api_client_for(partner_a)
        for endpoint in ("mous", "eois", "commitments"):
            hidden = client.get(f"/api/v1/{endpoint}/?organisation={org_b.pk}")
            absent = client.get(f"/api/v1/{endpoint}/?organisation={MISSING}")
            assert hidden.status_code == absent.status_code == 400
            assert hidden.json().keys() == absent.json().keys() == {"organisation"}

    def test_a_partner_without_an_organisation_sees_nothing_and_creates_nothing(self, partner, of_a):
        client = api_client_for(partner)
        for endpoint in of_a:
            assert ids(client.get(f"/api/v1/{endpoint}/")) == set(), endpoint
        response = client.post("/api/v1/eois/", eoi_body(), format="json")
        assert response.status_code == 403
        assert ExpressionOfInterest.objects.count() == 1

    @pytest.mark.parametrize("role", ["staff", "planner", "executive"])
    def test_staff_planners_and_executives_see_every_organisation(self, users, of_a, of_b, role):
        client = api_client_for(users[role])
        for endpoint in of_a:
            assert ids(client.get(f"/api/v1/{endpoint}/")) >= {of_a[endpoint].pk, of_b[endpoint].pk}, endpoint
            assert client.get(f"/api/v1/{endpoint}/{of_b[endpoint].pk}/").status_code == 200


class TestRoles:
    @pytest.mark.parametrize("role", ["executive", "planner"])
    def test_executives_and_planners_only_read_partner_data(self, users, of_b, org_b, role):
        client = api_client_for(users[role])
        for endpoint, obj in of_b.items():
            url = f"/api/v1/{endpoint}/{obj.pk}/"
            assert client.patch(url, {"title": "x"}, format="json").status_code == 403, endpoint
            if endpoint != "organisations":
                assert client.delete(url).status_code == 403, endpoint
        for endpoint in of_b:
            assert client.post(f"/api/v1/{endpoint}/", {}, format="json").status_code == 403, endpoint
        stage = CommitmentStage.objects.get(code="mou")
        assert client.patch(f"/api/v1/commitment-stages/{stage.pk}/", {"probability": 0.2}).status_code == 403
        for move in ALL_MOVES:
            assert client.post(f"/api/v1/eois/{of_b['eois'].pk}/{move}/", {}).status_code == 403, move
        assert MoU.objects.get(pk=of_b["mous"].pk).title == of_b["mous"].title
        assert Commitment.objects.filter(pk=of_b["commitments"].pk).exists()

    def test_a_partner_reads_but_does_not_change_its_own_mou_organisation_or_commitment(self, partner_a, of_a):
        client = api_client_for(partner_a)
        for endpoint in ("organisations", "mous", "commitments"):
            url = f"/api/v1/{endpoint}/{of_a[endpoint].pk}/"
            assert client.get(url).status_code == 200
            assert client.patch(url, {"title": "ours"}, format="json").status_code == 403, endpoint
            assert client.post(f"/api/v1/{endpoint}/", {}, format="json").status_code == 403, endpoint
        assert client.delete(f"/api/v1/mous/{of_a['mous'].pk}/").status_code == 403

    def test_anonymous_users_are_refused(self, of_a):
        client = api_client_for(None)
        for url in LIST_ENDPOINTS:
            assert client.get(url).status_code in (401, 403), url

    def test_staff_write_organisations_mous_and_commitments(self, staff_user, org_a):
        client = api_client_for(staff_user)
        parcel = ParcelFactory()
        stage = CommitmentStage.objects.get(code="agreement_for_lease")

        organisation = client.post(
            "/api/v1/organisations/",
            {"code": "gamma", "name_en": "Gamma Grid", "kind": "operator", "sector": "new_energy"},
            format="json",
        )
        mou = client.post(
            "/api/v1/mous/", {"organisation": org_a.pk, "title": "Edge lab", "status": "draft"}, format="json"
        )
        commitment = client.post(
            "/api/v1/commitments/",
            {
                "organisation": org_a.pk,
                "parcel": parcel.pk,
                "kind": "capital",
                "stage": stage.pk,
                "amount_hkd_m": 300,
                "date": "2026-07-01",
            },
            format="json",
        )

        assert organisation.status_code == 201, organisation.content
        assert mou.status_code == 201, mou.content
        assert mou.json()["organisation_name"] == "Alpha Robotics"
        assert commitment.status_code == 201, commitment.content
        assert commitment.json()["weighted_amount_hkd_m"] == 240.0
        assert client.delete(f"/api/v1/mous/{mou.json()['id']}/").status_code == 204
        assert not MoU.objects.exists()

    def test_staff_change_stage_probabilities_and_weighted_figures_follow(self, staff_user, partner_a, of_a):
        stage = CommitmentStage.objects.get(code="heads_of_terms")
        response = api_client_for(staff_user).patch(
            f"/api/v1/commitment-stages/{stage.pk}/", {"probability": 0.6, "version": stage.version}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["probability"] == 0.6
        assert api_client_for(partner_a).patch(f"/api/v1/commitment-stages/{stage.pk}/", {}).status_code == 403
        body = api_client_for(partner_a).get(f"/api/v1/commitments/{of_a['commitments'].pk}/").json()
        assert (body["gfa_m2"], body["weighted_gfa_m2"], body["probability"]) == (1000.0, 600.0, 0.6)


def eoi_body(**overrides) -> dict:
    phase = PhaseFactory()
    body = {
        "facility_type": FacilityTypeFactory().pk,
        "preferred_phase": phase.pk,
        "gfa_m2": 2500,
        "jobs": 40,
        "investment_hkd_m": 120,
        "description": "Robotics assembly and test.",
    }
    return {**body, **overrides}


class TestPartnerEOIs:
    def test_partner_creates_updates_and_submits_a_draft_for_its_own_organisation(self, partner_a, org_a, org_b):
        client = api_client_for(partner_a)

        created = client.post("/api/v1/eois/", eoi_body(organisation=org_b.pk), format="json")
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["organisation"] == org_a.pk  # never the one the body names
        assert (body["status"], body["submitted_at"]) == ("draft", None)
        assert [(t["from_status"], t["to_status"]) for t in body["transitions"]] == [("", "draft")]

        url = f"/api/v1/eois/{body['id']}/"
        changed = client.patch(url, {"gfa_m2": 3000, "version": body["version"]}, format="json")
        assert changed.status_code == 200, changed.content
        assert (changed.json()["gfa_m2"], changed.json()["version"]) == (3000.0, body["version"] + 1)

        stale = client.patch(url, {"jobs": 99, "version": body["version"]}, format="json")
        assert stale.status_code == 409
        assert stale.json()["current_version"] == body["version"] + 1

        submitted = client.post(f"{url}submit/", {"note": "Ready for review."}, format="json")
        assert submitted.status_code == 200, submitted.content
        result = submitted.json()
        assert result["status"] == "submitted" and result["submitted_at"]
        assert result["transitions"][-1]["from_status"] == "draft"
        assert result["transitions"][-1]["note"] == "Ready for review."
        eoi = ExpressionOfInterest.objects.get(pk=body["id"])
        assert (eoi.organisation, eoi.submitted_by, eoi.gfa_m2, eoi.jobs) == (org_a, partner_a, Decimal("3000"), 40)

    def test_a_submitted_eoi_is_fixed(self, partner_a, org_a):
        eoi = EOIFactory(organisation=org_a, status=Status.SUBMITTED)
        client = api_client_for(partner_a)
        changed = client.patch(f"/api/v1/eois/{eoi.pk}/", {"jobs": 1}, format="json")
        deleted = client.delete(f"/api/v1/eois/{eoi.pk}/")
        assert (changed.status_code, deleted.status_code) == (400, 400)
        assert "non_field_errors" in changed.json()

    def test_partner_deletes_its_draft(self, partner_a, org_a):
        eoi = EOIFactory(organisation=org_a)
        assert api_client_for(partner_a).delete(f"/api/v1/eois/{eoi.pk}/").status_code == 204
        assert not ExpressionOfInterest.objects.exists()

    def test_submitting_an_incomplete_draft_names_the_missing_fields(self, partner_a, org_a):
        eoi = EOIFactory(organisation=org_a, gfa_m2=None, preferred_phase=None, description="")
        response = api_client_for(partner_a).post(f"/api/v1/eois/{eoi.pk}/submit/")
        assert response.status_code == 400
        assert set(response.json()) == {"gfa_m2", "capacity", "preferred_phase", "description"}
        assert ExpressionOfInterest.objects.get(pk=eoi.pk).status == Status.DRAFT

    def test_bad_input_is_a_400_by_field_and_nothing_is_saved(self, partner_a, org_a):
        client = api_client_for(partner_a)
        malformed = client.post("/api/v1/eois/", eoi_body(gfa_m2="lots", language="fr"), format="json")
        parcel = ParcelFactory()
        elsewhere = client.post("/api/v1/eois/", eoi_body(preferred_parcel=parcel.pk), format="json")

        assert malformed.status_code == 400 and set(malformed.json()) == {"gfa_m2", "language"}
        assert elsewhere.status_code == 400 and set(elsewhere.json()) == {"preferred_parcel"}
        assert not ExpressionOfInterest.objects.exists()

    def test_staff_name_the_organisation_when_they_create(self, staff_user, org_b):
        client = api_client_for(staff_user)
        refused = client.post("/api/v1/eois/", eoi_body(), format="json")
        created = client.post("/api/v1/eois/", eoi_body(organisation=org_b.pk), format="json")
        assert refused.status_code == 400 and set(refused.json()) == {"organisation"}
        assert created.status_code == 201 and created.json()["organisation"] == org_b.pk

    @pytest.mark.parametrize("role", ["planner", "executive"])
    def test_planners_and_executives_do_not_create_eois(self, users, org_a, role):
        response = api_client_for(users[role]).post("/api/v1/eois/", eoi_body(organisation=org_a.pk), format="json")
        assert response.status_code == 403

    def test_the_partner_sees_timeline_and_files_but_no_review_notes_or_actors(self, partner_a, staff_user, org_a):
        eoi = EOIFactory(organisation=org_a, status=Status.SUBMITTED)
        services.attachment_add(eoi=eoi, actor=partner_a, upload=png())
        services.review_note_add(eoi=eoi, actor=staff_user, text="Internal: check their financials")
        services.eoi_transition(eoi=eoi, actor=staff_user, transition="start_review", note="We are on it.")

        response = api_client_for(partner_a).get(f"/api/v1/eois/{eoi.pk}/")

        body = response.json()
        assert response.status_code == 200
        assert "financials" not in response.content.decode()
        assert "staff-t" not in response.content.decode()
        assert [t["to_status"] for t in body["transitions"]] == ["draft", "submitted", "under_review"]
        assert body["transitions"][-1] == {
            "from_status": "submitted",
            "to_status": "under_review",
            "at": body["transitions"][-1]["at"],
            "note": "We are on it.",
        }
        [attachment] = body["attachments"]
        assert (attachment["original_name"], attachment["content_type"]) == ("site-plan.png", "image/png")
        assert attachment["size_bytes"] == 72
        assert attachment["download_url"].endswith(f"/attachments/{attachment['id']}/download/")
        assert body["version"] >= 1 and body["can_withdraw"] is True


def eoi_at(status: str, organisation) -> ExpressionOfInterest:
    return EOIFactory(organisation=organisation, status=status, preferred_parcel=None)


class TestWorkflow:
    @pytest.mark.parametrize("move", STAFF_MOVES)
    def test_staff_moves(self, staff_user, org_a, move):
        allowed_from, to_status, refused_from = STAFF_MOVES[move]
        client = api_client_for(staff_user)
        eoi = eoi_at(allowed_from, org_a)
        wrong = eoi_at(refused_from, org_a)

        moved = client.post(f"/api/v1/eois/{eoi.pk}/{move}/", {"note": "Thanks."}, format="json")
        refused = client.post(f"/api/v1/eois/{wrong.pk}/{move}/", format="json")

        assert moved.status_code == 200, moved.content
        assert moved.json()["status"] == to_status
        assert moved.json()["transitions"][-1] == {**moved.json()["transitions"][-1], "note": "Thanks."}
        assert refused.status_code == 400
        assert set(refused.json()) == {"status"}
        assert ExpressionOfInterest.objects.get(pk=wrong.pk).status == refused_from

    @pytest.mark.parametrize(("move", "status"), [("start-review", Status.ON_HOLD), ("resume", Status.SUBMITTED)])
    def test_start_review_and_resume_each_start_from_one_status(self, staff_user, org_a, move, status):
        eoi = eoi_at(status, org_a)
        response = api_client_for(staff_user).post(f"/api/v1/eois/{eoi.pk}/{move}/")
        assert response.status_code == 400
        assert set(response.json()) == {"status"}
        assert ExpressionOfInterest.objects.get(pk=eoi.pk).status == status

    @pytest.mark.parametrize("move", STAFF_MOVES)
    def test_a_partner_cannot_make_a_staff_move(self, partner_a, org_a, move):
        allowed_from, _to, _refused = STAFF_MOVES[move]
        eoi = eoi_at(allowed_from, org_a)
        response = api_client_for(partner_a).post(f"/api/v1/eois/{eoi.pk}/{move}/")
        assert response.status_code == 403
        assert ExpressionOfInterest.objects.get(pk=eoi.pk).status == allowed_from

    @pytest.mark.parametrize("status", [Status.SUBMITTED, Status.UNDER_REVIEW, Status.SHORTLISTED, Status.ON_HOLD])
    def test_the_partner_withdraws_before_a_decision(self, partner_a, org_a, status):
        eoi = eoi_at(status, org_a)
        response = api_client_for(partner_a).post(f"/api/v1/eois/{eoi.pk}/withdraw/", {"note": "Plans changed."})
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "withdrawn"
        assert response.json()["can_withdraw"] is False

    @pytest.mark.parametrize("status", [Status.DRAFT, Status.ACCEPTED, Status.DECLINED, Status.WITHDRAWN])
    def test_no_withdrawal_of_a_draft_or_after_a_decision(self, partner_a, org_a, status):
        eoi = eoi_at(status, org_a)
        response = api_client_for(partner_a).post(f"/api/v1/eois/{eoi.pk}/withdraw/")
        assert response.status_code == 400
        assert "status" in response.json()
        assert ExpressionOfInterest.objects.get(pk=eoi.pk).status == status

    @pytest.mark.parametrize("move", PARTNER_MOVES)
    def test_staff_cannot_take_the_partner_s_steps(self, staff_user, org_a, move):
        allowed_from, _to, _refused = PARTNER_MOVES[move]
        eoi = eoi_at(allowed_from, org_a)
        response = api_client_for(staff_user).post(f"/api/v1/eois/{eoi.pk}/{move}/")
        assert response.status_code == 403
        assert ExpressionOfInterest.objects.get(pk=eoi.pk).status == allowed_from

    @pytest.mark.parametrize("move", [*STAFF_MOVES, *PARTNER_MOVES])
    def test_another_organisation_s_eoi_answers_404_for_every_step(self, partner_a, org_b, move):
        allowed_from = {**STAFF_MOVES, **PARTNER_MOVES}[move][0]
        eoi = eoi_at(allowed_from, org_b)
        response = api_client_for(partner_a).post(f"/api/v1/eois/{eoi.pk}/{move}/")
        assert response.status_code == 404
        assert ExpressionOfInterest.objects.get(pk=eoi.pk).status == allowed_from

    def test_a_refused_step_names_the_current_status(self, staff_user, org_a):
        eoi = eoi_at(Status.UNDER_REVIEW, org_a)
        response = api_client_for(staff_user).post(f"/api/v1/eois/{eoi.pk}/accept/")
        assert response.status_code == 400
        assert "An EOI that is Under review cannot take the step “Accept”" in response.json()["status"][0]

    def test_submitting_twice_is_a_400_on_status(self, partner_a, org_a):
        eoi = eoi_at(Status.SUBMITTED, org_a)
        response = api_client_for(partner_a).post(f"/api/v1/eois/{eoi.pk}/submit/")
        assert response.status_code == 400 and "status" in response.json()

    def test_staff_turn_an_accepted_eoi_into_a_commitment(self, staff_user, partner_a, org_a):
        facility = FacilityFactory()
        parcel = facility.parcel
        eoi = EOIFactory(
            organisation=org_a, preferred_phase=parcel.phase, preferred_parcel=parcel, status=Status.ACCEPTED
        )
        draft = EOIFactory(organisation=org_a, preferred_parcel=parcel, preferred_phase=parcel.phase)

        refused_partner = api_client_for(partner_a).post(f"/api/v1/eois/{eoi.pk}/commitment/")
        refused_draft = api_client_for(staff_user).post(f"/api/v1/eois/{draft.pk}/commitment/")
        unknown_stage = api_client_for(staff_user).post(
            f"/api/v1/eois/{eoi.pk}/commitment/", {"stage": "nope"}, format="json"
        )
        nul_stage = api_client_for(staff_user).post(
            f"/api/v1/eois/{eoi.pk}/commitment/", {"stage": "eoi\x00"}, format="json"
        )
        made = api_client_for(staff_user).post(
            f"/api/v1/eois/{eoi.pk}/commitment/", {"stage": "heads_of_terms"}, format="json"
        )
        again = api_client_for(staff_user).post(f"/api/v1/eois/{eoi.pk}/commitment/")

        assert refused_partner.status_code == 403
        assert refused_draft.status_code == 400
        assert unknown_stage.status_code == 400 and set(unknown_stage.json()) == {"stage"}
        # PostgreSQL refuses a NUL in text: refused before the lookup (it was a 500, found by schemathesis).
        assert nul_stage.status_code == 400 and nul_stage.json() == {"stage": ["Null characters are not allowed."]}
        assert made.status_code == 201, made.content
        body = made.json()
        assert (body["source_eoi"], body["organisation"], body["parcel"], body["facility"]) == (
            eoi.pk,
            org_a.pk,
            parcel.pk,
            facility.pk,
        )
        assert (body["kind"], body["stage_code"], body["weighted_gfa_m2"]) == ("occupancy", "heads_of_terms", 1000.0)
        assert again.status_code == 400
        assert Commitment.objects.count() == 1


class TestFilters:
    def test_eoi_filters(self, staff_user, org_a, org_b):
        phase = PhaseFactory()
        lab = FacilityTypeFactory(code="lab", name_en="Lab")
        a = EOIFactory(organisation=org_a, preferred_phase=phase, status=Status.SUBMITTED)
        b = EOIFactory(organisation=org_b, facility_type=lab)
        client = api_client_for(staff_user)

        assert ids(client.get("/api/v1/eois/?status=submitted")) == {a.pk}
        assert ids(client.get(f"/api/v1/eois/?organisation={org_b.pk}")) == {b.pk}
        assert ids(client.get(f"/api/v1/eois/?facility_type={lab.pk}")) == {b.pk}
        assert ids(client.get("/api/v1/eois/?facility_type_code=lab")) == {b.pk}
        assert ids(client.get(f"/api/v1/eois/?preferred_phase={phase.pk}")) == {a.pk}
        assert client.get("/api/v1/eois/?status=pending").status_code == 400

    def test_commitment_mou_and_organisation_filters(self, staff_user, org_a, org_b):
        services.organisation_update(organisation=org_b, actor=None, kind="investor", sector="finance")
        mine = CommitmentFactory(organisation=org_a)
        theirs = CommitmentFactory(
            organisation=org_b,
            kind="capital",
            amount_hkd_m=Decimal("50"),
            stage=CommitmentStage.objects.get(code="lease"),
        )
        signed = MoUFactory(organisation=org_a, status="signed", signed_date=datetime.date(2026, 1, 5))
        MoUFactory(organisation=org_b)
        client = api_client_for(staff_user)

        assert ids(client.get("/api/v1/commitments/?kind=capital")) == {theirs.pk}
        assert ids(client.get(f"/api/v1/commitments/?stage={theirs.stage_id}")) == {theirs.pk}
        assert ids(client.get("/api/v1/commitments/?stage_code=heads_of_terms")) == {mine.pk}
        assert ids(client.get(f"/api/v1/commitments/?organisation={org_a.pk}")) == {mine.pk}
        assert ids(client.get(f"/api/v1/commitments/?parcel={mine.parcel_id}")) == {mine.pk}
        assert ids(client.get("/api/v1/mous/?status=signed")) == {signed.pk}
        assert ids(client.get(f"/api/v1/mous/?organisation={org_a.pk}")) == {signed.pk}
        assert ids(client.get("/api/v1/organisations/?kind=investor")) == {org_b.pk}
        assert ids(client.get("/api/v1/organisations/?sector=ai_robotics")) == {org_a.pk}


# --- figures summed over every organisation ---------------------------------------------------------------------

AGGREGATE_URLS = [
    "/api/v1/phases/{phase}/readiness/",
    "/api/v1/phases/{phase}/readiness/history/",
    "/api/v1/rollups/phases/",
    "/api/v1/rollups/phases/{phase}/",
    "/api/v1/rollups/parcels/",
    "/api/v1/rollups/facilities/",
]


@pytest.fixture
def phase_with_commitments(db):
    """A phase whose readiness snapshot sums two organisations' commitments and EOI demand."""
    from planning.services import readiness_recompute

    parcel = ParcelFactory()
    CommitmentFactory(organisation=OrganisationFactory(), parcel=parcel, gfa_m2=Decimal("2000"))
    CommitmentFactory(organisation=OrganisationFactory(), parcel=parcel, gfa_m2=Decimal("6400"))
    EOIFactory(preferred_phase=parcel.phase, gfa_m2=Decimal("48000"), status=Status.SUBMITTED)
    readiness_recompute(phase=parcel.phase)
    return parcel.phase


def test_partners_read_no_cross_organisation_figures_in_readiness_or_roll_ups(phase_with_commitments):
    """Security M1: one rule (core.permissions.ReadsCrossOrganisationAggregates) for roll-ups and readiness."""
    phase = phase_with_commitments
    partner = api_client_for(partner_user(OrganisationFactory(), role="admin"))
    messages = set()
    for url in AGGREGATE_URLS:
        response = partner.get(url.format(phase=phase.pk))
        assert response.status_code == 403, url
        assert "commit" not in response.content.decode().lower() and "8,400" not in response.content.decode()
        messages.add(response.json()["detail"])
    assert len(messages) == 1  # the same refusal everywhere: one rule


@pytest.mark.parametrize("role", ["planner", "executive", "staff"])
def test_hkstp_roles_read_readiness_with_its_commitments_reasons(phase_with_commitments, users, role):
    client = api_client_for(users[role])
    readiness = client.get(f"/api/v1/phases/{phase_with_commitments.pk}/readiness/")
    history = client.get(f"/api/v1/phases/{phase_with_commitments.pk}/readiness/history/")
    assert readiness.status_code == history.status_code == 200
    criteria = {criterion["code"]: criterion for criterion in readiness.json()["snapshot"]["criteria"]}
    assert "commitments" in criteria and criteria["commitments"]["reasons"]
    assert client.get("/api/v1/rollups/phases/").status_code == 200


def test_anonymous_callers_get_401_on_readiness(phase_with_commitments):
    assert api_client_for(None).get(f"/api/v1/phases/{phase_with_commitments.pk}/readiness/").status_code == 401
