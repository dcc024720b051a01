"""The EOI workflow, invitations, MoUs and commitments, through the services."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.roles import PARTNER
from partners import services, workflow
from partners.models import Commitment, ExpressionOfInterest, Invitation, Membership
from tests.factories import (
    EOIFactory,
    FacilityFactory,
    MoUFactory,
    OrganisationFactory,
    ParcelFactory,
    PhaseFactory,
    partner_user,
)

pytestmark = pytest.mark.django_db

Status = ExpressionOfInterest.Status

# The workflow as DESIGN §2 states it, written out by hand: never derived from `partners.workflow`, so a change to
# the table that these lines do not also make fails here. Each step's side and target, then, per status, the steps
# that leave it ("x") and those refused (".").
SIDE = {
    "submit": "partner",
    "start_review": "staff",
    "shortlist": "staff",
    "accept": "staff",
    "decline": "staff",
    "hold": "staff",
    "resume": "staff",
    "withdraw": "partner",
}
TARGET = {
    "submit": "submitted",
    "start_review": "under_review",
    "shortlist": "shortlisted",
    "accept": "accepted",
    "decline": "declined",
    "hold": "on_hold",
    "resume": "under_review",
    "withdraw": "withdrawn",
}
GRID = """
                submit  start_review  shortlist  accept  decline  hold  resume  withdraw
draft             x          .            .        .        .       .      .        .
submitted         .          x            .        .        .       .      .        x
under_review      .          .            x        .        x       x      .        x
shortlisted       .          .            .        x        x       x      .        x
on_hold           .          .            x        .        x       .      x        x
accepted          .          .            .        .        .       .      .        .
declined          .          .            .        .        .       .      .        .
withdrawn         .          .            .        .        .       .      .        .
"""


def _read_grid() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    header, *rows = GRID.strip().splitlines()
    steps = header.split()
    allowed, refused = [], []
    for row in rows:
        status, *marks = row.split()
        for step, mark in zip(steps, marks, strict=True):
            (allowed if mark == "x" else refused).append((status, step))
    return allowed, refused


ALLOWED, REFUSED = _read_grid()


def actor_for(side: str, eoi, staff_user):
    return staff_user if side == "staff" else partner_user(eoi.organisation)


class TestWorkflow:
    def test_the_expectations_cover_every_status_and_every_step_of_the_table(self):
        assert {status for status, _ in ALLOWED + REFUSED} == set(Status.values)
        assert set(workflow.TRANSITIONS) == set(SIDE) == set(TARGET)

    @pytest.mark.parametrize(("source", "step"), ALLOWED)
    def test_every_allowed_step_by_its_side(self, source, step, staff_user):
        eoi = EOIFactory(status=source)
        actor = actor_for(SIDE[step], eoi, staff_user)

        moved = services.eoi_transition(eoi=eoi, actor=actor, transition=step, note="Thank you.")

        assert moved.status == TARGET[step]
        last = moved.transitions.last()
        assert (last.from_status, last.to_status, last.actor, last.note) == (source, TARGET[step], actor, "Thank you.")

    @pytest.mark.parametrize(("source", "step"), REFUSED)
    def test_every_other_step_is_refused_naming_the_current_status_and_nothing_changes(self, source, step, staff_user):
        eoi = EOIFactory(status=source)
        steps = eoi.transitions.count()

        with pytest.raises(ValidationError) as refused:
            services.eoi_transition(eoi=eoi, actor=actor_for(SIDE[step], eoi, staff_user), transition=step)

        message = refused.value.message_dict["status"][0]
        assert f"An EOI that is {Status(source).label} cannot take the step" in message
        eoi.refresh_from_db()
        assert eoi.status == source and eoi.transitions.count() == steps

    @pytest.mark.parametrize(("source", "step"), [m for m in ALLOWED if SIDE[m[1]] == "staff"])
    def test_partners_cannot_take_staff_steps(self, source, step):
        eoi = EOIFactory(status=source)
        with pytest.raises(PermissionDenied):
            services.eoi_transition(eoi=eoi, actor=partner_user(eoi.organisation), transition=step)
        eoi.refresh_from_db()
        assert eoi.status == source

    @pytest.mark.parametrize(("source", "step"), [m for m in ALLOWED if SIDE[m[1]] == "partner"])
    def test_staff_cannot_take_the_partner_s_steps(self, source, step, staff_user):
        eoi = EOIFactory(status=source)
        with pytest.raises(PermissionDenied):
            services.eoi_transition(eoi=eoi, actor=staff_user, transition=step)
        eoi.refresh_from_db()
        assert eoi.status == source

    def test_an_unknown_step_is_refused(self, staff_user):
        eoi = EOIFactory(status=Status.SUBMITTED)
        with pytest.raises(ValidationError) as refused:
            services.eoi_transition(eoi=eoi, actor=staff_user, transition="approve")
        assert "approve" in refused.value.message_dict["transition"][0]

    @pytest.mark.parametrize(
        ("status", "path"),
        [
            ("draft", []),
            ("submitted", ["submitted"]),
            ("under_review", ["submitted", "under_review"]),
            ("shortlisted", ["submitted", "under_review", "shortlisted"]),
            ("on_hold", ["submitted", "under_review", "on_hold"]),
            ("accepted", ["submitted", "under_review", "shortlisted", "accepted"]),
            ("declined", ["submitted", "under_review", "declined"]),
            ("withdrawn", ["submitted", "withdrawn"]),
        ],
    )
    def test_the_demo_and_the_factories_reach_each_status_by_its_shortest_path(self, status, path):
        eoi = EOIFactory(status=status)
        assert list(eoi.transitions.values_list("to_status", flat=True)) == ["draft", *path]

    def test_a_partner_cannot_move_another_organisation_s_eoi(self):
        eoi = EOIFactory(status=Status.SUBMITTED)
        stranger = partner_user(OrganisationFactory())
        with pytest.raises(PermissionDenied):
            services.eoi_transition(eoi=eoi, actor=stranger, transition="withdraw")

    def test_submitting_an_incomplete_draft_names_what_is_missing(self):
        eoi = EOIFactory(gfa_m2=None, preferred_phase=None, description="")
        with pytest.raises(ValidationError) as refused:
            services.eoi_transition(eoi=eoi, actor=partner_user(eoi.organisation), transition="submit")
        assert set(refused.value.message_dict) == {"gfa_m2", "capacity", "preferred_phase", "description"}
        assert "workstations" in refused.value.message_dict["capacity"][0]  # the type's unit
        eoi.refresh_from_db()
        assert eoi.status == Status.DRAFT and eoi.submitted_at is None

    def test_a_wanted_start_in_the_past_cannot_be_submitted(self):
        eoi = EOIFactory(wanted_start=timezone.localdate() - datetime.timedelta(days=1))
        with pytest.raises(ValidationError) as refused:
            services.eoi_transition(eoi=eoi, actor=partner_user(eoi.organisation), transition="submit")
        assert "wanted_start" in refused.value.message_dict

    def test_submission_records_the_time_and_the_submitter(self):
        eoi = EOIFactory()
        person = partner_user(eoi.organisation)
        submitted = services.eoi_transition(eoi=eoi, actor=person, transition="submit")
        assert submitted.submitted_at is not None
        assert submitted.submitted_by == person

    def test_a_parcel_outside_the_preferred_phase_is_refused(self):
        parcel = ParcelFactory()
        other_phase = PhaseFactory(campus=parcel.campus, number=9)
        with pytest.raises(ValidationError) as refused:
            EOIFactory(preferred_phase=other_phase, preferred_parcel=parcel)
        assert "is not in Phase 9" in refused.value.message_dict["preferred_parcel"][0]

    def test_only_drafts_are_edited_or_deleted(self):
        eoi = EOIFactory(status=Status.SUBMITTED)
        person = partner_user(eoi.organisation)
        with pytest.raises(ValidationError):
            services.eoi_update(eoi=eoi, actor=person, jobs=10)
        with pytest.raises(ValidationError):
            services.eoi_delete(eoi=eoi, actor=person)

    def test_a_staff_move_emails_the_submitter_in_the_eoi_s_language(
        self, staff_user, django_capture_on_commit_callbacks
    ):
        eoi = EOIFactory(language="zh-hant")
        person = partner_user(eoi.organisation)
        person.email = "lee@example.org"
        person.save()
        services.eoi_transition(eoi=eoi, actor=person, transition="submit")

        with django_capture_on_commit_callbacks(execute=True):
            services.eoi_transition(eoi=eoi, actor=staff_user, transition="start_review", note="We are on it.")

        [message] = mail.outbox
        assert message.to == ["lee@example.org"]
        assert eoi.reference in message.subject
        assert "We are on it." in message.body

    def test_review_notes_are_staff_only(self, staff_user):
        eoi = EOIFactory(status=Status.SUBMITTED)
        note = services.review_note_add(eoi=eoi, actor=staff_user, text="Strong team, check financing.")
        assert note.eoi == eoi
        with pytest.raises(PermissionDenied):
            services.review_note_add(eoi=eoi, actor=partner_user(eoi.organisation), text="Let me see")


class TestCommitments:
    def test_an_accepted_eoi_becomes_an_occupancy_commitment_on_its_parcel(self, staff_user):
        facility = FacilityFactory()
        eoi = EOIFactory(
            status=Status.ACCEPTED,
            facility_type=facility.facility_type,
            preferred_phase=facility.parcel.phase,
            preferred_parcel=facility.parcel,
            gfa_m2=Decimal("3000"),
        )

        commitment = services.commitment_from_eoi(eoi=eoi, actor=staff_user)

        assert (commitment.kind, commitment.stage.code, commitment.gfa_m2) == ("occupancy", "eoi", Decimal("3000"))
        assert commitment.facility == facility and commitment.source_eoi == eoi
        with pytest.raises(ValidationError, match="already has its commitment"):
            services.commitment_from_eoi(eoi=eoi, actor=staff_user)

    def test_an_eoi_not_accepted_does_not_become_a_commitment(self, staff_user):
        eoi = EOIFactory(status=Status.SHORTLISTED)
        with pytest.raises(ValidationError, match="Only an accepted EOI"):
            services.commitment_from_eoi(eoi=eoi, actor=staff_user)
        assert not Commitment.objects.exists()

    def test_a_commitment_s_facility_must_be_on_its_parcel(self, staff_user):
        facility = FacilityFactory()
        other_parcel = ParcelFactory()
        with pytest.raises(ValidationError) as refused:
            services.commitment_create(
                actor=staff_user,
                organisation=OrganisationFactory(),
                parcel=other_parcel,
                facility=facility,
                kind="occupancy",
                stage=services.CommitmentStage.objects.get(code="lease"),
                gfa_m2=Decimal("10"),
                date=datetime.date(2026, 1, 1),
            )
        assert "facility" in refused.value.message_dict

    def test_a_signed_mou_needs_its_date(self, staff_user):
        with pytest.raises(ValidationError, match="needs its signed date"):
            MoUFactory(status="signed")


class TestInvitations:
    def test_an_organisation_admin_invites_and_the_invitee_joins(self, django_capture_on_commit_callbacks):
        organisation = OrganisationFactory()
        admin = partner_user(organisation, role="admin")

        with django_capture_on_commit_callbacks(execute=True):
            invitation = services.invitation_create(
                organisation=organisation, email="New.Person@Example.org", actor=admin, accept_url_base="https://x"
            )

        [message] = mail.outbox
        assert message.to == ["new.person@example.org"]
        assert f"https://x/portal/invitations/{invitation.token}/" in message.body
        membership = services.invitation_accept(
            token=invitation.token, username="newperson", password="a-long-pass-phrase-42"
        )
        assert membership.organisation == organisation and membership.role == "member"
        assert membership.user.groups.filter(name=PARTNER).exists()
        with pytest.raises(ValidationError, match="not valid any more"):
            services.invitation_accept(token=invitation.token, username="again", password="a-long-pass-phrase-42")

    def test_members_who_are_not_admins_cannot_invite(self):
        organisation = OrganisationFactory()
        with pytest.raises(PermissionDenied):
            services.invitation_create(
                organisation=organisation, email="x@example.org", actor=partner_user(organisation)
            )
        assert not Invitation.objects.exists()

    def test_an_admin_cannot_invite_into_another_organisation(self):
        admin = partner_user(OrganisationFactory(), role="admin")
        with pytest.raises(PermissionDenied):
            services.invitation_create(organisation=OrganisationFactory(), email="x@example.org", actor=admin)

    def test_expired_invitations_and_weak_passwords_are_refused(self):
        organisation = OrganisationFactory()
        admin = partner_user(organisation, role="admin")
        invitation = services.invitation_create(organisation=organisation, email="a@example.org", actor=admin)
        with pytest.raises(ValidationError) as weak:
            services.invitation_accept(token=invitation.token, username="aperson", password="123")
        assert "password" in weak.value.message_dict

        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        with pytest.raises(ValidationError, match="not valid any more"):
            services.invitation_accept(token=invitation.token, username="aperson", password="a-long-pass-phrase-42")
        assert not get_user_model().objects.filter(username="aperson").exists()

    def test_a_user_belongs_to_one_organisation(self):
        person = partner_user(OrganisationFactory())
        with pytest.raises(ValidationError, match="already belongs"):
            services.membership_set(user=person, organisation=OrganisationFactory(), actor=None)
        assert Membership.objects.filter(user=person).count() == 1


def test_removing_a_member_ends_portal_access_but_keeps_the_account(db):
    organisation = OrganisationFactory()
    person = partner_user(organisation)
    services.membership_remove(membership=person.membership, actor=None)
    person.refresh_from_db()
    assert not Membership.objects.filter(user=person).exists()
    assert not person.groups.filter(name=PARTNER).exists()
    assert person.is_active


class TestMembershipRoleUpdate:
    def test_staff_make_a_member_an_organisation_admin_with_history(self, staff_user):
        person = partner_user(OrganisationFactory())

        membership = services.membership_role_update(membership=person.membership, actor=staff_user, role="admin")

        assert Membership.objects.get(user=person).role == "admin"
        assert membership.history.count() == 2 and membership.history.first().history_user == staff_user

    def test_an_organisation_admin_changes_a_colleague_s_role(self):
        organisation = OrganisationFactory()
        admin = partner_user(organisation, role="admin")
        colleague = partner_user(organisation, role="admin")

        services.membership_role_update(membership=colleague.membership, actor=admin, role="member")

        assert Membership.objects.get(user=colleague).role == "member"

    @pytest.mark.parametrize("who", ["member of the organisation", "admin of another", "planner", "executive"])
    def test_anyone_else_is_refused_and_nothing_changes(self, who, planner, executive):
        organisation = OrganisationFactory()
        person = partner_user(organisation)
        actor = {
            "member of the organisation": partner_user(organisation),
            "admin of another": partner_user(OrganisationFactory(), role="admin"),
            "planner": planner,
            "executive": executive,
        }[who]

        with pytest.raises(PermissionDenied, match="Only HKSTP staff and the organisation's admins"):
            services.membership_role_update(membership=person.membership, actor=actor, role="admin")

        assert Membership.objects.get(user=person).role == "member"
        assert person.membership.history.count() == 1

    def test_a_role_that_does_not_exist_is_refused_on_its_field(self, staff_user):
        person = partner_user(OrganisationFactory())

        with pytest.raises(ValidationError) as refused:
            services.membership_role_update(membership=person.membership, actor=staff_user, role="owner")

        assert refused.value.message_dict == {"role": ["Value 'owner' is not a valid choice."]}
        assert Membership.objects.get(user=person).role == "member"

    def test_the_same_role_again_writes_nothing(self, staff_user):
        person = partner_user(OrganisationFactory(), role="admin")

        services.membership_role_update(membership=person.membership, actor=staff_user, role="admin")

        assert person.membership.history.count() == 1


# --- who may be a partner user ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Staff", "Planner", "Executive", "is_staff", "is_superuser"])
def test_hkstp_accounts_can_never_join_a_partner_organisation(db, kind):
    from tests.factories import UserFactory

    if kind in ("is_staff", "is_superuser"):
        account = UserFactory(username="hkstp-person", **{kind: True})
    else:
        account = UserFactory(username="hkstp-person", role=kind)
    organisation = OrganisationFactory()

    with pytest.raises(ValidationError, match="HKSTP account") as refused:
        services.membership_set(user=account, organisation=organisation, role="admin", actor=None)

    assert "user" in refused.value.message_dict
    assert not Membership.objects.filter(user=account).exists()
    assert not account.groups.filter(name=PARTNER).exists()


def test_an_invitation_to_an_hkstp_address_cannot_make_an_hkstp_account_a_partner(
    db, staff_user, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(organisation=organisation, email=staff_user.email, actor=staff_user)

    [message] = mail.outbox
    assert "/portal/invitations/" not in message.body  # no link to an address that has an account
    with pytest.raises(ValidationError, match="already has an account"):
        services.invitation_accept(token=invitation.token, username="staff-twin", password="a-long-pass-phrase-42")
    assert not Membership.objects.exists()


# --- invitations: no account oracle, no free text, a rate limit, revoke and resend ----------------------------


def _admin_of(organisation):
    return partner_user(organisation, role="admin")


def test_an_existing_account_s_address_gets_the_same_answer_and_an_e_mail_without_a_link(
    db, django_capture_on_commit_callbacks
):
    organisation = OrganisationFactory(name_en="Corvenna CDMO")
    admin = _admin_of(organisation)
    elsewhere = partner_user(OrganisationFactory(), username="victim")

    with django_capture_on_commit_callbacks(execute=True):
        known = services.invitation_create(organisation=organisation, email=elsewhere.email.upper(), actor=admin)
        unknown = services.invitation_create(organisation=organisation, email="nobody@example.org", actor=admin)

    # Both are pending invitations, alike in every way the inviter can see.
    assert set(Invitation.objects.usable()) == {known, unknown}
    notice, invite = mail.outbox
    assert notice.to == [elsewhere.email.lower()] and invite.to == ["nobody@example.org"]
    assert "already belongs to an account" in notice.body and "/portal/invitations/" not in notice.body
    assert f"/portal/invitations/{unknown.token}/" in invite.body


PHISHING = "HKSTP Security Office. URGENT: re-verify at https://hkstp-verify.example/login . Also,"


@pytest.mark.parametrize(
    ("full_name", "username", "shown"),
    [
        (PHISHING, "mallory", "mallory"),  # free text with a link: the username instead
        ("x" * 60, "mallory", "mallory"),  # too long
        (PHISHING, "hkstp-verify.example", None),  # a username that looks like a domain: neither
        ("Ada Chan", "ada", "Ada Chan"),
        ("陳大文", "tai-man", "陳大文"),
    ],
)
def test_the_invitation_e_mail_leads_with_the_organisation_and_never_quotes_free_text(
    db, django_capture_on_commit_callbacks, full_name, username, shown
):
    from tests.factories import UserFactory

    organisation = OrganisationFactory(name_en="Corvenna CDMO")
    inviter = UserFactory(username=username, first_name=full_name)
    services.membership_set(user=inviter, organisation=organisation, role="admin", actor=None)

    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(organisation=organisation, email="target@victim.example", actor=inviter)

    [message] = mail.outbox
    assert message.body.startswith("You are invited to join Corvenna CDMO in the INNOPOLE partner portal of HKSTP.")
    assert "hkstp-verify" not in message.body and "URGENT" not in message.body
    assert f"Sent by: {shown or 'a colleague'}\n" in message.body


def test_invitations_are_rate_limited_per_organisation(db, settings, staff_user, django_capture_on_commit_callbacks):
    settings.PARTNER_INVITATIONS_PER_HOUR = 2
    organisation = OrganisationFactory()
    admin = _admin_of(organisation)
    first = services.invitation_create(organisation=organisation, email="one@example.org", actor=admin)
    services.invitation_create(organisation=organisation, email="two@example.org", actor=admin)

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(ValidationError, match="2 invitations an hour"):
            services.invitation_create(organisation=organisation, email="three@example.org", actor=admin)
        with pytest.raises(ValidationError, match="2 invitations an hour"):
            services.invitation_resend(invitation=first, actor=admin)  # a resend is an e-mail too
    assert mail.outbox == [] and Invitation.objects.count() == 2

    # Another organisation has its own allowance, staff are not limited, and an hour later it is free again.
    other = OrganisationFactory()
    services.invitation_create(organisation=other, email="one@example.org", actor=_admin_of(other))
    services.invitation_create(organisation=organisation, email="staff-sent@example.org", actor=staff_user)
    hour_ago = timezone.now() - datetime.timedelta(hours=1, seconds=1)
    Invitation.history.filter(organisation_id=organisation.pk).update(sent_at=hour_ago)
    services.invitation_create(organisation=organisation, email="three@example.org", actor=admin)


def test_a_revoked_invitation_cannot_be_accepted_and_the_revocation_is_in_the_history(db):
    organisation = OrganisationFactory()
    admin = _admin_of(organisation)
    invitation = services.invitation_create(organisation=organisation, email="a@example.org", actor=admin)

    services.invitation_revoke(invitation=invitation, actor=admin)

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None and not Invitation.objects.usable().exists()
    assert invitation.history.first().history_user == admin
    with pytest.raises(ValidationError, match="not valid any more"):
        services.invitation_accept(token=invitation.token, username="aperson", password="a-long-pass-phrase-42")
    with pytest.raises(ValidationError, match="revoked"):
        services.invitation_resend(invitation=invitation, actor=admin)
    with pytest.raises(ValidationError, match="revoked"):
        services.invitation_revoke(invitation=invitation, actor=admin)


def test_resending_gives_a_new_link_and_the_old_one_stops_working(db, django_capture_on_commit_callbacks):
    organisation = OrganisationFactory()
    admin = _admin_of(organisation)
    invitation = services.invitation_create(organisation=organisation, email="a@example.org", actor=admin)
    old_token = invitation.token
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        resent = services.invitation_resend(invitation=invitation, actor=admin, accept_url_base="https://x")

    [message] = mail.outbox
    assert resent.token != old_token and f"https://x/portal/invitations/{resent.token}/" in message.body
    assert resent.expires_at > timezone.now() + datetime.timedelta(days=services.INVITATION_DAYS - 1)
    with pytest.raises(ValidationError, match="not valid any more"):
        services.invitation_accept(token=old_token, username="aperson", password="a-long-pass-phrase-42")
    membership = services.invitation_accept(token=resent.token, username="aperson", password="a-long-pass-phrase-42")
    assert membership.organisation == organisation
    with pytest.raises(ValidationError, match="accepted already"):
        services.invitation_resend(invitation=resent, actor=admin)


@pytest.mark.parametrize("who", ["member", "other_admin"])
def test_only_the_organisation_s_admins_and_staff_revoke_or_resend(db, who, staff_user):
    organisation = OrganisationFactory()
    invitation = services.invitation_create(organisation=organisation, email="a@example.org", actor=staff_user)
    token = invitation.token
    actor = partner_user(organisation) if who == "member" else _admin_of(OrganisationFactory())

    with pytest.raises(PermissionDenied):
        services.invitation_revoke(invitation=invitation, actor=actor)
    with pytest.raises(PermissionDenied):
        services.invitation_resend(invitation=invitation, actor=actor)
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and invitation.token == token
    services.invitation_revoke(invitation=invitation, actor=staff_user)
