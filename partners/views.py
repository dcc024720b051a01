"""The partner portal (`/portal/`): a partner organisation's EOIs, MoUs and commitments, the EOI form and workflow,
attachments, invitations, and the PDPO collection statement.

Every row comes through `restrict(user, action)` and, in the portal, the user's own organisation: anything else
answers 404. Every write goes through `partners.services`; their errors are put back on the forms.
"""

from functools import partial, wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.roles import PARTNER, STAFF, has_role, role_required
from core.services import ConflictError
from planning.models import Phase

from . import services, workflow
from .forms import (
    EOI_FIELDS,
    AttachmentForm,
    EOIForm,
    InvitationAcceptForm,
    InvitationForm,
    TransitionForm,
    add_service_errors,
)
from .models import Attachment, Commitment, ExpressionOfInterest, Invitation, Membership, MoU
from .querysets import organisation_id_of
from .uploads import clean_name, download_name

EOI = ExpressionOfInterest
PLACE_FIELDS = ("preferred_phase", "preferred_parcel")


def partner_view(view=None, *, organisation_required: bool = True):
    """Partner role required (else 403). The view gets `request.membership` (with its organisation).

    A partner not yet linked to an organisation is told so with a 403, except by a view that takes
    `organisation_required=False` (the portal's home page), which gets `request.membership = None`.
    """
    if view is None:
        return partial(partner_view, organisation_required=organisation_required)

    @role_required(PARTNER)
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        membership = Membership.objects.select_related("organisation").filter(user=request.user).first()
        if membership is None and organisation_required:
            return render(
                request, "partners/no_organisation.html", {"title": gettext_lazy("Partner portal")}, status=403
            )
        request.membership = membership
        return view(request, *args, **kwargs)

    return wrapper


def _own(queryset, request, action: str = "view"):
    """Rows of the signed-in partner's organisation that `restrict` lets the user reach for `action`."""
    return queryset.restrict(request.user, action).of_organisation(request.membership.organisation_id)


def _eois(request, action: str = "view"):
    return _own(EOI.objects, request, action)


# --- dashboard --------------------------------------------------------------------------------------------------


@partner_view(organisation_required=False)
def portal(request):
    """The organisation's EOIs, MoUs and commitments; a constant number of queries whatever their number."""
    context = {"title": gettext_lazy("Partner portal")}
    context["phases"] = Phase.objects.restrict(request.user).select_related("campus").with_totals()
    membership = request.membership
    if membership is None:
        context["no_organisation"] = True
        return render(request, "partners/portal.html", context)
    context.update(
        organisation=membership.organisation,
        is_organisation_admin=membership.role == Membership.Role.ADMIN,
        eois=_eois(request).select_related(
            "facility_type", "preferred_phase", "preferred_parcel", "preferred_parcel__phase"
        ),
        mous=_own(MoU.objects, request),
        commitments=_own(Commitment.objects, request).select_related("parcel", "stage", "facility"),
        members=_members(membership.organisation),
    )
    return render(request, "partners/portal.html", context)


# --- the EOI form -----------------------------------------------------------------------------------------------


def _validate_url(eoi: EOI | None) -> str:
    url = reverse("partners:eoi-validate")
    return f"{url}?eoi={eoi.pk}" if eoi is not None else url


def _version_of(request) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


def _save_eoi(request, form: EOIForm, eoi: EOI | None, *, submit: bool = False) -> EOI:
    """Create or update the EOI from the valid form through the services (and submit it), in one transaction.

    The services' errors propagate (ValidationError, ConflictError when someone else saved the draft since
    `version`): the caller handles them in one place. Only a form that passed `_check_unsaved` gets here, so a create
    is refused only by a race (a parcel moved meanwhile), and only then can a refusal use up an EOI number.
    """
    values = form.service_values()
    with transaction.atomic():
        if eoi is None:
            saved = services.eoi_create(actor=request.user, organisation=request.membership.organisation, **values)
        else:
            saved = services.eoi_update(eoi=eoi, actor=request.user, expected_version=_version_of(request), **values)
        if submit:
            saved = services.eoi_transition(eoi=saved, actor=request.user, transition="submit")
    return saved


def _check_unsaved(form: EOIForm, *, place_required: bool = False, submitting: bool = False) -> None:
    """Put the draft's rules (and a submission's, when `submitting`), run on the form's valid values, on the form,
    saving nothing (`services.eoi_check`: no rolled-back create, which would use up an EOI number)."""
    try:
        services.eoi_check(eoi=form.instance, place_required=place_required, complete=submitting)
    except ValidationError as error:
        add_service_errors(form, error, keep_existing=True)


def _display(eoi: EOI, name: str) -> str:
    value = getattr(eoi, name)
    if value in (None, ""):
        return "—"
    if name == "language":
        return eoi.get_language_display()
    return str(formats.localize(value)) if not hasattr(value, "pk") else str(value)


def _conflict_changes(form: EOIForm, current: EOI) -> list[dict]:
    """The fields where the saved draft now differs from what the user sent (to show next to the conflict)."""
    changes = []
    for name in EOI_FIELDS:
        mine = form.cleaned_data.get(name)
        theirs = getattr(current, name)
        if (mine or None) != (theirs or None):
            changes.append({"label": form.fields[name].label, "value": _display(current, name)})
    return changes


def _eoi_form_page(request, form: EOIForm, eoi: EOI | None, *, version=None, conflict=None, status=200):
    facility_type = form.chosen_facility_type()
    context = {
        "title": _("Edit draft EOI %(reference)s") % {"reference": eoi.reference}
        if eoi
        else _("New expression of interest"),
        "form": form,
        "eoi": eoi,
        "version": version if version is not None else (eoi.version if eoi else ""),
        "capacity_unit": facility_type.capacity_unit if facility_type else "",
        "conflict": conflict,
    }
    return render(request, "partners/eoi_form.html", context, status=status)


def _eoi_form_view(request, eoi: EOI | None):
    if request.method != "POST":
        form = EOIForm(instance=eoi, user=request.user, validate_url=_validate_url(eoi))
        return _eoi_form_page(request, form, eoi)
    submit = request.POST.get("action") == "submit"
    form = EOIForm(request.POST, instance=eoi, user=request.user, validate_url=_validate_url(eoi))
    form.is_valid()
    # The draft's rules (and a submission's) on the values that are valid, before anything is saved: one round trip
    # shows every error, and a create the services would refuse never starts (it would use up an EOI number).
    _check_unsaved(form, submitting=submit)
    if form.errors:
        return _eoi_form_page(request, form, eoi, version=request.POST.get("version", ""))
    try:
        saved = _save_eoi(request, form, eoi, submit=submit)
    except ValidationError as error:
        add_service_errors(form, error)
        return _eoi_form_page(request, form, eoi, version=request.POST.get("version", ""))
    except ConflictError as conflict:
        current = EOI.objects.get(pk=eoi.pk)
        # The user's values stay in the form; the next save is based on the version they have now been shown.
        details = {"message": str(conflict), "changes": _conflict_changes(form, current)}
        return _eoi_form_page(request, form, eoi, version=current.version, conflict=details, status=409)
    except EOI.DoesNotExist:  # deleted by a colleague meanwhile
        raise Http404 from None
    if submit:
        messages.success(request, _("Expression of interest %(reference)s submitted.") % {"reference": saved.reference})
    else:
        messages.success(request, _("Draft %(reference)s saved.") % {"reference": saved.reference})
    return redirect("partners:eoi-detail", pk=saved.pk)


@partner_view
@require_http_methods(["GET", "POST"])
def eoi_create(request):
    return _eoi_form_view(request, None)


@partner_view
@require_http_methods(["GET", "POST"])
def eoi_edit(request, pk: int):
    eoi = get_object_or_404(_eois(request, "change"), pk=pk)
    if not eoi.is_editable:
        messages.info(
            request,
            _("Only a draft can be changed; this EOI is %(status)s.") % {"status": eoi.get_status_display()},
        )
        return redirect("partners:eoi-detail", pk=eoi.pk)
    return _eoi_form_view(request, eoi)


@partner_view
@require_POST
def eoi_validate(request):
    """htmx: check the EOI form as it is filled in, with the form's and the services' rules, saving nothing.

    Answers out-of-band fragments: the error text of each field worth reporting (the one that changed, and every
    field with a value; an empty field the user has not reached yet is left alone), the form's own errors, the
    capacity unit of the chosen facility type and, when the phase changed, the parcel list of that phase.
    """
    eoi = None
    if "eoi" in request.GET:
        try:
            pk = int(request.GET["eoi"])
        except ValueError:
            raise Http404 from None
        eoi = get_object_or_404(_eois(request, "change"), pk=pk)
    form = EOIForm(request.POST, instance=eoi, user=request.user)
    form.is_valid()
    conflict = None
    trigger = request.headers.get("HX-Trigger-Name", "")
    # Leaving both place fields empty is checked as it happens, not only at submit.
    place_touched = trigger in PLACE_FIELDS
    # The form has run the model's checks; these are the draft's rules.
    _check_unsaved(form, place_required=place_touched)
    if eoi is not None and not eoi.is_editable:
        form.add_error(
            None, _("Only a draft can be changed; this EOI is %(status)s.") % {"status": eoi.get_status_display()}
        )
    elif eoi is not None and _version_of(request) not in (None, eoi.version):
        # The save would be refused: say so while the user is still typing.
        conflict = str(ConflictError(current_version=eoi.version, expected_version=_version_of(request)))
    fields = [
        form[name]
        for name in EOI_FIELDS
        if name == trigger or form[name].value() not in (None, "", []) or (place_touched and name in PLACE_FIELDS)
    ]
    facility_type = form.chosen_facility_type()
    context = {
        "form": form,
        "fields": fields,
        "conflict": conflict,
        "capacity_unit": facility_type.capacity_unit if facility_type else "",
    }
    if trigger == "preferred_phase":
        # The parcel list follows the phase (server-rendered options; the CSP allows no inline script).
        context["narrow_parcels"] = True
        context["parcel_options"] = form.parcel_groups
        context["parcel_value"] = str(form["preferred_parcel"].value() or "")
    return render(request, "partners/_eoi_validation.html", context)


# --- one EOI ----------------------------------------------------------------------------------------------------


def _eoi_page(request, eoi: EOI, *, upload_form: AttachmentForm | None = None, status: int = 200):
    context = {
        "title": _("Expression of interest %(reference)s") % {"reference": eoi.reference},
        "eoi": eoi,
        # Status, time and the note to the partner only: never who moved it, never internal review notes.
        "timeline": eoi.transitions.only("from_status", "to_status", "at", "note"),
        "attachments": eoi.attachments.all(),
        "upload_form": upload_form or AttachmentForm(),
        "can_upload": not eoi.is_decided,
    }
    return render(request, "partners/eoi_detail.html", context, status=status)


def _eoi_for_page(request, pk: int, action: str = "view") -> EOI:
    queryset = _eois(request, action).select_related(
        "facility_type", "preferred_phase", "preferred_parcel", "preferred_parcel__phase", "submitted_by"
    )
    return get_object_or_404(queryset, pk=pk)


@partner_view
@require_GET
def eoi_detail(request, pk: int):
    return _eoi_page(request, _eoi_for_page(request, pk))


@partner_view
@require_http_methods(["GET", "POST"])
def eoi_move(request, pk: int, transition: str):
    """Confirm and take one of the partner's steps of the workflow (`partners.workflow`: submit, withdraw).

    A step that is not the partner's answers 404, like a missing page; one that does not apply to the EOI's status
    goes back to the EOI with a message.
    """
    move = workflow.TRANSITIONS.get(transition)
    if move is None or move.side != workflow.Side.PARTNER:
        raise Http404
    eoi = _eoi_for_page(request, pk, "change")
    if eoi.status not in move.sources:
        messages.info(
            request,
            _("This EOI is %(status)s: “%(step)s” does not apply to it.")
            % {"status": eoi.get_status_display(), "step": move.label},
        )
        return redirect("partners:eoi-detail", pk=eoi.pk)
    # An empty POST is still a POST (a step without a note): bind it, so that the step is taken.
    form = TransitionForm(request.POST if request.method == "POST" else None, note_required=move.note_required)
    if request.method == "POST" and form.is_valid():
        try:
            eoi = services.eoi_transition(
                eoi=eoi, actor=request.user, transition=move.name, note=form.cleaned_data["note"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Expression of interest %(reference)s: %(status)s.")
                % {"reference": eoi.reference, "status": eoi.get_status_display()},
            )
            return redirect("partners:eoi-detail", pk=eoi.pk)
    context = {
        "title": _("%(step)s expression of interest %(reference)s?") % {"step": move.label, "reference": eoi.reference},
        "eoi": eoi,
        "move": move,
        # A step to a final status cannot be undone: its button says so.
        "final": move.target in workflow.DECIDED,
        "form": form,
    }
    return render(request, "partners/eoi_move.html", context)


@partner_view
@require_http_methods(["GET", "POST"])
def eoi_delete(request, pk: int):
    eoi = _eoi_for_page(request, pk, "change")
    if not eoi.is_editable:
        messages.info(request, _("Only a draft can be deleted; withdraw a submitted EOI instead."))
        return redirect("partners:eoi-detail", pk=eoi.pk)
    if request.method == "POST":
        try:
            services.eoi_delete(eoi=eoi, actor=request.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect("partners:eoi-detail", pk=eoi.pk)
        messages.success(request, _("Draft %(reference)s deleted.") % {"reference": eoi.reference})
        return redirect("partners:portal")
    title = _("Delete draft %(reference)s?") % {"reference": eoi.reference}
    return render(request, "partners/eoi_delete.html", {"title": title, "eoi": eoi})


# --- attachments ------------------------------------------------------------------------------------------------


@partner_view
@require_POST
def attachment_add(request, pk: int):
    """Post/redirect/get, refused or not: the browser always lands back on the EOI's own page (this URL only takes
    POST), with the outcome as a message there."""
    eoi = _eoi_for_page(request, pk, "change")
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment = services.attachment_add(eoi=eoi, actor=request.user, upload=form.cleaned_data["file"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("File %(name)s attached.") % {"name": attachment.original_name})
            return redirect("partners:eoi-detail", pk=eoi.pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file to attach."))
    else:
        for reason in [*form.errors.get("file", []), *form.non_field_errors()]:
            message = _("%(name)s was not attached: %(reason)s") % {"name": clean_name(upload.name), "reason": reason}
            messages.error(request, message)
    return redirect("partners:eoi-detail", pk=eoi.pk)


@partner_view
@require_POST
def attachment_delete(request, pk: int):
    attachment = get_object_or_404(_own(Attachment.objects, request, "change").select_related("eoi"), pk=pk)
    eoi_pk = attachment.eoi_id
    try:
        services.attachment_delete(attachment=attachment, actor=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("File %(name)s removed.") % {"name": attachment.original_name})
    return redirect("partners:eoi-detail", pk=eoi_pk)


@require_GET
def attachment_download(request, pk: int):
    """The file, for its organisation's partner users and for HKSTP staff (also from the admin); else 404."""
    user = request.user
    if has_role(user, STAFF):
        attachments = Attachment.objects.restrict(user)
    elif has_role(user, PARTNER):
        attachments = Attachment.objects.restrict(user).of_organisation(organisation_id_of(user))
    else:
        raise Http404
    attachment = get_object_or_404(attachments, pk=pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    # Saved under the checked type's extension, never the uploader's: `invoice.html` checked as PDF comes down as
    # `invoice.html.pdf`, so the reader's computer cannot open it as a page.
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=download_name(attachment.original_name, attachment.extension),
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- invitations ------------------------------------------------------------------------------------------------


@partner_view
@require_http_methods(["GET", "POST"])
def invite(request):
    """Organisation admins invite a colleague by e-mail; members get 403."""
    membership = request.membership
    if membership.role != Membership.Role.ADMIN:
        raise PermissionDenied
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                organisation=membership.organisation,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                accept_url_base=request.build_absolute_uri("/")[:-1],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            # The same answer whether or not the address has an account (the e-mail differs, not the page).
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("partners:invite")
    # Not accepted and not revoked: pending ones, and expired ones that can be sent again.
    open_invitations = Invitation.objects.of_organisation(membership.organisation).open()
    context = {
        "title": _("Invite a colleague"),
        "form": form,
        "organisation": membership.organisation,
        "pending": open_invitations,
        "now": timezone.now(),
        "members": _members(membership.organisation),
        "invitation_days": services.INVITATION_DAYS,
    }
    return render(request, "partners/invite.html", context)


def _members(organisation):
    return Membership.objects.of_organisation(organisation).select_related("user").order_by("role", "user__username")


def _organisation_invitation(request, pk: int) -> Invitation:
    """One of the signed-in admin's organisation's invitations (another organisation's answers 404)."""
    if request.membership.role != Membership.Role.ADMIN:
        raise PermissionDenied
    return get_object_or_404(Invitation.objects.of_organisation(request.membership.organisation_id), pk=pk)


@partner_view
@require_POST
def invitation_revoke(request, pk: int):
    invitation = _organisation_invitation(request, pk)
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The invitation to %(email)s is revoked.") % {"email": invitation.email})
    return redirect("partners:invite")


@partner_view
@require_POST
def invitation_resend(request, pk: int):
    invitation = _organisation_invitation(request, pk)
    try:
        services.invitation_resend(
            invitation=invitation, actor=request.user, accept_url_base=request.build_absolute_uri("/")[:-1]
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Invitation sent again to %(email)s.") % {"email": invitation.email})
    return redirect("partners:invite")


def _invalid_context() -> dict:
    return {"title": _("This invitation cannot be used"), "invitation_days": services.INVITATION_DAYS}


def _usable_invitation(token) -> Invitation | None:
    return Invitation.objects.usable().select_related("organisation").filter(token=token).first()


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """The invited person chooses a username and password, and is signed in to the portal."""
    invitation = _usable_invitation(token)
    if invitation is None:
        return render(
            request,
            "partners/invitation_invalid.html",
            _invalid_context(),
            status=404,
        )
    if request.user.is_authenticated:
        context = {"title": _("Accept the invitation"), "invitation": invitation, "signed_in": True}
        return render(request, "partners/invitation_accept.html", context)
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.invitation_accept(
                token=invitation.token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
            )
        except ValidationError as error:
            if not hasattr(error, "error_dict"):  # the invitation went stale meanwhile
                return render(
                    request,
                    "partners/invitation_invalid.html",
                    _invalid_context(),
                    status=404,
                )
            add_service_errors(form, error)
        else:
            login(request, membership.user)
            messages.success(
                request, _("You have joined %(name)s in the partner portal.") % {"name": membership.organisation.name}
            )
            return HttpResponseRedirect(reverse("partners:portal"))
    context = {"title": _("Accept the invitation"), "invitation": invitation, "form": form}
    return render(request, "partners/invitation_accept.html", context)


# --- personal data ----------------------------------------------------------------------------------------------


@login_not_required
@require_GET
def privacy(request):
    """The collection statement under Hong Kong's Personal Data (Privacy) Ordinance (Cap. 486)."""
    return render(request, "partners/privacy.html", {"title": _("Personal information collection statement")})
