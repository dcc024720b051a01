"""Every write to partner data: organisations, people and invitations, MoUs, EOIs and their workflow, commitments.

One idiom, written out in each service (Zulip style): lock the row (`lock_for_update`), `apply_changes`,
`full_clean` (which also checks the model's constraints), the domain rules, `save_audited`/`delete_audited` with the
actor, `readiness_mark_stale`, and side effects (e-mail) with `transaction.on_commit`. Keyword-only, one transaction
each. Who may make a workflow move is a domain rule, enforced here (`PermissionDenied`); which rows a user can reach
at all is `restrict(user)`'s job, in the views. The EOI workflow itself is the table in `partners.workflow`.
"""

import datetime
import re
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Sum
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.accounts import username_check_available, username_clean
from core.roles import EXECUTIVE, PARTNER, PLANNER, STAFF, has_role
from core.services import apply_changes, delete_audited, lock_for_update, save_audited
from planning.services import readiness_mark_stale

from . import workflow
from .models import (
    Attachment,
    Commitment,
    CommitmentKind,
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

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User

Status = ExpressionOfInterest.Status
INVITATION_DAYS = 14
HKSTP_ROLES = (STAFF, PLANNER, EXECUTIVE)
# The rung of the commitment ladder an accepted EOI starts on (`CommitmentStage.code`, seeded by migration 0001).
EOI_STAGE_CODE = "eoi"


# --- organisations and people -----------------------------------------------------------------------------------

ORGANISATION_FIELDS = (
    "code",
    "name_en",
    "name_zh",
    "kind",
    "sector",
    "contact_name",
    "contact_email",
    "contact_phone",
)


@transaction.atomic
def organisation_create(*, actor: "User | None", **fields: Any) -> Organisation:
    organisation = Organisation()
    apply_changes(organisation, fields, editable=ORGANISATION_FIELDS)
    organisation.full_clean()
    return save_audited(organisation, actor=actor)


@transaction.atomic
def organisation_update(
    *, organisation: Organisation, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> Organisation:
    organisation = lock_for_update(organisation, expected_version=expected_version)
    changed = apply_changes(organisation, changes, editable=ORGANISATION_FIELDS)
    if changed:
        organisation.full_clean()
        save_audited(organisation, actor=actor, update_fields=changed)
    return organisation


def is_hkstp_account(user) -> bool:
    """Staff, planner and executive accounts (and any admin-site account) are HKSTP's own: never partner users."""
    return bool(user.is_staff or user.is_superuser or has_role(user, *HKSTP_ROLES))


@transaction.atomic
def membership_set(
    *, user, organisation: Organisation, role: str = Membership.Role.MEMBER, actor: "User | None"
) -> Membership:
    """Make `user` a partner user of `organisation` (a user belongs to one organisation at most).

    HKSTP accounts are refused: a partner membership would put an account that sees every organisation's data in
    one organisation's portal, and its actions there would count as that organisation's.
    """
    if is_hkstp_account(user):
        raise ValidationError(
            {
                "user": _(
                    "%(user)s is an HKSTP account (staff, planner or executive) and cannot join a partner organisation."
                )
                % {"user": user}
            }
        )
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
        membership.full_clean()
        save_audited(membership, actor=actor)
    elif membership.role != role:
        membership.role = role
        membership.full_clean()
        save_audited(membership, actor=actor, update_fields=["role"])
    user.groups.add(Group.objects.get(name=PARTNER))
    return membership


@transaction.atomic
def membership_role_update(*, membership: Membership, actor: "User | None", role: str) -> Membership:
    """Change a portal user's role in their organisation (member or organisation admin); the person and the
    organisation stay. HKSTP staff, or an admin of that organisation, may do it."""
    membership = lock_for_update(membership)
    if actor is not None and not (has_role(actor, STAFF) or _is_organisation_admin(actor, membership.organisation_id)):
        raise PermissionDenied(_("Only HKSTP staff and the organisation's admins can change a member's role."))
    changed = apply_changes(membership, {"role": role}, editable=("role",))
    if changed:
        membership.full_clean()
        save_audited(membership, actor=actor, update_fields=changed)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: "User | None") -> None:
    """Take a person out of their organisation: the account stays, without portal access."""
    membership = lock_for_update(membership)
    user = membership.user
    delete_audited(membership, actor=actor)
    user.groups.remove(Group.objects.get(name=PARTNER))


def _is_organisation_admin(user, organisation_id: int) -> bool:
    return Membership.objects.filter(user=user, organisation_id=organisation_id, role=Membership.Role.ADMIN).exists()


def _check_may_invite(actor: "User | None", organisation_id: int) -> None:
    if not (has_role(actor, STAFF) or _is_organisation_admin(actor, organisation_id)):
        raise PermissionDenied(_("Only your organisation's admins can invite colleagues."))


def _check_invitation_rate(organisation: Organisation, actor: "User | None") -> None:
    """At most `PARTNER_INVITATIONS_PER_HOUR` invitation e-mails (new or resent) per organisation and hour.

    Staff are not limited. Every e-mail stamps a new `sent_at` in the invitation's history, so the distinct
    (invitation, sent_at) pairs of the last hour are the e-mails sent; the caller holds the organisation's row lock,
    so two requests cannot both take the last one.
    """
    if has_role(actor, STAFF):
        return
    limit = settings.PARTNER_INVITATIONS_PER_HOUR
    since = timezone.now() - datetime.timedelta(hours=1)
    sent = (
        Invitation.history.filter(organisation_id=organisation.pk, sent_at__gte=since)
        .values("id", "sent_at")
        .distinct()
        .count()
    )
    if sent >= limit:
        raise ValidationError(
            ngettext(
                "Your organisation can send %(limit)d invitation an hour and has sent it. Try again in an hour.",
                "Your organisation can send %(limit)d invitations an hour and has sent them all. Try again in an hour.",
                limit,
            )
            % {"limit": limit}
        )


# A name fit to quote in an e-mail: words of letters with spaces, hyphens or apostrophes between them. No digits,
# dots, colons, slashes or @, so it can hold neither a link nor an address.
_SAFE_NAME = re.compile(r"[^\W\d_]+(?:[ '’-][^\W\d_]+)*")
_SAFE_USERNAME = re.compile(r"[^\W_]+(?:[_-][^\W_]+)*")
INVITER_NAME_MAX = 40


def _inviter_label(actor: "User | None") -> str:
    """Who sent an invitation, as the e-mail names them: never free text that could read as a message or a link."""
    if is_hkstp_account(actor):
        return _("HKSTP staff")
    name = actor.get_full_name().strip()
    if len(name) <= INVITER_NAME_MAX and _SAFE_NAME.fullmatch(name):
        return name
    username = actor.get_username()
    if len(username) <= INVITER_NAME_MAX and _SAFE_USERNAME.fullmatch(username):
        return username
    return _("a colleague")


def _send_invitation(invitation: Invitation, *, actor: "User | None", accept_url_base: str) -> None:
    """E-mail the invitation (after commit). The lead is the organisation's name, which only staff set.

    An address that already has an account gets no link, only a note saying so: the inviter is told "sent" either
    way, so the form cannot be used to find out who has an account.
    """
    organisation = invitation.organisation
    User = get_user_model()
    values = {"organisation": organisation.name, "inviter": _inviter_label(actor), "days": INVITATION_DAYS}
    if User.objects.filter(email__iexact=invitation.email).exists():
        subject = _("About an invitation to the INNOPOLE partner portal")
        body = (
            _(
                "Someone asked to add this e-mail address to %(organisation)s in the INNOPOLE partner portal of HKSTP, "
                "but the address already belongs to an account, so there is nothing to accept.\n\n"
                "Sign in with the account you have. If it should belong to %(organisation)s, ask HKSTP staff to add "
                "the membership.\n\nSent by: %(inviter)s\n\nIf you did not expect this e-mail, you can ignore it.\n"
            )
            % values
        )
    else:
        values["link"] = accept_url_base + reverse("partners:invitation-accept", args=[invitation.token])
        subject = _("You are invited to the INNOPOLE partner portal")
        body = (
            _(
                "You are invited to join %(organisation)s in the INNOPOLE partner portal of HKSTP.\n\n"
                "Accept the invitation and choose your sign-in details here (valid for %(days)s days):\n%(link)s\n\n"
                "Sent by: %(inviter)s\n\nIf you did not expect this invitation, you can ignore it.\n"
            )
            % values
        )
    subject, body, recipient = str(subject), str(body), invitation.email
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient]))


def _check_no_pending_duplicate(organisation_id: int, email: str, *, exclude_pk: int | None = None) -> None:
    pending = Invitation.objects.of_organisation(organisation_id).usable().filter(email__iexact=email)
    if exclude_pk is not None:
        pending = pending.exclude(pk=exclude_pk)
    if pending.exists():
        raise ValidationError({"email": _("An invitation to this address is already waiting to be accepted.")})


@transaction.atomic
def invitation_create(
    *,
    organisation: Organisation,
    email: str,
    role: str = Membership.Role.MEMBER,
    actor: "User | None",
    accept_url_base: str = "",
) -> Invitation:
    """Invite a colleague by e-mail. Organisation admins invite into their own organisation; staff into any.

    The answer is the same whether or not the address has an account (see `_send_invitation`); organisation admins
    are rate-limited (`_check_invitation_rate`).
    """
    _check_may_invite(actor, organisation.pk)
    organisation = lock_for_update(organisation)
    email = email.strip().lower()
    _check_no_pending_duplicate(organisation.pk, email)
    _check_invitation_rate(organisation, actor)
    now = timezone.now()
    invitation = Invitation(
        organisation=organisation,
        email=email,
        role=role,
        invited_by=actor,
        expires_at=now + datetime.timedelta(days=INVITATION_DAYS),
        sent_at=now,
    )
    invitation.full_clean()
    save_audited(invitation, actor=actor)
    _send_invitation(invitation, actor=actor, accept_url_base=accept_url_base)
    return invitation


def _check_open(invitation: Invitation) -> None:
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation was accepted already."))
    if invitation.revoked_at is not None:
        raise ValidationError(_("This invitation was revoked."))


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: "User | None") -> Invitation:
    """Cancel an invitation that has not been accepted: its link stops working at once."""
    _check_may_invite(actor, invitation.organisation_id)
    invitation = lock_for_update(invitation)
    _check_open(invitation)
    invitation.revoked_at = timezone.now()
    return save_audited(invitation, actor=actor, update_fields=["revoked_at"])


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: "User | None", accept_url_base: str = "") -> Invitation:
    """Send a pending or expired invitation again, with a new link valid for `INVITATION_DAYS` (the old link dies).

    Counts against the organisation's hourly limit like a new invitation.
    """
    _check_may_invite(actor, invitation.organisation_id)
    organisation = lock_for_update(invitation.organisation)
    invitation = lock_for_update(invitation)
    _check_open(invitation)
    _check_no_pending_duplicate(organisation.pk, invitation.email, exclude_pk=invitation.pk)
    _check_invitation_rate(organisation, actor)
    now = timezone.now()
    invitation.token = uuid.uuid4()
    invitation.expires_at = now + datetime.timedelta(days=INVITATION_DAYS)
    invitation.sent_at = now
    save_audited(invitation, actor=actor, update_fields=["token", "expires_at", "sent_at"])
    _send_invitation(invitation, actor=actor, accept_url_base=accept_url_base)
    return invitation


@transaction.atomic
def invitation_accept(*, token, username: str, password: str, full_name: str = "") -> Membership:
    """Create the invited person's account and membership. The invitation works once, before it expires."""
    invitation = Invitation.objects.usable().select_for_update().filter(token=token).first()
    if invitation is None:
        raise ValidationError(_("This invitation is not valid any more. Ask your organisation's admin for a new one."))
    User = get_user_model()
    if User.objects.filter(email__iexact=invitation.email).exists():
        # One account per address; an existing account (an HKSTP one included) joins only through staff.
        raise ValidationError(
            _("This e-mail address already has an account. Sign in with it, and ask HKSTP staff for the membership.")
        )
    # `Ｓｔａｆｆ` is stored as `Staff`: normalise first, then refuse what reads the same as an account (security L3).
    username = username_clean(username)
    username_check_available(username)
    user = User(username=username, email=invitation.email, first_name=full_name[:150])
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    invitation.accepted_at = timezone.now()
    save_audited(invitation, actor=user, update_fields=["accepted_at"])
    return membership_set(user=user, organisation=invitation.organisation, role=invitation.role, actor=user)


# --- MoUs -------------------------------------------------------------------------------------------------------

MOU_FIELDS = (
    "organisation",
    "title",
    "focus",
    "status",
    "signed_date",
)


@transaction.atomic
def mou_create(*, actor: "User | None", **fields: Any) -> MoU:
    mou = MoU()
    apply_changes(mou, fields, editable=MOU_FIELDS)
    mou.full_clean()
    return save_audited(mou, actor=actor)


@transaction.atomic
def mou_update(*, mou: MoU, actor: "User | None", expected_version: int | None = None, **changes: Any) -> MoU:
    mou = lock_for_update(mou, expected_version=expected_version)
    changed = apply_changes(mou, changes, editable=MOU_FIELDS)
    if changed:
        mou.full_clean()
        save_audited(mou, actor=actor, update_fields=changed)
    return mou


@transaction.atomic
def mou_delete(*, mou: MoU, actor: "User | None") -> None:
    delete_audited(lock_for_update(mou), actor=actor)


# --- expressions of interest ------------------------------------------------------------------------------------

EOI_FIELDS = (
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
)


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


def eoi_check(*, eoi: ExpressionOfInterest, place_required: bool = False, complete: bool = False) -> None:
    """Run a draft's rules on an unsaved EOI, saving nothing (for checking a form as it is filled in).

    `place_required` adds the submit rule "a phase or a parcel", for a form whose user has just left both empty;
    `complete` adds every rule of a submission (for a form posted to submit). A rolled-back `eoi_create` would do as
    well, but PostgreSQL does not roll back sequences: every check would use up an EOI number, and that number is
    the reference partners see.
    """
    errors: dict[str, list[str]] = {}
    checks = [_check_eoi, *([_check_eoi_complete] if complete else [])]
    for check in checks:
        try:
            check(eoi)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field, []).extend(m for m in messages if m not in errors.get(field, []))
    if place_required and _lacks_place(eoi) and _place_message() not in errors.get("preferred_phase", []):
        errors.setdefault("preferred_phase", []).append(_place_message())
    if errors:
        raise ValidationError(errors)


def _lacks_place(eoi: ExpressionOfInterest) -> bool:
    return eoi.preferred_phase_id is None and eoi.preferred_parcel_id is None


def _place_message() -> str:
    return _("Choose a preferred phase or parcel.")


def _check_eoi_complete(eoi: ExpressionOfInterest) -> None:
    """What a submitted EOI must have on top of a draft's rules."""
    errors: dict[str, list[str]] = {}
    if eoi.gfa_m2 is None and eoi.capacity is None:
        # An unsaved EOI checked from a form may have no valid facility type yet (`eoi_check`).
        unit = eoi.facility_type.capacity_unit if eoi.facility_type_id else _("its unit")
        message = _("Give the GFA, the capacity (in %(unit)s), or both.") % {"unit": unit}
        errors["gfa_m2"] = [message]
        errors["capacity"] = [message]
    if _lacks_place(eoi):
        errors["preferred_phase"] = [_place_message()]
    if not eoi.description.strip():
        errors["description"] = [_("Describe what you plan to do there.")]
    if eoi.wanted_start is not None and eoi.wanted_start < timezone.localdate():
        errors["wanted_start"] = [_("The wanted start cannot be in the past.")]
    if errors:
        raise ValidationError(errors)


def _check_partner_of(actor: "User | None", organisation_id: int) -> None:
    if actor is None or has_role(actor, STAFF):
        return
    if organisation_id_of(actor) != organisation_id:
        raise PermissionDenied(_("You can only act for your own organisation."))


@transaction.atomic
def eoi_create(
    *,
    actor: "User | None",
    organisation: Organisation,
    submitted_by=None,
    at: datetime.datetime | None = None,
    **fields: Any,
) -> ExpressionOfInterest:
    """A new draft EOI for `organisation`, by `actor`.

    Data loads (no actor) may name the submitter and date the draft (`at`, default now).
    """
    if actor is not None and (submitted_by is not None or at is not None):
        raise PermissionDenied(_("Only the system names the submitter or dates a draft."))
    _check_partner_of(actor, organisation.pk)
    eoi = ExpressionOfInterest(organisation=organisation, submitted_by=actor or submitted_by)
    apply_changes(eoi, fields, editable=EOI_FIELDS)
    eoi.full_clean()
    _check_eoi(eoi)
    save_audited(eoi, actor=actor)
    EOITransition.objects.create(eoi=eoi, from_status="", to_status=Status.DRAFT, actor=actor, at=at or timezone.now())
    return eoi


@transaction.atomic
def eoi_update(
    *, eoi: ExpressionOfInterest, actor: "User | None", expected_version: int | None = None, **changes: Any
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
    eoi.full_clean()
    _check_eoi(eoi)
    return save_audited(eoi, actor=actor, update_fields=changed)


@transaction.atomic
def eoi_delete(*, eoi: ExpressionOfInterest, actor: "User | None") -> None:
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


def _refused(eoi: ExpressionOfInterest, move: workflow.Transition) -> ValidationError:
    possible = ", ".join(str(row.label) for row in eoi.moves()) or _("none: the decision is final")
    return ValidationError(
        {
            "status": _("An EOI that is %(current)s cannot take the step “%(step)s” (possible steps: %(choices)s).")
            % {"current": eoi.get_status_display(), "step": move.label, "choices": possible}
        }
    )


def _check_side(move: workflow.Transition, *, actor: "User | None", eoi: ExpressionOfInterest) -> None:
    """Each side makes only its own moves: staff review, the EOI's own organisation submits and withdraws."""
    if actor is None:  # the system (data loads)
        return
    is_staff = has_role(actor, STAFF)
    if move.side == workflow.Side.STAFF and not is_staff:
        raise PermissionDenied(_("Only HKSTP staff can take the step “%(step)s”.") % {"step": move.label})
    if move.side == workflow.Side.PARTNER:
        if is_staff:
            raise PermissionDenied(
                _("Only the EOI's own organisation can take the step “%(step)s”.") % {"step": move.label}
            )
        _check_partner_of(actor, eoi.organisation_id)


@transaction.atomic
def eoi_transition(
    *,
    eoi: ExpressionOfInterest,
    actor: "User | None",
    transition: str,
    note: str = "",
    at: datetime.datetime | None = None,
) -> ExpressionOfInterest:
    """Take the workflow step named `transition` (`partners.workflow.WORKFLOW`), recording who, when and the note.

    Refused: a name that is no step, or a step that does not leave the current status (ValidationError on
    `status`, naming the current status), a step of the other side (PermissionDenied: partners submit and withdraw
    their own organisation's EOIs, staff review), a missing note where the step requires one. `actor=None` is the
    system (data loads), which alone may date the move in the past (`at`; default now).
    """
    move = workflow.TRANSITIONS.get(transition)
    if move is None:
        raise ValidationError(
            {"transition": _("There is no step “%(name)s” in the EOI workflow.") % {"name": transition}}
        )
    if at is not None and actor is not None:
        raise PermissionDenied(_("Only the system dates a status change."))
    at = at or timezone.now()
    eoi = lock_for_update(eoi)
    _check_side(move, actor=actor, eoi=eoi)
    current = eoi.status
    if current not in move.sources:
        raise _refused(eoi, move)
    if move.note_required and not note.strip():
        raise ValidationError({"note": _("The step “%(step)s” needs a note to the partner.") % {"step": move.label}})
    changed = ["status"]
    if move.target == Status.SUBMITTED:
        _check_eoi_complete(eoi)
        eoi.submitted_at = at
        changed.append("submitted_at")
        if eoi.submitted_by_id is None and actor is not None:
            eoi.submitted_by = actor
            changed.append("submitted_by")
    eoi.status = move.target
    eoi.full_clean()
    save_audited(eoi, actor=actor, update_fields=changed, reason=note[:100])
    record = EOITransition.objects.create(
        eoi=eoi, from_status=current, to_status=move.target, actor=actor, at=at, note=note
    )
    readiness_mark_stale(phase_ids=[_phase_of(eoi)])
    if move.side == workflow.Side.STAFF and actor is not None:
        _notify_status(eoi, record)
    return eoi


def _phase_of(eoi: ExpressionOfInterest) -> int | None:
    """The phase whose demand an EOI counts in: its parcel's, else the phase it names."""
    return eoi.preferred_parcel.phase_id if eoi.preferred_parcel_id else eoi.preferred_phase_id


@transaction.atomic
def review_note_add(*, eoi: ExpressionOfInterest, actor: "User | None", text: str) -> ReviewNote:
    """An internal reviewer note (staff only; never shown to the partner)."""
    if actor is not None and not has_role(actor, STAFF):
        raise PermissionDenied(_("Only HKSTP staff can write review notes."))
    note = ReviewNote(eoi=eoi, author=actor, text=text.strip())
    note.full_clean()
    return save_audited(note, actor=actor)


# --- attachments ------------------------------------------------------------------------------------------------


def _check_attachment_quota(eoi: ExpressionOfInterest, *, adding_bytes: int) -> None:
    """At most settings.ATTACHMENTS_PER_EOI files and ATTACHMENTS_TOTAL_BYTES_PER_EOI bytes per EOI.

    Called with the EOI row locked, so two uploads at once cannot both squeeze under the cap.
    """
    held = eoi.attachments.aggregate(count=Count("pk"), total=Sum("size_bytes"))
    count, total = held["count"], held["total"] or 0
    if count >= settings.ATTACHMENTS_PER_EOI:
        raise ValidationError(
            {
                "file": ngettext(
                    "This EOI already has %(count)s file, the most it may have. Remove one to add another.",
                    "This EOI already has %(count)s files, the most it may have. Remove one to add another.",
                    count,
                )
                % {"count": count}
            }
        )
    if total + adding_bytes > settings.ATTACHMENTS_TOTAL_BYTES_PER_EOI:
        raise ValidationError(
            {
                "file": _("With this file the EOI's files would total %(total)s; at most %(limit)s is allowed per EOI.")
                % {
                    "total": filesizeformat(total + adding_bytes),
                    "limit": filesizeformat(settings.ATTACHMENTS_TOTAL_BYTES_PER_EOI),
                }
            }
        )


@transaction.atomic
def attachment_add(*, eoi: ExpressionOfInterest, actor: "User | None", upload) -> Attachment:
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
    _check_attachment_quota(eoi, adding_bytes=checked.size_bytes)
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
def attachment_delete(*, attachment: Attachment, actor: "User | None") -> None:
    attachment = lock_for_update(attachment)
    _check_partner_of(actor, attachment.eoi.organisation_id)
    if attachment.eoi.status != Status.DRAFT and not has_role(actor, STAFF):
        raise ValidationError(_("Files of a submitted EOI stay on record."))
    stored = attachment.file.name
    storage = attachment.file.storage
    delete_audited(attachment, actor=actor)
    transaction.on_commit(lambda: storage.delete(stored))


# --- commitments ------------------------------------------------------------------------------------------------

COMMITMENT_FIELDS = (
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
)


def _check_commitment(commitment: Commitment) -> None:
    if commitment.facility is not None and commitment.facility.parcel_id != commitment.parcel_id:
        raise ValidationError(
            {"facility": _("This facility is not on parcel %(code)s.") % {"code": commitment.parcel.code}}
        )
    # "Occupancy needs GFA" and "capital needs an amount" are the model's constraints (checked by `full_clean`).


@transaction.atomic
def commitment_create(*, actor: "User | None", **fields: Any) -> Commitment:
    commitment = Commitment()
    apply_changes(commitment, fields, editable=COMMITMENT_FIELDS)
    commitment.full_clean()
    _check_commitment(commitment)
    save_audited(commitment, actor=actor)
    readiness_mark_stale(phase_ids=[commitment.parcel.phase_id])
    return commitment


@transaction.atomic
def commitment_update(
    *, commitment: Commitment, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> Commitment:
    commitment = lock_for_update(commitment, expected_version=expected_version)
    old_phase_id = commitment.parcel.phase_id
    changed = apply_changes(commitment, changes, editable=COMMITMENT_FIELDS)
    if not changed:
        return commitment
    commitment.full_clean()
    _check_commitment(commitment)
    save_audited(commitment, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=[old_phase_id, commitment.parcel.phase_id])
    return commitment


@transaction.atomic
def commitment_delete(*, commitment: Commitment, actor: "User | None") -> None:
    commitment = lock_for_update(commitment)
    delete_audited(commitment, actor=actor)
    readiness_mark_stale(phase_ids=[commitment.parcel.phase_id])


@transaction.atomic
def commitment_from_eoi(
    *, eoi: ExpressionOfInterest, actor: "User | None", stage_code: str = EOI_STAGE_CODE
) -> Commitment:
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
        kind=CommitmentKind.OCCUPANCY,
        stage=CommitmentStage.objects.get(code=stage_code),
        gfa_m2=eoi.gfa_m2 or Decimal(0),
        capacity=eoi.capacity,
        amount_hkd_m=eoi.investment_hkd_m or Decimal(0),
        date=timezone.localdate(),
        source_eoi=eoi,
    )


STAGE_FIELDS = (
    "name_en",
    "name_zh",
    "probability",
)


@transaction.atomic
def commitment_stage_update(
    *, stage: CommitmentStage, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> CommitmentStage:
    stage = lock_for_update(stage, expected_version=expected_version)
    changed = apply_changes(stage, changes, editable=STAGE_FIELDS)
    if not changed:
        return stage
    stage.full_clean()
    save_audited(stage, actor=actor, update_fields=changed)
    if "probability" in changed:
        readiness_mark_stale(phase_ids=stage.commitments.values_list("parcel__phase_id", flat=True).distinct())
    return stage
