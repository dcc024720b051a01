"""The staff admin of partner data: the EOI review queue and its actions, the review form on the change page,
commitments and their ladder, the change page with constant queries, history, and who may not come in
(changelist query counts: tests/test_query_counts.py)."""

import datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.roles import PARTNER
from partners import services
from partners.admin import CommitmentStageAdmin, ExpressionOfInterestAdmin
from partners.models import Commitment, CommitmentStage, ExpressionOfInterest, Invitation, Membership, ReviewNote
from tests.admin_helpers import form_data
from tests.factories import (
    CommitmentFactory,
    EOIFactory,
    OrganisationFactory,
    ParcelFactory,
    UserFactory,
    partner_user,
)

pytestmark = pytest.mark.django_db

Status = ExpressionOfInterest.Status
QUEUE = "/admin/partners/expressionofinterest/"


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_eoi_change_page_queries_do_not_grow_with_its_timeline_and_notes(admin_client, staff_user):
    eoi = EOIFactory(status=Status.UNDER_REVIEW)
    url = f"{QUEUE}{eoi.pk}/change/"
    admin_client.get(url)  # warm the content-type cache
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    for index in range(3):
        services.review_note_add(eoi=eoi, actor=staff_user, text=f"Note {index}")
    services.eoi_transition(eoi=eoi, actor=staff_user, transition="hold")
    services.eoi_transition(eoi=eoi, actor=staff_user, transition="resume")
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- the queue --------------------------------------------------------------------------------------------------


def test_the_queue_shows_eois_that_need_action_oldest_submission_first(admin_client):
    first = EOIFactory(status=Status.SUBMITTED)
    second = EOIFactory(status=Status.ON_HOLD)
    third = EOIFactory(status=Status.SHORTLISTED)
    fourth = EOIFactory(status=Status.UNDER_REVIEW)
    draft = EOIFactory()
    parcel = ParcelFactory()
    accepted = EOIFactory(status=Status.ACCEPTED, preferred_phase=parcel.phase, preferred_parcel=parcel)
    declined = EOIFactory(status=Status.DECLINED)
    ExpressionOfInterest.objects.filter(pk=first.pk).update(submitted_at=timezone.now() - datetime.timedelta(days=9))

    response = admin_client.get(QUEUE)

    # An accepted EOI waits for its commitment in the queue; a declined one is done.
    assert list(response.context["cl"].result_list) == [first, second, third, fourth, accepted]
    assert declined not in response.context["cl"].result_list
    content = response.content.decode()
    assert "Needs action" in content
    assert first.reference in content and first.organisation.name_en in content
    everything = list(admin_client.get(QUEUE + "?queue=all").context["cl"].result_list)
    assert everything[-1] == draft and accepted in everything
    assert list(admin_client.get(QUEUE + "?queue=accepted").context["cl"].result_list) == [accepted]
    services.commitment_from_eoi(eoi=accepted, actor=None)
    assert accepted not in admin_client.get(QUEUE).context["cl"].result_list  # its commitment exists: done


def test_the_queue_shows_the_columns_that_matter(admin_client):
    parcel = ParcelFactory(code="P1-A")
    eoi = EOIFactory(
        preferred_phase=parcel.phase,
        preferred_parcel=parcel,
        gfa_m2=Decimal("2500"),
        jobs=120,
        investment_hkd_m=Decimal("350"),
        status=Status.SUBMITTED,
    )

    content = admin_client.get(QUEUE).content.decode()

    for text in (eoi.reference, eoi.organisation.name_en, "Office / R&amp;D", "P1-A", "2,500", "Submitted"):
        assert text in content, text
    # Jobs and investment are on the change page: the queue keeps Status and Submitted on a 1366 px screen.
    headers = [str(header["text"]) for header in admin_client.get(QUEUE).context["result_headers"]]
    assert headers[-2:] == ["status", "submitted"] and len(headers) <= 7, headers


def test_the_queue_filters_by_organisation_facility_type_and_phase(admin_client):
    eoi = EOIFactory(status=Status.SUBMITTED)
    other = EOIFactory(status=Status.SUBMITTED)

    for query in (
        f"organisation__id__exact={eoi.organisation_id}",
        f"preferred_phase__id__exact={eoi.preferred_phase_id}",
    ):
        assert list(admin_client.get(f"{QUEUE}?{query}").context["cl"].result_list) == [eoi], query
    by_type = admin_client.get(f"{QUEUE}?facility_type__id__exact={eoi.facility_type_id}")
    assert set(by_type.context["cl"].result_list) == {eoi, other}


def act(admin_client, action: str, *eois, query: str = "?queue=all"):
    return admin_client.post(
        QUEUE + query, {"action": action, "_selected_action": [eoi.pk for eoi in eois]}, follow=True
    )


def test_start_review_moves_submitted_eois_and_reports_the_others_without_moving_them(
    admin_client, staff_user, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory()
    submitter = partner_user(organisation)
    submitted = EOIFactory(organisation=organisation, submitted_by=submitter, status=Status.SUBMITTED)
    accepted = EOIFactory(organisation=organisation, submitted_by=submitter, status=Status.ACCEPTED)
    on_hold = EOIFactory(organisation=organisation, submitted_by=submitter, status=Status.ON_HOLD)

    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "start_review", submitted, accepted, on_hold)

    assert response.status_code == 200
    for eoi in (submitted, accepted, on_hold):
        eoi.refresh_from_db()
    assert submitted.status == Status.UNDER_REVIEW
    assert submitted.transitions.last().actor == staff_user
    assert accepted.status == Status.ACCEPTED and on_hold.status == Status.ON_HOLD
    shown = messages_of(response)
    assert "1 EOI moved to Under review; its submitter is told by e-mail." in shown
    refused = "was not moved: An EOI that is %s cannot take the step “Start review”"
    assert any(f"EOI {accepted.reference} {refused % 'Accepted'}" in message for message in shown), shown
    assert any(f"EOI {on_hold.reference} {refused % 'On hold'}" in message for message in shown), shown
    assert [message.to for message in mail.outbox] == [[submitter.email]]
    assert submitted.reference in mail.outbox[0].subject and "Under review" in mail.outbox[0].subject


def test_shortlist_reports_a_move_the_workflow_refuses_with_its_reason(admin_client):
    under_review = EOIFactory(status=Status.UNDER_REVIEW)
    submitted = EOIFactory(status=Status.SUBMITTED)

    response = act(admin_client, "shortlist", under_review, submitted)

    under_review.refresh_from_db()
    submitted.refresh_from_db()
    assert under_review.status == Status.SHORTLISTED and submitted.status == Status.SUBMITTED
    shown = messages_of(response)
    assert (
        f"EOI {submitted.reference} was not moved: An EOI that is Submitted cannot take the step “Shortlist” "
        "(possible steps: Start review, Withdraw)." in shown
    ), shown
    error_levels = [m.level_tag for m in get_messages(response.wsgi_request)]
    assert error_levels.count("error") == 1 and error_levels.count("success") == 1


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("accept", Status.SHORTLISTED, Status.ACCEPTED),
        ("decline", Status.UNDER_REVIEW, Status.DECLINED),
        ("hold", Status.SHORTLISTED, Status.ON_HOLD),
        ("resume", Status.ON_HOLD, Status.UNDER_REVIEW),
    ],
)
def test_each_review_action_moves_an_eoi_it_applies_to(admin_client, staff_user, action, start, end):
    eoi = EOIFactory(status=start)
    decided = EOIFactory(status=Status.DECLINED)

    response = act(admin_client, action, eoi, decided)

    eoi.refresh_from_db()
    decided.refresh_from_db()
    assert eoi.status == end and eoi.transitions.last().actor == staff_user
    assert decided.status == Status.DECLINED
    assert any(f"EOI {decided.reference} was not moved" in message for message in messages_of(response))


def test_create_commitment_from_an_accepted_eoi(admin_client, staff_user):
    parcel = ParcelFactory()
    accepted = EOIFactory(
        preferred_phase=parcel.phase, preferred_parcel=parcel, gfa_m2=Decimal("3000"), status=Status.ACCEPTED
    )
    shortlisted = EOIFactory(status=Status.SHORTLISTED)

    response = act(admin_client, "create_commitment", accepted, shortlisted)

    commitment = Commitment.objects.get(source_eoi=accepted)
    assert commitment.stage.code == "eoi" and commitment.gfa_m2 == Decimal("3000")
    assert commitment.parcel == parcel and commitment.kind == Commitment.Kind.OCCUPANCY
    assert commitment.history.first().history_user == staff_user
    assert not Commitment.objects.filter(source_eoi=shortlisted).exists()
    shown = messages_of(response)
    assert "1 commitment recorded." in shown
    assert any(
        f"EOI {shortlisted.reference}: no commitment recorded: Only an accepted EOI becomes a commitment" in message
        for message in shown
    ), shown

    again = act(admin_client, "create_commitment", accepted)
    assert any("already has its commitment" in message for message in messages_of(again))
    assert Commitment.objects.filter(source_eoi=accepted).count() == 1
    change_page = admin_client.get(f"{QUEUE}{accepted.pk}/change/").content.decode()
    assert reverse("admin:partners_commitment_change", args=[commitment.pk]) in change_page


def test_the_change_page_of_an_accepted_eoi_offers_create_commitment(admin_client, staff_user):
    parcel = ParcelFactory()
    accepted = EOIFactory(
        preferred_phase=parcel.phase, preferred_parcel=parcel, gfa_m2=Decimal("3000"), status=Status.ACCEPTED
    )
    button_url = f"{QUEUE}{accepted.pk}/create-commitment/"
    page = admin_client.get(f"{QUEUE}{accepted.pk}/change/").content.decode()
    assert f'action="{button_url}"' in page and "Create commitment" in page
    assert admin_client.get(button_url).status_code == 405

    response = admin_client.post(button_url, follow=True)

    commitment = Commitment.objects.get(source_eoi=accepted)
    assert commitment.history.first().history_user == staff_user and commitment.gfa_m2 == Decimal("3000")
    assert response.redirect_chain[-1][0] == f"{QUEUE}{accepted.pk}/change/"
    assert any("Commitment recorded" in message for message in messages_of(response))
    assert f'action="{button_url}"' not in response.content.decode()  # made: no second offer


def test_create_commitment_is_not_offered_before_acceptance_and_a_direct_post_is_refused(admin_client):
    shortlisted = EOIFactory(status=Status.SHORTLISTED)
    button_url = f"{QUEUE}{shortlisted.pk}/create-commitment/"
    assert f'action="{button_url}"' not in admin_client.get(f"{QUEUE}{shortlisted.pk}/change/").content.decode()

    response = admin_client.post(button_url, follow=True)

    assert not Commitment.objects.exists()
    assert any("Only an accepted EOI becomes a commitment" in message for message in messages_of(response))
    assert admin_client.post(f"{QUEUE}999999/create-commitment/").status_code == 404


def test_the_status_timeline_shows_labels_not_codes(admin_client, staff_user, settings):
    eoi = EOIFactory(status=Status.UNDER_REVIEW)
    content = admin_client.get(f"{QUEUE}{eoi.pk}/change/").content.decode()
    assert "Submitted → Under review" in content and "∅ → Draft" in content
    assert "submitted → under_review" not in content
    chinese = admin_client.get(f"{QUEUE}{eoi.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    timeline = chinese.split('id="transitions-group"')[1].split("</fieldset>")[0]
    assert "under_review" not in timeline and "審核中" in timeline


# --- the EOI change page ----------------------------------------------------------------------------------------


def test_a_move_with_a_note_is_on_the_timeline_and_e_mailed_to_the_submitter(
    admin_client, staff_user, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory()
    submitter = partner_user(organisation)
    eoi = EOIFactory(organisation=organisation, submitted_by=submitter, status=Status.UNDER_REVIEW)
    url = f"{QUEUE}{eoi.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(transition="shortlist", note="Please send your floor-loading needs.")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    eoi.refresh_from_db()
    assert eoi.status == Status.SHORTLISTED
    move = eoi.transitions.last()
    assert (move.from_status, move.to_status, move.actor) == (Status.UNDER_REVIEW, Status.SHORTLISTED, staff_user)
    assert move.note == "Please send your floor-loading needs."
    assert len(mail.outbox) == 1  # the form's dry run sent nothing
    assert mail.outbox[0].to == [submitter.email]
    assert "Please send your floor-loading needs." in mail.outbox[0].body
    page = admin_client.get(url).content.decode()
    assert "Please send your floor-loading needs." in page and "staff-t" in page  # timeline with its actor


def test_the_move_field_offers_only_the_moves_staff_can_make_from_the_status(admin_client):
    eoi = EOIFactory(status=Status.SUBMITTED)
    form = admin_client.get(f"{QUEUE}{eoi.pk}/change/").context["adminform"].form
    assert [value for value, _ in form.fields["transition"].choices] == ["", "start_review"]

    decided = EOIFactory(status=Status.ACCEPTED)
    form = admin_client.get(f"{QUEUE}{decided.pk}/change/").context["adminform"].form
    assert [value for value, _ in form.fields["transition"].choices] == [""]


def test_a_move_the_workflow_refuses_is_shown_on_the_form_and_nothing_is_saved(admin_client):
    eoi = EOIFactory(status=Status.SUBMITTED)
    url = f"{QUEUE}{eoi.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(transition="accept", note="Welcome!")

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "transition" in response.context["adminform"].form.errors
    eoi.refresh_from_db()
    assert eoi.status == Status.SUBMITTED and eoi.transitions.count() == 2
    assert mail.outbox == []


def test_the_service_refusal_is_shown_on_the_move_field(admin_client, staff_user):
    """The EOI moved on (someone else) between showing the form and posting it: the service refuses."""
    eoi = EOIFactory(status=Status.UNDER_REVIEW)
    url = f"{QUEUE}{eoi.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(transition="hold")
    services.eoi_transition(eoi=eoi, actor=staff_user, transition="decline")

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "transition" in response.context["adminform"].form.errors
    eoi.refresh_from_db()
    assert eoi.status == Status.DECLINED


def test_a_note_to_the_partner_needs_a_move(admin_client):
    eoi = EOIFactory(status=Status.UNDER_REVIEW)
    url = f"{QUEUE}{eoi.pk}/change/"
    data = form_data(admin_client.get(url))
    data["note"] = "Hello"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "A note to the partner goes with a move" in response.context["adminform"].form.errors["note"][0]
    assert eoi.transitions.count() == 3


def test_an_internal_note_is_stored_with_its_author_shown_in_the_admin_and_not_e_mailed(
    admin_client, staff_user, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory()
    eoi = EOIFactory(organisation=organisation, submitted_by=partner_user(organisation), status=Status.UNDER_REVIEW)
    url = f"{QUEUE}{eoi.pk}/change/"
    data = form_data(admin_client.get(url))
    data["internal_note"] = "Strong team; check the power demand with planning."

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    note = ReviewNote.objects.get(eoi=eoi)
    assert note.text == "Strong team; check the power demand with planning." and note.author == staff_user
    assert note.history.first().history_user == staff_user
    eoi.refresh_from_db()
    assert eoi.status == Status.UNDER_REVIEW and eoi.version == 3
    assert mail.outbox == []
    assert "Strong team; check the power demand with planning." in admin_client.get(url).content.decode()


def test_a_move_and_an_internal_note_in_one_save(admin_client, staff_user):
    eoi = EOIFactory(status=Status.SHORTLISTED)
    url = f"{QUEUE}{eoi.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(transition="accept", note="Congratulations.", internal_note="Board approved on 3 March.")

    assert admin_client.post(url, data).status_code == 302
    eoi.refresh_from_db()
    assert eoi.status == Status.ACCEPTED
    assert list(eoi.review_notes.values_list("text", flat=True)) == ["Board approved on 3 March."]


def test_the_eoi_content_is_read_only_in_the_admin(admin_client):
    eoi = EOIFactory(status=Status.SUBMITTED, gfa_m2=Decimal("2000"))
    url = f"{QUEUE}{eoi.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    assert set(form.fields) == {"transition", "note", "internal_note"}
    data = form_data(admin_client.get(url))
    data.update(gfa_m2="9999", description="Changed by staff")

    assert admin_client.post(url, data).status_code == 302
    eoi.refresh_from_db()
    assert eoi.gfa_m2 == Decimal("2000") and eoi.description != "Changed by staff" and eoi.version == 2
    assert admin_client.get(QUEUE + "add/").status_code == 403
    assert admin_client.post(f"{QUEUE}{eoi.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ExpressionOfInterest.objects.filter(pk=eoi.pk).exists()


def test_attachments_are_listed_with_a_download_link(admin_client):
    eoi = EOIFactory(status=Status.SUBMITTED)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
    attachment = services.attachment_add(
        eoi=eoi, actor=None, upload=SimpleUploadedFile("site-plan.png", png, content_type="image/png")
    )

    content = admin_client.get(f"{QUEUE}{eoi.pk}/change/").content.decode()

    assert "site-plan.png" in content
    url = reverse("partners:attachment-download", args=[attachment.pk])
    assert f'href="{url}"' in content
    download = admin_client.get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == png


def test_the_eoi_history_shows_who_moved_it(admin_client, staff_user):
    eoi = EOIFactory(status=Status.SUBMITTED)
    act(admin_client, "start_review", eoi)

    history = admin_client.get(f"{QUEUE}{eoi.pk}/history/").content.decode()

    assert "staff-t" in history and "under_review" in history


# --- commitments and the ladder ---------------------------------------------------------------------------------


def test_commitment_list_shows_probability_weighted_figures(admin_client):
    CommitmentFactory(gfa_m2=Decimal("1000"), stage=CommitmentStage.objects.get(code="heads_of_terms"))
    CommitmentFactory(
        kind=Commitment.Kind.CAPITAL,
        gfa_m2=Decimal("0"),
        amount_hkd_m=Decimal("800"),
        stage=CommitmentStage.objects.get(code="agreement_for_lease"),
    )

    content = admin_client.get("/admin/partners/commitment/").content.decode()

    assert ">500<" in content  # 1,000 m² × 50 %
    assert ">640.0<" in content  # HKD 800 m × 80 %


def test_commitment_filters_by_kind_and_stage(admin_client):
    occupancy = CommitmentFactory()
    capital = CommitmentFactory(kind=Commitment.Kind.CAPITAL, amount_hkd_m=Decimal("10"))

    assert list(admin_client.get("/admin/partners/commitment/?kind__exact=capital").context["cl"].result_list) == [
        capital
    ]
    stage = occupancy.stage
    assert (
        occupancy
        in admin_client.get(f"/admin/partners/commitment/?stage__id__exact={stage.pk}").context["cl"].result_list
    )


def test_a_commitment_rule_is_shown_on_the_form(admin_client):
    commitment = CommitmentFactory(gfa_m2=Decimal("1000"))
    url = f"/admin/partners/commitment/{commitment.pk}/change/"
    data = form_data(admin_client.get(url))
    data["gfa_m2"] = "0"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    # The model's constraint (commitment_occupancy_has_gfa), checked by the form before anything is saved.
    assert response.context["adminform"].form.non_field_errors() == ["An occupancy commitment needs the GFA it takes."]
    commitment.refresh_from_db()
    assert commitment.gfa_m2 == Decimal("1000")


def test_a_stage_probability_edit_goes_through_the_service_and_is_in_the_history(admin_client, staff_user):
    stage = CommitmentStage.objects.get(code="heads_of_terms")
    url = f"/admin/partners/commitmentstage/{stage.pk}/change/"
    data = form_data(admin_client.get(url))
    assert "code" not in data and "order" not in data
    data["probability"] = "0.6"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    stage.refresh_from_db()
    assert stage.probability == Decimal("0.6") and stage.version == 2
    assert stage.history.first().history_user == staff_user
    history = " ".join(
        admin_client.get(f"/admin/partners/commitmentstage/{stage.pk}/history/").content.decode().split()
    )
    assert "staff-t" in history
    assert "<strong>Probability:</strong> 0.500 &nbsp;&rarr;&nbsp;&nbsp;0.600" in history


def test_a_stage_probability_out_of_range_is_refused(admin_client):
    stage = CommitmentStage.objects.get(code="lease")
    url = f"/admin/partners/commitmentstage/{stage.pk}/change/"
    data = form_data(admin_client.get(url))
    data["probability"] = "1.5"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    stage.refresh_from_db()
    assert stage.probability == Decimal("1.00")


def test_the_ladder_has_no_add_or_delete(admin_client):
    stage = CommitmentStage.objects.get(code="mou")
    assert admin_client.get("/admin/partners/commitmentstage/add/").status_code == 403
    assert admin_client.get(f"/admin/partners/commitmentstage/{stage.pk}/delete/").status_code == 403


# --- organisations, MoUs, invitations ---------------------------------------------------------------------------


def test_organisation_list_filters_and_search(admin_client):
    robots = OrganisationFactory(name_en="Kestrel Robotics", sector="ai_robotics")
    OrganisationFactory(name_en="Corvenna Biotech", sector="life_health", kind="institution")

    url = "/admin/partners/organisation/"
    assert list(admin_client.get(f"{url}?sector__exact=ai_robotics").context["cl"].result_list) == [robots]
    assert list(admin_client.get(f"{url}?q=kestrel").context["cl"].result_list) == [robots]
    assert len(admin_client.get(f"{url}?kind__exact=institution").context["cl"].result_list) == 1


def test_an_organisation_change_goes_through_the_service_and_the_inline_adds_no_one(admin_client, staff_user):
    organisation = OrganisationFactory(contact_name="")
    url = f"/admin/partners/organisation/{organisation.pk}/change/"
    page = admin_client.get(url)
    assert not page.context["inline_admin_formsets"][0].formset.forms  # no member yet, and no row to add one
    assert 'name="memberships-__prefix__-user"' not in page.content.decode()
    data = form_data(page)
    data["contact_name"] = "Ada Chan"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    organisation.refresh_from_db()
    assert organisation.contact_name == "Ada Chan" and organisation.history.first().history_user == staff_user
    history = admin_client.get(f"/admin/partners/organisation/{organisation.pk}/history/").content.decode()
    assert "staff-t" in history and "Ada Chan" in history


def test_a_member_role_change_goes_through_membership_role_update(admin_client, staff_user):
    organisation = OrganisationFactory()
    member = partner_user(organisation)
    url = f"/admin/partners/organisation/{organisation.pk}/change/"
    data = form_data(admin_client.get(url))
    data["memberships-0-role"] = "admin"

    assert admin_client.post(url, data).status_code == 302
    membership = Membership.objects.get(user=member)
    assert membership.role == "admin" and membership.history.first().history_user == staff_user


def test_a_typed_user_id_cannot_make_the_staff_account_a_partner_admin(admin_client, staff_user):
    """Walkthrough defect 4: user id 3 (HKSTP `staff`) typed into the memberships inline became a partner admin."""
    organisation = OrganisationFactory()
    url = f"/admin/partners/organisation/{organisation.pk}/change/"
    data = form_data(admin_client.get(url))
    data.update(
        {"memberships-TOTAL_FORMS": "1", "memberships-0-user": str(staff_user.pk), "memberships-0-role": "admin"}
    )

    admin_client.post(url, data)

    assert not Membership.objects.filter(organisation=organisation).exists()
    assert not staff_user.groups.filter(name=PARTNER).exists()
    refused = admin_client.post(
        "/admin/partners/membership/add/", {"user": staff_user.pk, "organisation": organisation.pk, "role": "admin"}
    )
    assert refused.status_code == 200 and "user" in refused.context["adminform"].form.errors
    assert not Membership.objects.filter(user=staff_user).exists()


def test_staff_invite_an_organisation_s_first_person_from_its_page(
    admin_client, staff_user, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory(name_en="Lumivane Biologics")
    change = admin_client.get(f"/admin/partners/organisation/{organisation.pk}/change/").content.decode()
    invite_url = f"/admin/partners/organisation/{organisation.pk}/invite/"
    assert f'href="{invite_url}"' in change
    page = admin_client.get(invite_url)
    assert page.status_code == 200 and page.context["form"]["role"].value() == "admin"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(invite_url, {"email": "Founder@Lumivane.example", "role": "admin"})

    assert response.status_code == 302
    invitation = Invitation.objects.get(organisation=organisation)
    assert invitation.email == "founder@lumivane.example" and invitation.role == "admin"
    assert invitation.invited_by == staff_user and invitation.history.first().history_user == staff_user
    [message] = mail.outbox
    assert message.body.startswith("You are invited to join Lumivane Biologics")
    assert "Sent by: HKSTP staff" in message.body
    membership = services.invitation_accept(
        token=invitation.token, username="founder", password="a-long-pass-phrase-42"
    )
    assert membership.organisation == organisation and membership.role == "admin"
    refused = admin_client.post(invite_url, {"email": "not-an-address", "role": "admin"})
    assert refused.status_code == 200 and "email" in refused.context["form"].errors
    assert admin_client.get("/admin/partners/organisation/999999/invite/").status_code == 404


def test_membership_admin_adds_through_membership_set_and_changes_roles_through_its_update(admin_client, staff_user):
    organisation = OrganisationFactory()
    person = UserFactory(username="person")
    elsewhere = partner_user(OrganisationFactory())

    refused = admin_client.post(
        "/admin/partners/membership/add/", {"user": elsewhere.pk, "organisation": organisation.pk, "role": "member"}
    )
    assert refused.status_code == 200
    assert "already belongs to" in refused.context["adminform"].form.errors["user"][0]

    added = admin_client.post(
        "/admin/partners/membership/add/", {"user": person.pk, "organisation": organisation.pk, "role": "member"}
    )
    assert added.status_code == 302, added.context["adminform"].form.errors
    membership = Membership.objects.get(user=person)
    assert person.groups.filter(name=PARTNER).exists()

    url = f"/admin/partners/membership/{membership.pk}/change/"
    data = form_data(admin_client.get(url))
    assert set(data) == {"role"}
    data["role"] = "admin"
    assert admin_client.post(url, data).status_code == 302
    membership.refresh_from_db()
    assert membership.role == "admin" and membership.history.first().history_user == staff_user
    history = " ".join(admin_client.get(f"{url.removesuffix('change/')}history/").content.decode().split())
    assert "staff-t" in history and "<strong>Role:</strong> member &nbsp;&rarr;&nbsp;&nbsp;admin" in history


def test_mou_rule_is_shown_and_a_valid_mou_is_saved_with_history(admin_client, staff_user):
    organisation = OrganisationFactory()
    base = {"organisation": organisation.pk, "title": "HPC partnership", "focus": "HPC", "status": "signed"}

    refused = admin_client.post("/admin/partners/mou/add/", base)
    assert refused.status_code == 200
    assert "A signed or expired MoU needs its signed date." in refused.content.decode()

    response = admin_client.post("/admin/partners/mou/add/", {**base, "signed_date": "2026-03-01"})
    assert response.status_code == 302
    mou = organisation.mous.get()
    assert mou.history.first().history_user == staff_user


def test_staff_see_pending_invitations_read_only(admin_client, staff_user):
    organisation = OrganisationFactory()
    pending = Invitation.objects.create(
        organisation=organisation,
        email="pending@example.org",
        invited_by=staff_user,
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    Invitation.objects.create(
        organisation=organisation,
        email="late@example.org",
        invited_by=staff_user,
        expires_at=timezone.now() - datetime.timedelta(days=1),
    )

    response = admin_client.get("/admin/partners/invitation/?state=pending")

    assert list(response.context["cl"].result_list) == [pending]
    assert "Pending" in response.content.decode()
    assert admin_client.get("/admin/partners/invitation/add/").status_code == 403
    page = admin_client.get(f"/admin/partners/invitation/{pending.pk}/change/")
    assert page.status_code == 200 and not page.context["adminform"].form.fields


def test_staff_revoke_and_resend_invitations_from_the_list(
    admin_client, staff_user, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory()
    first = services.invitation_create(organisation=organisation, email="one@example.org", actor=staff_user)
    second = services.invitation_create(organisation=organisation, email="two@example.org", actor=staff_user)
    url = "/admin/partners/invitation/"

    revoked = admin_client.post(url, {"action": "revoke", "_selected_action": [first.pk]}, follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        resent = admin_client.post(url, {"action": "resend", "_selected_action": [first.pk, second.pk]}, follow=True)

    first.refresh_from_db()
    assert first.revoked_at is not None and "1 invitation revoked." in messages_of(revoked)
    shown = messages_of(resent)
    assert "1 invitation sent again." in shown and any("was revoked" in message for message in shown)
    assert [message.to for message in mail.outbox] == [["two@example.org"]]
    assert list(admin_client.get(f"{url}?state=revoked").context["cl"].result_list) == [first]
    assert admin_client.get(f"/admin/partners/invitation/{first.pk}/history/").status_code == 200


# --- who may come in --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["planner", "executive", "partner"])
@pytest.mark.parametrize(
    "url",
    [QUEUE, "/admin/partners/organisation/", "/admin/partners/commitment/", "/admin/partners/commitmentstage/"],
)
def test_non_staff_roles_cannot_open_the_partner_admin(client, users, role, url):
    client.force_login(users[role])
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_non_staff_roles_cannot_run_the_review_actions(client, partner):
    eoi = EOIFactory(status=Status.SUBMITTED)
    client.force_login(partner)
    response = client.post(QUEUE, {"action": "start_review", "_selected_action": [eoi.pk]})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    eoi.refresh_from_db()
    assert eoi.status == Status.SUBMITTED


def test_a_staff_user_without_the_staff_role_is_refused_by_the_service(client):
    """is_staff with model permissions but not in the Staff group: the workflow rule still holds."""
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(*Group.objects.get(name="Staff").permissions.filter(codename__endswith="interest"))
    eoi = EOIFactory(status=Status.SUBMITTED)
    client.force_login(clerk)

    response = act(client, "start_review", eoi)

    eoi.refresh_from_db()
    assert eoi.status == Status.SUBMITTED
    assert any("Only HKSTP staff can take the step" in message for message in messages_of(response))


# --- the admin's fields are the services' (core.admin.ServiceAdmin's system check) ---------------------------------


def test_every_admin_shows_each_field_its_services_take_once():
    assert [error for error in admin.site.check(None) if error.id.startswith("core.")] == []


class DriftedEOIAdmin(ExpressionOfInterestAdmin):
    """The EOI fields grouped wrongly: GFA twice, jobs left out, and the status editable."""

    fieldsets = [
        (None, {"fields": ["organisation", "status", "language", "gfa_m2"]}),
        (
            "What",
            {
                "fields": [
                    ("facility_type", "gfa_m2"),
                    "capacity",
                    "preferred_phase",
                    "preferred_parcel",
                    "investment_hkd_m",
                    "wanted_start",
                    "description",
                ]
            },
        ),
    ]
    readonly_fields = ["organisation"]


class DriftedStageAdmin(CommitmentStageAdmin):
    """A rung's fields listed without its Chinese name, and its order editable."""

    fields = ["code", "order", "name_en", "probability"]
    readonly_fields = ["code"]


@pytest.mark.parametrize(
    ("admin_class", "model", "expected"),
    [
        (
            DriftedEOIAdmin,
            ExpressionOfInterest,
            {
                ("core.E001", "'gfa_m2', a field the services take, appears 2 times in the admin's fields."),
                ("core.E001", "'jobs', a field the services take, appears 0 times in the admin's fields."),
                ("core.E002", "'status' is editable in the admin, but the services do not take it."),
            },
        ),
        (
            DriftedStageAdmin,
            CommitmentStage,
            {
                ("core.E001", "'name_zh', a field the services take, appears 0 times in the admin's fields."),
                ("core.E002", "'order' is editable in the admin, but the services do not take it."),
            },
        ),
    ],
)
def test_an_admin_whose_fields_drift_from_its_services_fails_the_check(admin_class, model, expected):
    errors = {(error.id, error.msg) for error in admin_class(model, admin.site).check() if error.id.startswith("core.")}
    assert errors == expected
