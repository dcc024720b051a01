"""The partner portal through the Django test client: scoping (another organisation's rows answer 404), the EOI
form and its validate endpoint, the workflow, attachments checked by content, downloads, invitations, the PDPO
statement, and query counts on the dashboard (beside its baseline in tests/test_query_counts.py)."""

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import services
from partners.models import Attachment, EOITransition, ExpressionOfInterest, Invitation, Membership
from partners.uploads import MAX_BYTES
from tests.factories import (
    CommitmentFactory,
    EOIFactory,
    FacilityTypeFactory,
    MoUFactory,
    OrganisationFactory,
    ParcelFactory,
    PhaseFactory,
    partner_user,
)

pytestmark = pytest.mark.django_db

Status = ExpressionOfInterest.Status
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


@pytest.fixture
def plan(db):
    phase = PhaseFactory(number=1, name_en="Phase 1")
    other_phase = PhaseFactory(number=2, name_en="Phase 2", campus=phase.campus)
    return {
        "phase": phase,
        "other_phase": other_phase,
        "parcel": ParcelFactory(phase=phase, campus=phase.campus, code="P1-A"),
        "other_parcel": ParcelFactory(phase=other_phase, campus=phase.campus, code="P2-A"),
        "type": FacilityTypeFactory(),
    }


@pytest.fixture
def user_a(org_a):
    return partner_user(org_a, username="alice", role="admin")


@pytest.fixture
def user_b(org_b):
    return partner_user(org_b, username="bob")


@pytest.fixture
def client_a(client, user_a):
    client.force_login(user_a)
    return client


def eoi_data(plan, **overrides) -> dict:
    data = {
        "version": "",
        "facility_type": plan["type"].pk,
        "preferred_phase": plan["phase"].pk,
        "preferred_parcel": plan["parcel"].pk,
        "gfa_m2": "2500",
        "capacity": "",
        "jobs": "80",
        "investment_hkd_m": "150.5",
        "wanted_start": (timezone.localdate() + datetime.timedelta(days=400)).isoformat(),
        "description": "An AI lab with offices for 80 engineers.",
        "language": "en",
        "action": "save",
    }
    data.update(overrides)
    return data


def attach(eoi, name="plan.pdf", content=PDF):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return services.attachment_add(eoi=eoi, actor=None, upload=SimpleUploadedFile(name, content))


def multipart(filename: str, content: bytes, boundary: str = "portal-test-boundary") -> bytes:
    """A multipart body naming the file exactly as given (the test client would strip any directories)."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: application/pdf\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def upload(client, eoi, filename: str, content: bytes):
    boundary = "portal-test-boundary"
    return client.post(
        f"/portal/eois/{eoi.pk}/attachments/",
        data=multipart(filename, content, boundary),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


class TestDashboard:
    def test_shows_only_the_own_organisation_s_data(self, client_a, org_a, org_b, plan):
        own = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        other = EOIFactory(organisation=org_b, facility_type=plan["type"], preferred_phase=plan["phase"])
        MoUFactory(organisation=org_a, title="Alpha MoU")
        MoUFactory(organisation=org_b, title="Beta MoU")
        CommitmentFactory(organisation=org_a, parcel=plan["parcel"], gfa_m2=Decimal("1234"))
        CommitmentFactory(organisation=org_b, parcel=plan["other_parcel"], gfa_m2=Decimal("9876"))

        response = client_a.get("/portal/")

        assert response.status_code == 200
        content = response.content.decode()
        assert "Alpha Robotics" in content
        assert f'href="/portal/eois/{own.pk}/"' in content
        assert f'href="/portal/eois/{other.pk}/"' not in content
        assert "Alpha MoU" in content and "Beta MoU" not in content
        assert "1,234" in content and "9,876" not in content
        assert 'href="/portal/eois/new/"' in content
        assert 'href="/portal/invite/"' in content  # alice is her organisation's admin

    def test_a_member_does_not_see_the_invite_link(self, client, org_a):
        client.force_login(partner_user(org_a, username="member-a"))
        assert 'href="/portal/invite/"' not in client.get("/portal/").content.decode()

    def test_a_partner_without_an_organisation_is_told_so(self, client, partner):
        client.force_login(partner)
        response = client.get("/portal/")
        assert response.status_code == 200
        assert "not linked to an organisation yet" in response.content.decode()
        response = client.get("/portal/eois/new/")
        assert response.status_code == 403
        assert "not linked to an organisation yet" in response.content.decode()

    def test_queries_do_not_grow_with_the_mous(self, client_a, org_a):
        """The page's count is a baseline (tests/test_query_counts.py), on the demo, where the partner's organisation
        has EOIs and a commitment but no MoU: its MoUs are checked here."""
        MoUFactory(organisation=org_a)
        with CaptureQueriesContext(connection) as one:
            assert client_a.get("/portal/").status_code == 200
        for _ in range(5):
            MoUFactory(organisation=org_a)
        with CaptureQueriesContext(connection) as six:
            response = client_a.get("/portal/")

        assert response.content.decode().count('<th scope="row">Partnership ') == 6
        assert len(six) == len(one), [query["sql"] for query in six.captured_queries]


class TestScoping:
    """Partner A reaching for partner B's rows gets 404, exactly as for a missing row."""

    @pytest.fixture
    def b_eoi(self, org_b, plan):
        return EOIFactory(organisation=org_b, facility_type=plan["type"], preferred_phase=plan["phase"])

    def test_another_organisation_s_eoi_pages_answer_404(self, client_a, b_eoi, plan):
        attachment = attach(b_eoi)
        assert client_a.get(f"/portal/eois/{b_eoi.pk}/").status_code == 404
        assert client_a.get(f"/portal/eois/{b_eoi.pk}/edit/").status_code == 404
        assert client_a.post(f"/portal/eois/{b_eoi.pk}/edit/", eoi_data(plan)).status_code == 404
        assert client_a.get(f"/portal/eois/{b_eoi.pk}/delete/").status_code == 404
        assert client_a.post(f"/portal/eois/{b_eoi.pk}/delete/").status_code == 404
        assert upload(client_a, b_eoi, "x.pdf", PDF).status_code == 404
        assert client_a.get(f"/portal/attachments/{attachment.pk}/download/").status_code == 404
        assert client_a.post(f"/portal/attachments/{attachment.pk}/delete/").status_code == 404
        assert (
            client_a.post(f"/portal/eois/validate/?eoi={b_eoi.pk}", eoi_data(plan), HTTP_HX_REQUEST="true").status_code
            == 404
        )
        assert ExpressionOfInterest.objects.filter(pk=b_eoi.pk).exists()
        assert Attachment.objects.filter(pk=attachment.pk).exists()
        assert b_eoi.attachments.count() == 1

    def test_withdrawing_another_organisation_s_eoi_answers_404(self, client_a, org_b, plan):
        submitted = EOIFactory(organisation=org_b, facility_type=plan["type"], status=Status.SUBMITTED)
        assert client_a.get(f"/portal/eois/{submitted.pk}/withdraw/").status_code == 404
        assert client_a.post(f"/portal/eois/{submitted.pk}/withdraw/").status_code == 404
        submitted.refresh_from_db()
        assert submitted.status == Status.SUBMITTED

    def test_a_missing_eoi_answers_404_too(self, client_a):
        assert client_a.get("/portal/eois/999999/").status_code == 404

    def test_other_roles_cannot_use_the_portal(self, client, planner, b_eoi):
        client.force_login(planner)
        assert client.get(f"/portal/eois/{b_eoi.pk}/").status_code == 403


class TestDownload:
    @pytest.fixture
    def attachment(self, org_b, plan):
        eoi = EOIFactory(organisation=org_b, facility_type=plan["type"], preferred_phase=plan["phase"])
        return attach(eoi, name="Site plan.pdf")

    def test_the_organisation_s_users_download_it_with_safe_headers(self, client, org_b, attachment):
        client.force_login(partner_user(org_b, username="bea"))
        response = client.get(f"/portal/attachments/{attachment.pk}/download/")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "Site plan.pdf" in response["Content-Disposition"]

    def test_staff_download_any_attachment(self, client, staff_user, attachment):
        client.force_login(staff_user)
        response = client.get(f"/portal/attachments/{attachment.pk}/download/")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF

    @pytest.mark.parametrize("role", ["planner", "executive", "partner"])
    def test_planners_executives_and_unlinked_partners_get_404(self, client, users, role, attachment):
        client.force_login(users[role])
        assert client.get(f"/portal/attachments/{attachment.pk}/download/").status_code == 404

    def test_anonymous_visitors_are_sent_to_sign_in(self, client, attachment):
        response = client.get(f"/portal/attachments/{attachment.pk}/download/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


class TestEOIForm:
    def test_the_form_lists_the_choices_and_the_privacy_notice(self, client_a, plan):
        content = client_a.get("/portal/eois/new/").content.decode()
        assert '<label for="id_facility_type">' in content
        assert '<optgroup label="Phase 1">' in content and "P1-A (Phase 1)" in content
        assert 'type="date"' in content
        assert 'hx-post="/portal/eois/validate/"' in content
        assert 'name="action" value="save"' in content and 'name="action" value="submit"' in content
        assert "Your personal data" in content and 'href="/portal/privacy/"' in content

    def test_save_draft(self, client_a, org_a, user_a, plan):
        response = client_a.post("/portal/eois/new/", eoi_data(plan))

        eoi = ExpressionOfInterest.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"
        assert eoi.organisation == org_a and eoi.submitted_by == user_a
        assert eoi.status == Status.DRAFT
        assert eoi.gfa_m2 == Decimal("2500") and eoi.investment_hkd_m == Decimal("150.5")
        assert eoi.preferred_parcel == plan["parcel"]

    def test_edit_a_draft_with_its_version(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        page = client_a.get(f"/portal/eois/{eoi.pk}/edit/").content.decode()
        assert f'name="version" value="{eoi.version}"' in page
        assert f'hx-post="/portal/eois/validate/?eoi={eoi.pk}"' in page

        response = client_a.post(f"/portal/eois/{eoi.pk}/edit/", eoi_data(plan, version=eoi.version, jobs="99"))

        assert response.status_code == 302
        eoi.refresh_from_db()
        assert eoi.jobs == 99 and eoi.version == 2

    def test_a_stale_version_is_a_conflict_that_keeps_what_the_user_typed(self, client_a, org_a, user_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        services.eoi_update(eoi=eoi, actor=user_a, expected_version=1, gfa_m2=Decimal("3000"))  # someone else

        response = client_a.post(
            f"/portal/eois/{eoi.pk}/edit/",
            eoi_data(plan, version=1, description="My own words, typed with care."),
        )

        assert response.status_code == 409
        content = response.content.decode()
        assert "changed by someone else" in content
        assert "My own words, typed with care." in content
        assert 'name="version" value="2"' in content  # the next save is based on what was shown
        assert "3,000" in content or "3000" in content  # what is saved now
        eoi.refresh_from_db()
        assert eoi.description != "My own words, typed with care."

    def test_a_submitted_eoi_cannot_be_edited(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], status=Status.SUBMITTED)
        response = client_a.get(f"/portal/eois/{eoi.pk}/edit/")
        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"

    def test_field_errors_are_tied_to_their_fields_and_nothing_is_saved(self, client_a, plan):
        response = client_a.post("/portal/eois/new/", eoi_data(plan, gfa_m2="-3", facility_type=""))

        assert response.status_code == 200
        content = response.content.decode()
        assert ExpressionOfInterest.objects.count() == 0
        assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="id_gfa_m2"', content) or re.search(
            r'<input[^>]*id="id_gfa_m2"[^>]*aria-invalid="true"', content
        )
        assert 'aria-describedby="id_gfa_m2_helptext id_gfa_m2_error"' in content
        assert re.search(r'id="id_gfa_m2_error"[^>]*>\s*<p>GFA must be more than 0 m²\.</p>', content)
        assert re.search(r'id="id_facility_type_error"[^>]*>\s*<p>This field is required\.</p>', content)
        assert 'href="#id_gfa_m2"' in content  # the summary links to the field

    @pytest.mark.parametrize(
        ("action", "bad"),
        [
            ("save", {"gfa_m2": "-3"}),  # refused by the form
            ("submit", {"gfa_m2": "-3"}),
            ("save", {"preferred_phase": "", "preferred_parcel": "", "action": "submit"}),  # by the submit rules
            ("submit", {"description": ""}),
        ],
    )
    def test_invalid_full_page_posts_use_up_no_reference(self, client_a, org_a, plan, action, bad):
        """Code review, finding 11: three invalid posts, then a valid one, created EOI 00004."""
        before = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        for _ in range(3):
            response = client_a.post("/portal/eois/new/", eoi_data(plan, **{"action": action, **bad}))
            assert response.status_code == 200
        assert ExpressionOfInterest.objects.count() == 1

        response = client_a.post("/portal/eois/new/", eoi_data(plan, action=action))

        assert response.status_code == 302
        made = ExpressionOfInterest.objects.exclude(pk=before.pk).get()
        assert made.pk == before.pk + 1  # the very next reference: the refused posts used none

    def test_an_invalid_post_still_reports_the_services_rules(self, client_a, plan):
        content = client_a.post(
            "/portal/eois/new/", eoi_data(plan, gfa_m2="-3", preferred_phase=plan["other_phase"].pk)
        ).content.decode()
        assert "GFA must be more than 0 m²." in content
        assert "Parcel P1-A is not in Phase 2." in content
        assert ExpressionOfInterest.objects.count() == 0

    def test_a_service_rule_shows_on_its_field(self, client_a, plan):
        response = client_a.post("/portal/eois/new/", eoi_data(plan, preferred_parcel=plan["other_parcel"].pk))

        content = response.content.decode()
        assert ExpressionOfInterest.objects.count() == 0
        assert re.search(r'id="id_preferred_parcel_error"[^>]*>\s*<p>Parcel P2-A is not in Phase 1\.</p>', content)
        assert re.search(r'<select[^>]*name="preferred_parcel"[^>]*aria-invalid="true"', content)


class TestEOIFormGuidance:
    def test_a_blank_form_has_no_error_box(self, client_a, plan):
        content = client_a.get("/portal/eois/new/").content.decode()
        assert '<div id="eoi-form-errors"></div>' in content  # the target htmx fills stays, empty and unstyled
        assert 'class="form-errors"' not in content and 'role="alert"' not in content

    def test_an_error_summary_has_its_box(self, client_a, plan):
        content = client_a.post("/portal/eois/new/", eoi_data(plan, gfa_m2="-3")).content.decode()
        assert re.search(r'<div id="eoi-form-errors"><div class="form-errors" role="alert">', content)
        assert "GFA (m²): GFA must be more than 0 m²." in content

    def test_the_summary_uses_the_language_s_punctuation(self, client_a, plan):
        response = client_a.post(
            "/portal/eois/new/",
            eoi_data(plan, action="submit", preferred_phase="", preferred_parcel=""),
            HTTP_ACCEPT_LANGUAGE="zh-hant",
        )
        content = response.content.decode()
        assert "首選期數：" in content and "首選期數:" not in content

    def test_a_draft_shows_who_created_it_not_a_submitter(self, client_a, org_a, user_a, plan):
        draft = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        content = client_a.get(f"/portal/eois/{draft.pk}/").content.decode()
        assert "Created by" in content and "Submitted by" not in content and ">Submitted<" not in content
        services.eoi_transition(eoi=draft, actor=user_a, transition="submit")
        content = client_a.get(f"/portal/eois/{draft.pk}/").content.decode()
        assert "Submitted by" in content and "Created by" not in content

    def test_the_parcel_list_offers_the_chosen_phase_s_parcels(self, client_a, org_a, plan):
        everything = client_a.get("/portal/eois/new/").content.decode()
        assert "P1-A (Phase 1)" in everything and "P2-A (Phase 2)" in everything
        draft = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        narrowed = client_a.get(f"/portal/eois/{draft.pk}/edit/").content.decode()
        assert "P1-A (Phase 1)" in narrowed and "P2-A (Phase 2)" not in narrowed

    def test_choosing_a_phase_swaps_in_its_parcels_and_keeps_a_chosen_parcel_to_report_it(self, client_a, plan):
        headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER_NAME": "preferred_phase"}
        data = eoi_data(plan, preferred_phase=plan["other_phase"].pk, preferred_parcel="")
        content = client_a.post("/portal/eois/validate/", data, **headers).content.decode()
        swapped = re.search(r'<select id="id_preferred_parcel" hx-swap-oob="innerHTML">(.*?)</select>', content, re.S)
        assert swapped and "P2-A (Phase 2)" in swapped.group(1) and "P1-A" not in swapped.group(1)
        assert "<script" not in content

        data = eoi_data(plan, preferred_phase=plan["other_phase"].pk)  # P1-A still chosen
        content = client_a.post("/portal/eois/validate/", data, **headers).content.decode()
        swapped = re.search(r'<select id="id_preferred_parcel" hx-swap-oob="innerHTML">(.*?)</select>', content, re.S)
        assert re.search(rf'<option value="{plan["parcel"].pk}" selected>P1-A', swapped.group(1))
        assert "Parcel P1-A is not in Phase 2." in content
        other = client_a.post("/portal/eois/validate/", data, HTTP_HX_TRIGGER_NAME="jobs").content.decode()
        assert 'select id="id_preferred_parcel"' not in other  # the list changes only with the phase

    def test_the_phase_or_parcel_rule_is_a_hint_and_is_checked_live(self, client_a, plan):
        form = client_a.get("/portal/eois/new/").content.decode()
        assert "a submitted EOI needs one" in form
        headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER_NAME": "preferred_parcel"}
        data = eoi_data(plan, preferred_phase="", preferred_parcel="")
        content = client_a.post("/portal/eois/validate/", data, **headers).content.decode()
        assert re.search(
            r'<div id="id_preferred_phase_error" hx-swap-oob="innerHTML"><p>Choose a preferred phase or parcel\.</p>',
            content,
        )
        content = client_a.post("/portal/eois/validate/", eoi_data(plan), **headers).content.decode()
        assert '<div id="id_preferred_phase_error" hx-swap-oob="innerHTML"></div>' in content


class TestValidateEndpoint:
    def post(self, client, plan, trigger="", url="/portal/eois/validate/", **overrides):
        headers = {"HTTP_HX_REQUEST": "true"}
        if trigger:
            headers["HTTP_HX_TRIGGER_NAME"] = trigger
        return client.post(url, eoi_data(plan, **overrides), **headers)

    def test_returns_field_errors_out_of_band_and_saves_nothing(self, client_a, plan):
        response = self.post(client_a, plan, trigger="gfa_m2", gfa_m2="0", preferred_parcel=plan["other_parcel"].pk)

        assert response.status_code == 200
        content = response.content.decode()
        assert re.search(
            r'<div id="id_gfa_m2_error" hx-swap-oob="innerHTML"><p>GFA must be more than 0 m²\.</p>', content
        )
        assert "Parcel P2-A is not in Phase 1." in content  # the service's rule, dry-run
        assert '<div id="id_jobs_error" hx-swap-oob="innerHTML"></div>' in content  # a valid field is cleared
        assert '<span id="capacity-unit" hx-swap-oob="innerHTML">(in workstations)</span>' in content
        assert ExpressionOfInterest.objects.count() == 0
        assert EOITransition.objects.count() == 0

    def test_a_valid_form_saves_nothing_either_and_uses_up_no_reference(self, client_a, plan):
        response = self.post(client_a, plan, trigger="jobs")
        assert response.status_code == 200
        assert "<p>" not in response.content.decode()
        assert ExpressionOfInterest.objects.count() == 0
        first = EOIFactory(organisation=OrganisationFactory(), facility_type=plan["type"])
        for _ in range(3):
            self.post(client_a, plan, trigger="jobs")
        second = EOIFactory(organisation=first.organisation, facility_type=plan["type"])
        assert second.pk == first.pk + 1

    def test_empty_fields_not_yet_reached_are_left_alone(self, client_a, plan):
        content = self.post(client_a, plan, trigger="jobs", facility_type="", description="").content.decode()
        assert "id_facility_type_error" not in content
        content = self.post(client_a, plan, trigger="facility_type", facility_type="").content.decode()
        assert '<div id="id_facility_type_error" hx-swap-oob="innerHTML"><p>This field is required.</p>' in content

    def test_edit_checks_the_draft_without_changing_it(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        url = f"/portal/eois/validate/?eoi={eoi.pk}"
        response = self.post(client_a, plan, url=url, trigger="jobs", version=eoi.version, jobs="7")
        assert response.status_code == 200
        eoi.refresh_from_db()
        assert eoi.jobs == 50 and eoi.version == 1
        stale = self.post(client_a, plan, url=url, trigger="jobs", version=0).content.decode()
        assert "changed by someone else" in stale

    def test_only_post(self, client_a):
        assert client_a.get("/portal/eois/validate/").status_code == 405


class TestWorkflow:
    def test_submitting_an_incomplete_eoi_shows_the_errors_and_submits_nothing(self, client_a, plan):
        data = eoi_data(
            plan, action="submit", preferred_phase="", preferred_parcel="", gfa_m2="", description="", wanted_start=""
        )
        response = client_a.post("/portal/eois/new/", data)

        assert response.status_code == 200
        content = response.content.decode()
        assert ExpressionOfInterest.objects.count() == 0
        assert re.search(r'id="id_description_error"[^>]*>\s*<p>Describe what you plan to do there\.</p>', content)
        assert re.search(r'id="id_preferred_phase_error"[^>]*>\s*<p>Choose a preferred phase or parcel\.</p>', content)
        assert "Give the GFA, the capacity (in workstations), or both." in content
        assert re.search(r'<textarea[^>]*aria-invalid="true"[^>]*id="id_description"', content)

    def test_a_refused_field_does_not_hide_the_submission_rules(self, client_a, plan):
        response = client_a.post("/portal/eois/new/", eoi_data(plan, action="submit", gfa_m2="-1", description=""))

        content = response.content.decode()
        assert re.search(r'id="id_gfa_m2_error"[^>]*>\s*<p>GFA must be more than 0 m²\.</p>\s*</div>', content)
        assert re.search(r'id="id_description_error"[^>]*>\s*<p>Describe what you plan to do there\.</p>', content)
        assert ExpressionOfInterest.objects.count() == 0

    def test_submitting_an_incomplete_draft_leaves_it_a_draft(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        data = eoi_data(plan, version=eoi.version, action="submit", description="", jobs="12")
        response = client_a.post(f"/portal/eois/{eoi.pk}/edit/", data)
        assert response.status_code == 200
        assert "Describe what you plan to do there." in response.content.decode()
        eoi.refresh_from_db()
        assert eoi.status == Status.DRAFT and eoi.jobs == 50  # nothing saved: the save and the submit are one

    def test_submitting_a_complete_eoi(self, client_a, plan):
        response = client_a.post("/portal/eois/new/", eoi_data(plan, action="submit"))

        eoi = ExpressionOfInterest.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"
        assert eoi.status == Status.SUBMITTED and eoi.submitted_at is not None
        assert list(eoi.transitions.values_list("to_status", flat=True)) == [Status.DRAFT, Status.SUBMITTED]
        page = client_a.get(response["Location"]).content.decode()
        assert "Submitted" in page and "Status history" in page

    def test_the_eoi_page_shows_notes_to_the_partner_but_no_actor_and_no_internal_note(
        self, client_a, org_a, plan, staff_user
    ):
        staff_user.first_name = "Reviewer Rita"
        staff_user.save()
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], status=Status.SUBMITTED)
        services.eoi_transition(eoi=eoi, actor=staff_user, transition="start_review", note="We are on it.")
        services.review_note_add(eoi=eoi, actor=staff_user, text="Internal: budget looks thin.")

        content = client_a.get(f"/portal/eois/{eoi.pk}/").content.decode()

        assert "Under review" in content and "We are on it." in content
        assert "budget looks thin" not in content
        assert "Reviewer Rita" not in content and staff_user.username not in content

    def test_withdraw_with_a_confirmation_page(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], status=Status.SUBMITTED)
        confirm = client_a.get(f"/portal/eois/{eoi.pk}/withdraw/")
        assert confirm.status_code == 200
        assert "Withdraw expression of interest" in confirm.content.decode()

        response = client_a.post(f"/portal/eois/{eoi.pk}/withdraw/", {"note": "Plans changed."})

        assert response.status_code == 302
        eoi.refresh_from_db()
        assert eoi.status == Status.WITHDRAWN
        assert eoi.transitions.last().note == "Plans changed."
        assert "Withdrawn" in client_a.get(f"/portal/eois/{eoi.pk}/").content.decode()
        # Once withdrawn there is nothing left to withdraw.
        again = client_a.post(f"/portal/eois/{eoi.pk}/withdraw/")
        assert again.status_code == 302

    def test_the_eoi_page_offers_the_partner_s_steps_from_its_status_only(self, client_a, org_a, plan):
        # Written out by hand (DESIGN §2): a draft is submitted, an EOI in review withdrawn, a decided one neither.
        expected = {
            Status.DRAFT: ["submit"],
            Status.SUBMITTED: ["withdraw"],
            Status.ON_HOLD: ["withdraw"],
            Status.ACCEPTED: [],
        }
        for status, steps in expected.items():
            eoi = EOIFactory(
                organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"], status=status
            )
            content = client_a.get(f"/portal/eois/{eoi.pk}/").content.decode()
            offered = re.findall(rf'href="/portal/eois/{eoi.pk}/(submit|withdraw|start-review|start_review)/"', content)
            assert offered == steps, (status, offered)

    def test_submit_from_the_eoi_page_with_a_confirmation(self, client_a, org_a, user_a, plan):
        draft = EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])
        confirm = client_a.get(f"/portal/eois/{draft.pk}/submit/")
        assert confirm.status_code == 200
        assert "Submit expression of interest" in confirm.content.decode()

        response = client_a.post(f"/portal/eois/{draft.pk}/submit/", {"note": ""})

        assert response.status_code == 302
        draft.refresh_from_db()
        assert draft.status == Status.SUBMITTED and draft.submitted_by == user_a

    def test_submitting_an_incomplete_draft_from_its_page_names_what_is_missing(self, client_a, org_a, plan):
        draft = EOIFactory(
            organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"], description=""
        )
        response = client_a.post(f"/portal/eois/{draft.pk}/submit/")
        assert response.status_code == 200
        assert "Describe what you plan to do there." in response.content.decode()
        draft.refresh_from_db()
        assert draft.status == Status.DRAFT

    @pytest.mark.parametrize("step", ["start_review", "start-review", "accept", "decline", "no-such-step"])
    def test_staff_steps_and_unknown_steps_are_not_pages_of_the_portal(self, client_a, org_a, plan, step):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], status=Status.SHORTLISTED)
        assert client_a.get(f"/portal/eois/{eoi.pk}/{step}/").status_code == 404
        assert client_a.post(f"/portal/eois/{eoi.pk}/{step}/").status_code == 404
        eoi.refresh_from_db()
        assert eoi.status == Status.SHORTLISTED

    def test_delete_a_draft(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"])
        assert client_a.get(f"/portal/eois/{eoi.pk}/delete/").status_code == 200
        response = client_a.post(f"/portal/eois/{eoi.pk}/delete/")
        assert response.status_code == 302 and response["Location"] == "/portal/"
        assert not ExpressionOfInterest.objects.filter(pk=eoi.pk).exists()

    def test_a_submitted_eoi_is_not_deleted(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], status=Status.SUBMITTED)
        client_a.post(f"/portal/eois/{eoi.pk}/delete/")
        assert ExpressionOfInterest.objects.filter(pk=eoi.pk).exists()


class TestAttachments:
    @pytest.fixture
    def eoi(self, org_a, plan):
        return EOIFactory(organisation=org_a, facility_type=plan["type"], preferred_phase=plan["phase"])

    def test_a_real_pdf_is_attached_and_listed(self, client_a, eoi):
        response = upload(client_a, eoi, "Business plan.pdf", PDF)
        assert response.status_code == 302
        attachment = eoi.attachments.get()
        assert attachment.original_name == "Business plan.pdf" and attachment.content_type == "application/pdf"
        page = client_a.get(f"/portal/eois/{eoi.pk}/").content.decode()
        assert "Business plan.pdf" in page and f'href="/portal/attachments/{attachment.pk}/download/"' in page

    @pytest.mark.parametrize(("name", "content"), [("report.pdf", ELF), ("report.pdf", EXE)])
    def test_an_executable_named_pdf_is_refused_on_the_eoi_page(self, client_a, eoi, name, content):
        # Post/redirect/get: the browser lands on the EOI's own page, never on the POST-only upload URL.
        response = upload(client_a, eoi, name, content)
        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"
        page = client_a.get(response["Location"]).content.decode()
        assert f"{name} was not attached" in page and "is not one of the allowed types" in page
        assert eoi.attachments.count() == 0

    def test_a_file_over_10_mb_is_refused(self, client_a, eoi):
        response = upload(client_a, eoi, "big.pdf", PDF + b"\x00" * (MAX_BYTES + 1 - len(PDF)))
        assert response.status_code == 302 and response["Location"] == f"/portal/eois/{eoi.pk}/"
        assert "the limit is 10.0" in client_a.get(response["Location"]).content.decode()
        assert eoi.attachments.count() == 0

    def test_a_path_in_the_file_name_never_reaches_the_storage(self, client_a, eoi):
        response = upload(client_a, eoi, "../../etc/passwd.pdf", PDF)
        assert response.status_code == 302
        attachment = eoi.attachments.get()
        assert ".." not in attachment.file.name and "passwd" not in attachment.file.name
        assert "/" not in attachment.original_name

    def test_remove_an_attachment_of_a_draft(self, client_a, eoi):
        attachment = attach(eoi)
        response = client_a.post(f"/portal/attachments/{attachment.pk}/delete/")
        assert response.status_code == 302
        assert eoi.attachments.count() == 0

    def test_attachments_of_a_submitted_eoi_stay(self, client_a, org_a, plan):
        eoi = EOIFactory(organisation=org_a, facility_type=plan["type"], status=Status.SUBMITTED)
        attachment = attach(eoi)
        client_a.post(f"/portal/attachments/{attachment.pk}/delete/")
        assert Attachment.objects.filter(pk=attachment.pk).exists()


class TestInvitations:
    def test_admin_invites_and_the_colleague_joins_the_same_organisation(
        self, client, client_a, org_a, django_capture_on_commit_callbacks
    ):
        page = client_a.get("/portal/invite/").content.decode()
        assert "Your personal data" in page

        with django_capture_on_commit_callbacks(execute=True):
            response = client_a.post("/portal/invite/", {"email": "Carol@Example.org", "role": "member"})

        assert response.status_code == 302
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["carol@example.org"]
        link = re.search(r"http://testserver(/portal/invitations/[0-9a-f-]{36}/)", mail.outbox[0].body).group(1)
        client_a.post("/accounts/logout/")

        page = client.get(link)
        assert page.status_code == 200
        assert "Alpha Robotics" in page.content.decode() and 'href="/portal/privacy/"' in page.content.decode()
        mismatch = client.post(
            link,
            {"username": "carol", "full_name": "Carol Chan", "password": "a-long-pass-4321", "password_confirm": "x"},
        )
        assert "The two passwords differ." in mismatch.content.decode()
        response = client.post(
            link,
            {
                "username": "carol",
                "full_name": "Carol Chan",
                "password": "a-long-pass-4321",
                "password_confirm": "a-long-pass-4321",
            },
        )

        assert response.status_code == 302 and response["Location"] == "/portal/"
        membership = Membership.objects.select_related("user").get(user__username="carol")
        assert membership.organisation == org_a and membership.role == Membership.Role.MEMBER
        dashboard = client.get("/portal/")
        assert dashboard.status_code == 200 and "Alpha Robotics" in dashboard.content.decode()
        # The link works once.
        client.post("/accounts/logout/")
        used = client.get(link)
        assert used.status_code == 404 and "not valid" in used.content.decode()

    def test_a_weak_password_is_refused_on_its_field(self, client, org_a, user_a):
        invitation = services.invitation_create(organisation=org_a, email="dan@example.org", actor=user_a)
        response = client.post(
            f"/portal/invitations/{invitation.token}/",
            {"username": "dan", "password": "123", "password_confirm": "123"},
        )
        assert response.status_code == 200
        assert re.search(r'id="id_password_error"[^>]*>\s*<p>This password is too short', response.content.decode())
        assert not Membership.objects.filter(user__username="dan").exists()

    def test_unknown_and_expired_tokens_get_a_clear_page(self, client, org_a, user_a):
        assert client.get(f"/portal/invitations/{uuid.uuid4()}/").status_code == 404
        invitation = services.invitation_create(organisation=org_a, email="eve@example.org", actor=user_a)
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
        response = client.get(f"/portal/invitations/{invitation.token}/")
        assert response.status_code == 404
        assert "This invitation cannot be used" in response.content.decode()

    def test_a_member_cannot_invite(self, client, org_a):
        client.force_login(partner_user(org_a, username="member-a"))
        assert client.get("/portal/invite/").status_code == 403
        assert client.post("/portal/invite/", {"email": "x@example.org", "role": "admin"}).status_code == 403
        assert not Invitation.objects.exists()

    def test_the_answer_does_not_tell_whether_an_address_has_an_account(self, client_a, user_b, staff_user):
        addresses = (user_b.email, staff_user.email, "nobody-here@example.org")
        for email in addresses:
            response = client_a.post("/portal/invite/", {"email": email.upper(), "role": "member"})
            assert response.status_code == 302 and response["Location"] == "/portal/invite/"
            page = client_a.get(response["Location"]).content.decode()
            assert f"Invitation sent to {email}." in page
        for email in addresses:  # listed alike as waiting to be accepted
            assert re.search(rf'<tr>\s*<th scope="row">{re.escape(email)}</th>\s*<td>Member</td>', page), email
        # (Only an invitation the organisation itself has pending is named, on the field.)
        again = client_a.post("/portal/invite/", {"email": user_b.email, "role": "member"}).content.decode()
        assert "already waiting to be accepted" in again

    def test_an_admin_revokes_and_resends_with_post_and_sees_the_members(
        self, client_a, org_a, user_a, django_capture_on_commit_callbacks
    ):
        member = partner_user(org_a, username="member-a")
        member.first_name = "Mei Ling"
        member.save()
        invitation = services.invitation_create(organisation=org_a, email="carol@example.org", actor=user_a)
        old_token = invitation.token

        page = client_a.get("/portal/invite/").content.decode()
        assert f'action="/portal/invitations/{invitation.pk}/revoke/"' in page
        assert f'action="/portal/invitations/{invitation.pk}/resend/"' in page
        assert "Mei Ling" in page and "member-a" in page and "Organisation admin" in page
        assert client_a.get(f"/portal/invitations/{invitation.pk}/resend/").status_code == 405

        with django_capture_on_commit_callbacks(execute=True):
            resent = client_a.post(f"/portal/invitations/{invitation.pk}/resend/", follow=True)
        assert "Invitation sent again to carol@example.org." in resent.content.decode()
        invitation.refresh_from_db()
        assert invitation.token != old_token and str(invitation.token) in mail.outbox[-1].body

        revoked = client_a.post(f"/portal/invitations/{invitation.pk}/revoke/", follow=True).content.decode()
        assert "The invitation to carol@example.org is revoked." in revoked
        assert f'action="/portal/invitations/{invitation.pk}/revoke/"' not in revoked
        assert client_a.get(f"/portal/invitations/{invitation.token}/").status_code == 404
        again = client_a.post(f"/portal/invitations/{invitation.pk}/revoke/", follow=True).content.decode()
        assert "This invitation was revoked." in again

    def test_another_organisation_s_invitation_answers_404_and_members_get_403(self, client, org_a, org_b, user_b):
        theirs = services.invitation_create(
            organisation=org_b, email="x@example.org", actor=partner_user(org_b, role="admin")
        )
        client.force_login(partner_user(org_a, username="admin-a2", role="admin"))
        for action in ("revoke", "resend"):
            assert client.post(f"/portal/invitations/{theirs.pk}/{action}/").status_code == 404
        client.force_login(user_b)  # a member of the invitation's own organisation
        for action in ("revoke", "resend"):
            assert client.post(f"/portal/invitations/{theirs.pk}/{action}/").status_code == 403
        theirs.refresh_from_db()
        assert theirs.revoked_at is None

    def test_the_rate_limit_is_a_clear_message(self, client_a, settings):
        settings.PARTNER_INVITATIONS_PER_HOUR = 1
        client_a.post("/portal/invite/", {"email": "one@example.org", "role": "member"})
        response = client_a.post("/portal/invite/", {"email": "two@example.org", "role": "member"})
        assert response.status_code == 200
        assert "can send 1 invitation an hour" in response.content.decode()
        assert Invitation.objects.count() == 1

    def test_a_signed_in_hkstp_account_cannot_accept(self, client, org_a, user_a, staff_user):
        invitation = services.invitation_create(organisation=org_a, email="new@example.org", actor=user_a)
        client.force_login(staff_user)
        client.post(
            f"/portal/invitations/{invitation.token}/",
            {"username": "x", "password": "a-long-pass-4321", "password_confirm": "a-long-pass-4321"},
        )
        assert not Membership.objects.filter(user=staff_user).exists()
        assert not staff_user.groups.filter(name="Partner").exists()


class TestMembers:
    def test_every_member_sees_the_organisation_s_people_and_no_one_else(self, client, org_a, org_b, user_a):
        partner_user(org_b, username="outsider")
        member = partner_user(org_a, username="member-a")
        client.force_login(member)
        content = client.get("/portal/").content.decode()
        assert "People in your organisation" in content
        assert "alice" in content and "member-a" in content and "outsider" not in content


class TestPrivacy:
    def test_the_collection_statement_is_public(self, client):
        response = client.get("/portal/privacy/")
        assert response.status_code == 200
        content = response.content.decode()
        for phrase in ["Personal Data (Privacy) Ordinance", "voluntary", "dpo@hkstp.invalid", "correction"]:
            assert phrase in content
