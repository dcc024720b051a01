"""Every write to partner data: organisations, people and invitations, MoUs, EOIs and their workflow, commitments.

As in planning: keyword-only functions, one transaction each, `full_clean` plus the domain rules, history rows with
the actor, side effects (e-mail) only after commit. Who may make a workflow move is a domain rule, enforced here
(`PermissionDenied`); which rows a user can reach at all is `restrict(user)`'s job, in the views.
"""

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from innopole.roles import PARTNER, STAFF, has_role
from innopole.services import (
    apply_changes,
    create_record,
    delete_audited,
    lock_for_update,
    save_audited,
    update_record,
)
from planning.services import readiness_mark_stale

from .models import (
    TRANSITIONS,
    Attachment,
    Commitment,
    CommitmentStage,
    EOITransition,
    ExpressionOfInterest,
    Invitation,
    Membership,
    MoU,
    Organisation,
    ReviewNote,
)
from .querysets import organisation_id_of
from .uploads import check_upload

Status = ExpressionOfInterest.Status
INVITATION_DAYS = 14


def _clean(instance) -> None:
    instance.full_clean()


# --- organisations and people -----------------------------------------------------------------------------------

ORGANISATION_FIELDS = {
    "code",
    "name_en",
    "name_zh",
    "kind",
    "sector",
    "contact_name",
    "contact_email",
    "contact_phone",
}


@transaction.atomic
def organisation_create(*, actor, **fields: Any) -> Organisation:
    return create_record(Organisation(), actor=actor, fields=fields, editable=ORGANISATION_FIELDS)


@transaction.atomic
def organisation_update(
    *, organisation: Organisation, actor, expected_version: int | None = None, **changes: Any
) -> Organisation:
    organisation, _changed = update_record(
        organisation,
        actor=actor,
        changes=changes,
        editable=ORGANISATION_FIELDS,
        expected_version=expected_version,
    )
    return organisation


@transaction.atomic
def membership_set(*, user, organisation: Organisation, role: str = Membership.Role.MEMBER, actor) -> Membership:
    """Make `user` a partner user of `organisation` (a user belongs to one organisation at most)."""
    membership = Membership.objects.filter(user=user).first()
    if membership is not None and membership.organisation_id != organisation.pk:
        raise ValidationError(
            {
                "user": _("%(user)s already belongs to %(organisation)s.")
                % {"user": user, "organisation": membership.organisation}
            }
        )
    if membership is None:
        membership = Membership(user=user, organisation=organisation, role=role)
        _clean(membership)
        save_audited(membership, actor=actor)
    elif membership.role != role:
        membership.role = role
        _clean(membership)
        save_audited(membership, actor=actor, update_fields=["role"])
    user.groups.add(Group.objects.get(name=PARTNER))
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    """Take a person out of their organisation: the account stays, without portal access."""
    membership = lock_for_update(membership)
    user = membership.user
    delete_audited(membership, actor=actor)
    user.groups.remove(Group.objects.get(name=PARTNER))


def _is_organisation_admin(user, organisation: Organisation) -> bool:
    return Membership.objects.filter(user=user, organisation=organisation, role=Membership.Role.ADMIN).exists()


@transaction.atomic
def invitation_create(
    *, organisation: Organisation, email: str, role: str = Membership.Role.MEMBER, actor, accept_url_base: str = ""
) -> Invitation:
    """Invite a colleague by e-mail. Organisation admins invite into their own organisation; staff into any."""
    if not (has_role(actor, STAFF) or _is_organisation_admin(actor, organisation)):
        raise PermissionDenied(_("Only your organisation's admins can invite colleagues."))
    email = email.strip().lower()
    User = get_user_model()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("Someone with this e-mail address already has an account.")})
    if Invitation.objects.filter(
        organisation=organisation, email__iexact=email, accepted_at__isnull=True, expires_at__gt=timezone.now()
    ).exists():
        raise ValidationError({"email": _("An invitation to this address is already waiting to be accepted.")})
    invitation = Invitation(
        organisation=organisation,
        email=email,
        role=role,
        invited_by=actor,
        expires_at=timezone.now() + datetime.timedelta(days=INVITATION_DAYS),
    )
    _clean(invitation)
    invitation.save()
    link = accept_url_base + reverse("partners:invitation-accept", args=[invitation.token])
    subject = _("You are invited to the INNOPOLE partner portal")
    body = _(
        "%(inviter)s invites you to join %(organisation)s in the INNOPOLE partner portal of HKSTP.\n\n"
        "Accept the invitation and choose your sign-in details here (valid for %(days)s days):\n%(link)s\n"
    ) % {
        "inviter": actor.get_full_name() or actor.get_username(),
        "organisation": organisation.name,
        "days": INVITATION_DAYS,
        "link": link,
    }
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return invitation


@transaction.atomic
def invitation_accept(*, token, username: str, password: str, full_name: str = "") -> Membership:
    """Create the invited person's account and membership. The invitation works once, before it expires."""
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= timezone.now():
        raise ValidationError(_("This invitation is not valid any more. Ask your organisation's admin for a new one."))
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This username is taken; choose another.")})
    user = User(username=username, email=invitation.email, first_name=full_name[:150])
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at", "updated"])
    return membership_set(user=user, organisation=invitation.organisation, role=invitation.role, actor=user)


# --- MoUs -------------------------------------------------------------------------------------------------------

MOU_FIELDS = {"organisation", "title", "focus", "status", "signed_date"}


@transaction.atomic
def mou_create(*, actor, **fields: Any) -> MoU:
    return create_record(MoU(), actor=actor, fields=fields, editable=MOU_FIELDS)


@transaction.atomic
def mou_update(*, mou: MoU, actor, expected_version: int | None = None, **changes: Any) -> MoU:
    mou, _changed = update_record(
        mou, actor=actor, changes=changes, editable=MOU_FIELDS, expected_version=expected_version
    )
    return mou


@transaction.atomic
def mou_delete(*, mou: MoU, actor) -> None:
    delete_audited(lock_for_update(mou), actor=actor)


# --- expressions of interest ------------------------------------------------------------------------------------

EOI_FIELDS = {
    "facility_type",
    "preferred_phase",
    "preferred_parcel",
    "gfa_m2",
    "capacity",
    "jobs",
    "investment_hkd_m",
    "wanted_start",
    "description",
    "language",
}


def _check_eoi(eoi: ExpressionOfInterest) -> None:
    """Rules between an EOI's fields (for drafts too)."""
    errors: dict[str, list[str]] = {}
    parcel, phase = eoi.preferred_parcel, eoi.preferred_phase
    if parcel is not None and phase is not None and parcel.phase_id != phase.pk:
        errors["preferred_parcel"] = [
            _("Parcel %(parcel)s is not in %(phase)s.") % {"parcel": parcel.code, "phase": phase.name}
        ]
    if errors:
        raise ValidationError(errors)


def eoi_check(*, eoi: ExpressionOfInterest) -> None:
    """Run a draft's rules on an unsaved EOI, saving nothing (for checking a form as it is filled in).

    A rolled-back `eoi_create` would do as well, but PostgreSQL does not roll back sequences: every check would
    use up an EOI number, and that number is the reference partners see.
    """
    _check_eoi(eoi)


def _check_eoi_complete(eoi: ExpressionOfInterest) -> None:
    """What a submitted EOI must have on top of a draft's rules."""
    errors: dict[str, list[str]] = {}
    if eoi.gfa_m2 is None and eoi.capacity is None:
        message = _("Give the GFA, the capacity (in %(unit)s), or both.") % {"unit": eoi.facility_type.capacity_unit}
        errors["gfa_m2"] = [message]
        errors["capacity"] = [message]
    if eoi.preferred_phase_id is None and eoi.preferred_parcel_id is None:
        errors["preferred_phase"] = [_("Choose a preferred phase or parcel.")]
    if not eoi.description.strip():
        errors["description"] = [_("Describe what you plan to do there.")]
    if eoi.wanted_start is not None and eoi.wanted_start < timezone.localdate():
        errors["wanted_start"] = [_("The wanted start cannot be in the past.")]
    if errors:
        raise ValidationError(errors)


def _check_partner_of(actor, organisation_id: int) -> None:
    if actor is None or has_role(actor, STAFF):
        return
    if organisation_id_of(actor) != organisation_id:
        raise PermissionDenied(_("You can only act for your own organisation."))


@transaction.atomic
def eoi_create(
    *, actor, organisation: Organisation, submitted_by=None, at: datetime.datetime | None = None, **fields: Any
) -> ExpressionOfInterest:
    """A new draft EOI for `organisation`, by `actor`.

    Data loads (no actor) may name the submitter and date the draft (`at`, default now).
    """
    if actor is not None and (submitted_by is not None or at is not None):
        raise PermissionDenied(_("Only the system names the submitter or dates a draft."))
    _check_partner_of(actor, organisation.pk)
    eoi = ExpressionOfInterest(organisation=organisation, submitted_by=actor or submitted_by)
    apply_changes(eoi, fields, editable=EOI_FIELDS)
    _clean(eoi)
    _check_eoi(eoi)
    save_audited(eoi, actor=actor)
    EOITransition.objects.create(eoi=eoi, from_status="", to_status=Status.DRAFT, actor=actor, at=at or timezone.now())
    return eoi


@transaction.atomic
def eoi_update(
    *, eoi: ExpressionOfInterest, actor, expected_version: int | None = None, **changes: Any
) -> ExpressionOfInterest:
    """Change a draft. Once submitted, an EOI's content is fixed (withdraw it and submit a new one)."""
    eoi = lock_for_update(eoi, expected_version=expected_version)
    _check_partner_of(actor, eoi.organisation_id)
    if eoi.status != Status.DRAFT:
        raise ValidationError(
            _("Only a draft can be changed; this EOI is %(status)s.") % {"status": eoi.get_status_display()}
        )
    changed = apply_changes(eoi, changes, editable=EOI_FIELDS)
    if not changed:
        return eoi
    _clean(eoi)
    _check_eoi(eoi)
    return save_audited(eoi, actor=actor, update_fields=changed)


@transaction.atomic
def eoi_delete(*, eoi: ExpressionOfInterest, actor) -> None:
    """Delete a draft (submitted EOIs stay on record)."""
    eoi = lock_for_update(eoi)
    _check_partner_of(actor, eoi.organisation_id)
    if eoi.status != Status.DRAFT:
        raise ValidationError(_("Only a draft can be deleted; withdraw a submitted EOI instead."))
    for attachment in eoi.attachments.all():
        attachment.file.delete(save=False)
    delete_audited(eoi, actor=actor)


def _notify_status(eoi: ExpressionOfInterest, transition: EOITransition) -> None:
    """Tell the submitter, in the EOI's language, that its status changed (after commit)."""
    recipient = eoi.submitted_by.email if eoi.submitted_by else ""
    if not recipient:
        return
    with translation.override(eoi.language):
        subject = _("Your expression of interest %(reference)s is now: %(status)s") % {
            "reference": eoi.reference,
            "status": eoi.get_status_display(),
        }
        body = _("The status of your expression of interest %(reference)s changed from %(old)s to %(new)s.") % {
            "reference": eoi.reference,
            "old": Status(transition.from_status).label,
            "new": Status(transition.to_status).label,
        }
        if transition.note:
            body += "\n\n" + transition.note
        body = str(body)
        subject = str(subject)
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient]))


@transaction.atomic
def eoi_transition(
    *, eoi: ExpressionOfInterest, to_status: str, actor, note: str = "", at: datetime.datetime | None = None
) -> ExpressionOfInterest:
    """Move an EOI along the workflow (`partners.models.TRANSITIONS`), recording who, when and the note.

    Refused: a move the workflow does not allow from the current status (ValidationError), and a move the actor's
    side may not make (PermissionDenied: partners submit and withdraw their own EOIs, staff review). `actor=None`
    is the system (data loads), which alone may date the move in the past (`at`; default now).
    """
    if at is not None and actor is not None:
        raise PermissionDenied(_("Only the system dates a status change."))
    at = at or timezone.now()
    eoi = lock_for_update(eoi)
    current = eoi.status
    allowed = TRANSITIONS.get(current, {})
    if to_status not in allowed:
        choices = ", ".join(str(Status(s).label) for s in allowed) or _("none: the decision is final")
        raise ValidationError(
            {
                "status": _("An EOI that is %(current)s cannot become %(target)s (possible: %(choices)s).")
                % {
                    "current": Status(current).label,
                    "target": Status(to_status).label if to_status in Status.values else to_status,
                    "choices": choices,
                }
            }
        )
    side = allowed[to_status]
    if actor is not None:
        if side == "staff" and not has_role(actor, STAFF):
            raise PermissionDenied(
                _("Only HKSTP staff can move an EOI to %(target)s.") % {"target": Status(to_status).label}
            )
        if side == "partner" and not has_role(actor, STAFF):
            _check_partner_of(actor, eoi.organisation_id)
    if to_status == Status.SUBMITTED:
        _check_eoi_complete(eoi)
        eoi.submitted_at = at
        if eoi.submitted_by_id is None and actor is not None and not has_role(actor, STAFF):
            eoi.submitted_by = actor
    eoi.status = to_status
    _clean(eoi)
    save_audited(eoi, actor=actor, update_fields=["status", "submitted_at", "submitted_by"], reason=note[:100])
    transition = EOITransition.objects.create(
        eoi=eoi, from_status=current, to_status=to_status, actor=actor, at=at, note=note
    )
    readiness_mark_stale(phase_ids=[_phase_of(eoi)])
    if side == "staff" and actor is not None:
        _notify_status(eoi, transition)
    return eoi


def _phase_of(eoi: ExpressionOfInterest) -> int | None:
    """The phase whose demand an EOI counts in: its parcel's, else the phase it names."""
    return eoi.preferred_parcel.phase_id if eoi.preferred_parcel_id else eoi.preferred_phase_id


def eoi_submit(*, eoi: ExpressionOfInterest, actor, note: str = "") -> ExpressionOfInterest:
    return eoi_transition(eoi=eoi, to_status=Status.SUBMITTED, actor=actor, note=note)


def eoi_withdraw(*, eoi: ExpressionOfInterest, actor, note: str = "") -> ExpressionOfInterest:
    return eoi_transition(eoi=eoi, to_status=Status.WITHDRAWN, actor=actor, note=note)


@transaction.atomic
def review_note_add(*, eoi: ExpressionOfInterest, actor, text: str) -> ReviewNote:
    """An internal reviewer note (staff only; never shown to the partner)."""
    if actor is not None and not has_role(actor, STAFF):
        raise PermissionDenied(_("Only HKSTP staff can write review notes."))
    note = ReviewNote(eoi=eoi, author=actor, text=text.strip())
    _clean(note)
    return save_audited(note, actor=actor)


# --- attachments ------------------------------------------------------------------------------------------------


@transaction.atomic
def attachment_add(*, eoi: ExpressionOfInterest, actor, upload) -> Attachment:
    """Attach a file to an EOI that is not yet decided, after checking its content (`partners.uploads`)."""
    eoi = lock_for_update(eoi)
    _check_partner_of(actor, eoi.organisation_id)
    if eoi.is_decided:
        raise ValidationError(
            _("Files cannot be added to an EOI that is %(status)s.") % {"status": eoi.get_status_display()}
        )
    try:
        checked = check_upload(upload)
    except ValidationError as error:
        raise ValidationError({"file": error.messages}) from None
    attachment = Attachment(
        eoi=eoi,
        original_name=checked.original_name,
        content_type=checked.content_type,
        extension=checked.extension,
        size_bytes=checked.size_bytes,
        sha256=checked.sha256,
        uploaded_by=actor,
    )
    attachment.file.save("upload", upload, save=False)
    save_audited(attachment, actor=actor)
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: Attachment, actor) -> None:
    attachment = lock_for_update(attachment)
    _check_partner_of(actor, attachment.eoi.organisation_id)
    if attachment.eoi.status != Status.DRAFT and not has_role(actor, STAFF):
        raise ValidationError(_("Files of a submitted EOI stay on record."))
    stored = attachment.file.name
    storage = attachment.file.storage
    delete_audited(attachment, actor=actor)
    transaction.on_commit(lambda: storage.delete(stored))


# --- commitments ------------------------------------------------------------------------------------------------

COMMITMENT_FIELDS = {
    "organisation",
    "parcel",
    "facility",
    "kind",
    "stage",
    "gfa_m2",
    "capacity",
    "amount_hkd_m",
    "date",
    "source_eoi",
}


def _check_commitment(commitment: Commitment) -> None:
    if commitment.facility is not None and commitment.facility.parcel_id != commitment.parcel_id:
        raise ValidationError(
            {"facility": _("This facility is not on parcel %(code)s.") % {"code": commitment.parcel.code}}
        )
    if commitment.kind == Commitment.Kind.OCCUPANCY and not commitment.gfa_m2:
        raise ValidationError({"gfa_m2": _("An occupancy commitment needs the GFA it takes.")})
    if commitment.kind == Commitment.Kind.CAPITAL and not commitment.amount_hkd_m:
        raise ValidationError({"amount_hkd_m": _("A capital commitment needs its amount.")})


@transaction.atomic
def commitment_create(*, actor, **fields: Any) -> Commitment:
    commitment = create_record(
        Commitment(), actor=actor, fields=fields, editable=COMMITMENT_FIELDS, check=_check_commitment
    )
    readiness_mark_stale(phase_ids=[commitment.parcel.phase_id])
    return commitment


@transaction.atomic
def commitment_update(
    *, commitment: Commitment, actor, expected_version: int | None = None, **changes: Any
) -> Commitment:
    commitment = lock_for_update(commitment, expected_version=expected_version)
    old_phase_id = commitment.parcel.phase_id
    changed = apply_changes(commitment, changes, editable=COMMITMENT_FIELDS)
    if not changed:
        return commitment
    _clean(commitment)
    _check_commitment(commitment)
    save_audited(commitment, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=[old_phase_id, commitment.parcel.phase_id])
    return commitment


@transaction.atomic
def commitment_delete(*, commitment: Commitment, actor) -> None:
    commitment = lock_for_update(commitment)
    delete_audited(commitment, actor=actor)
    readiness_mark_stale(phase_ids=[commitment.parcel.phase_id])


@transaction.atomic
def commitment_from_eoi(*, eoi: ExpressionOfInterest, actor, stage_code: str = "eoi") -> Commitment:
    """Turn an accepted EOI into an occupancy commitment on the EOI rung of the ladder (staff)."""
    if actor is not None and not has_role(actor, STAFF):
        raise PermissionDenied(_("Only HKSTP staff can record commitments."))
    eoi = lock_for_update(eoi)
    if eoi.status != Status.ACCEPTED:
        raise ValidationError(
            _("Only an accepted EOI becomes a commitment; this one is %(status)s.")
            % {"status": eoi.get_status_display()}
        )
    if Commitment.objects.filter(source_eoi=eoi).exists():
        raise ValidationError(_("This EOI already has its commitment."))
    parcel = eoi.preferred_parcel
    if parcel is None:
        raise ValidationError(_("Choose the EOI's parcel first: a commitment is made on a parcel."))
    facility = parcel.facilities.filter(facility_type=eoi.facility_type).order_by("pk").first()
    return commitment_create(
        actor=actor,
        organisation=eoi.organisation,
        parcel=parcel,
        facility=facility,
        kind=Commitment.Kind.OCCUPANCY,
        stage=CommitmentStage.objects.get(code=stage_code),
        gfa_m2=eoi.gfa_m2 or Decimal(0),
        capacity=eoi.capacity,
        amount_hkd_m=eoi.investment_hkd_m or Decimal(0),
        date=timezone.localdate(),
        source_eoi=eoi,
    )


STAGE_FIELDS = {"name_en", "name_zh", "probability"}


@transaction.atomic
def commitment_stage_update(
    *, stage: CommitmentStage, actor, expected_version: int | None = None, **changes: Any
) -> CommitmentStage:
    stage, changed = update_record(
        stage, actor=actor, changes=changes, editable=STAGE_FIELDS, expected_version=expected_version
    )
    if "probability" in changed:
        readiness_mark_stale(phase_ids=stage.commitments.values_list("parcel__phase_id", flat=True).distinct())
    return stage
