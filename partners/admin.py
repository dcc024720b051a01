"""The admin of partner data for HKSTP staff: every write through `partners.services`, history on every model.

The EOI changelist is the review queue (oldest submission first, "awaiting review" by default). An EOI's content
belongs to the partner and is read-only here; staff act on it with the queue's actions and, on the change page,
with the review fields: a move with a note to the partner, and an internal note.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext, pgettext_lazy
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ServiceAdmin
from core.admin import add_service_errors as add_form_errors
from core.admin_filters import AutocompleteFilter
from core.roles import STAFF, has_role

from . import services, workflow
from .forms import InvitationForm
from .models import (
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
from .querysets import users_who_may_join

Status = ExpressionOfInterest.Status

# The queue's default view: EOIs waiting for an HKSTP decision, and accepted ones still without their commitment.
AWAITING_REVIEW = workflow.AWAITING_STAFF
# Written as "live, but not accepted with a commitment" rather than "awaiting, or accepted with no commitment"
# (a LEFT JOIN to every commitment): the plain `status IN` lets PostgreSQL count the queue for the paginator from
# the partial index `eoi_live`, and the commitments' source EOIs are read once from their unique index. At 100,000
# EOIs (70,000 queued) the count took 25 ms, now about 6 ms.
HAS_COMMITMENT = Q(pk__in=Commitment.objects.filter(source_eoi__isnull=False).values("source_eoi"))
NEEDS_ACTION = Q(status__in=(*AWAITING_REVIEW, Status.ACCEPTED)) & ~(Q(status=Status.ACCEPTED) & HAS_COMMITMENT)


def _reason(error: ValidationError | PermissionDenied) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


class ReadOnlyInline(admin.TabularInline):
    """An inline that shows rows a service wrote; nothing is added, changed or deleted through it."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- organisations ----------------------------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    """Portal users of the organisation, whose roles change through `membership_set`.

    No one is added here: a box for any user id once made an HKSTP account a partner admin. New people come in
    through an invitation ("Invite a person" on the organisation's page).
    """

    model = Membership
    fields = ["user", "role", "created"]
    readonly_fields = ["user", "created"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class InvitationInline(ReadOnlyInline):
    model = Invitation
    fields = ["email", "role", "invited_by", "created", "expires_at", "accepted_at", "revoked_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invited_by")


@admin.register(Organisation)
class OrganisationAdmin(ServiceAdmin):
    list_display = ["code", "name_en", "name_zh", "kind", "sector", "members"]
    list_filter = ["kind", "sector"]
    search_fields = ["code", "name_en", "name_zh", "contact_name", "contact_email"]
    readonly_fields = ["version", "created", "updated"]
    inlines = [MembershipInline, InvitationInline]
    create_service = services.organisation_create
    update_service = services.organisation_update
    service_object_name = "organisation"
    service_fields = services.ORGANISATION_FIELDS
    change_form_template = "admin/partners/organisation/change_form.html"

    def get_urls(self):
        invite = self.admin_site.admin_view(self.invite_view)
        return [
            path("<int:object_id>/invite/", invite, name="partners_organisation_invite"),
            *super().get_urls(),
        ]

    def invite_view(self, request, object_id: int):
        """Staff invite a person into the organisation (its first admin, typically) through `invitation_create`."""
        organisation = self.get_object(request, str(object_id))
        if organisation is None:
            raise Http404
        if not self.has_change_permission(request, organisation):
            raise PermissionDenied
        form = InvitationForm(request.POST or None, initial={"role": Membership.Role.ADMIN})
        if request.method == "POST" and form.is_valid():
            try:
                invitation = services.invitation_create(
                    organisation=organisation,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=request.user,
                    accept_url_base=request.build_absolute_uri("/")[:-1],
                )
            except ValidationError as error:
                add_form_errors(form, error)
            except PermissionDenied as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request, _("Invitation sent to %(email)s.") % {"email": invitation.email}, messages.SUCCESS
                )
                return redirect("admin:partners_organisation_change", organisation.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": organisation,
            "title": _("Invite a person to %(organisation)s") % {"organisation": organisation},
            "form": form,
            "invitation_days": services.INVITATION_DAYS,
        }
        return TemplateResponse(request, "admin/partners/organisation/invite.html", context)

    def get_queryset(self, request):
        # An aggregate drops Meta.ordering (GROUP BY): order again, or the autocomplete's pages are unordered.
        return super().get_queryset(request).annotate(member_count=Count("memberships")).order_by("name_en", "pk")

    @admin.display(description=_("members"), ordering="member_count")
    def members(self, organisation):
        return organisation.member_count

    def has_delete_permission(self, request, obj=None):
        return False  # organisations stay on record with their EOIs and commitments

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not inline_form.instance.pk:
                continue
            membership = services.membership_role_update(
                membership=inline_form.instance, actor=request.user, role=inline_form.cleaned_data["role"]
            )
            formset.changed_objects.append((membership, inline_form.changed_data))


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    """Every portal user with its organisation and role (also on each organisation's page)."""

    list_display = ["user", "email", "organisation", "role", "created"]
    list_filter = ["role", ("organisation", AutocompleteFilter)]
    search_fields = ["user__username", "user__email", "organisation__name_en", "organisation__code"]
    list_select_related = ["user", "organisation"]
    raw_id_fields = ["user"]
    create_service = services.membership_set
    update_service = services.membership_role_update
    delete_service = services.membership_remove
    service_object_name = "membership"

    def get_readonly_fields(self, request, obj=None):
        return ["created", "updated"] if obj is None else ["user", "organisation", "created", "updated"]

    @admin.display(description=_("e-mail"), ordering="user__email")
    def email(self, membership):
        return membership.user.email

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            # The id box accepts only accounts that may join (no HKSTP accounts); `membership_set` checks again.
            kwargs["queryset"] = users_who_may_join()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class InvitationStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("pending", pgettext_lazy("invitation", "Pending")),
            ("accepted", pgettext_lazy("invitation", "Accepted")),
            ("expired", pgettext_lazy("invitation", "Expired")),
            ("revoked", pgettext_lazy("invitation", "Revoked")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.usable()
        if self.value() == "accepted":
            return queryset.filter(accepted_at__isnull=False)
        if self.value() == "expired":
            return queryset.expired()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(Invitation)
class InvitationAdmin(SimpleHistoryAdmin):
    """Invitations are sent from the portal and from an organisation's page (`invitation_create`); here staff see
    them, read-only, and revoke or resend them with the list's actions."""

    list_display = ["email", "organisation", "role", "invited_by", "created", "expires_at", "state"]
    list_filter = [InvitationStateFilter, "role", ("organisation", AutocompleteFilter)]
    search_fields = ["email", "organisation__name_en", "organisation__code"]
    list_select_related = ["organisation", "invited_by"]
    fields = [
        "organisation",
        "email",
        "role",
        "invited_by",
        "created",
        "sent_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke", "resend"]

    @admin.display(description=_("state"))
    def state(self, invitation):
        if invitation.accepted_at:
            return pgettext("invitation", "Accepted")
        if invitation.revoked_at:
            return pgettext("invitation", "Revoked")
        if invitation.expires_at <= timezone.now():
            return pgettext("invitation", "Expired")
        return pgettext("invitation", "Pending")

    def has_manage_permission(self, request) -> bool:
        return has_role(request.user, STAFF)

    def _each(self, request, queryset, service, done_message, **kwargs):
        done = 0
        for invitation in queryset:
            try:
                service(invitation=invitation, actor=request.user, **kwargs)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(
                    request,
                    _("%(invitation)s: %(reason)s") % {"invitation": invitation, "reason": _reason(error)},
                    messages.ERROR,
                )
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done) % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Revoke the selected invitations"), permissions=["manage"])
    def revoke(self, request, queryset):
        self._each(
            request,
            queryset,
            services.invitation_revoke,
            lambda n: ngettext("%(count)d invitation revoked.", "%(count)d invitations revoked.", n),
        )

    @admin.action(description=_("Resend the selected invitations"), permissions=["manage"])
    def resend(self, request, queryset):
        self._each(
            request,
            queryset,
            services.invitation_resend,
            lambda n: ngettext("%(count)d invitation sent again.", "%(count)d invitations sent again.", n),
            accept_url_base=request.build_absolute_uri("/")[:-1],
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- MoUs -------------------------------------------------------------------------------------------------------


@admin.register(MoU)
class MoUAdmin(ServiceAdmin):
    list_display = ["title", "organisation", "focus", "status", "signed_date"]
    list_filter = ["status", "organisation__sector"]
    search_fields = ["title", "focus", "organisation__name_en", "organisation__name_zh", "organisation__code"]
    list_select_related = ["organisation"]
    readonly_fields = ["version", "created", "updated"]
    create_service = services.mou_create
    update_service = services.mou_update
    delete_service = services.mou_delete
    service_object_name = "mou"
    service_fields = services.MOU_FIELDS


# --- the EOI review queue ---------------------------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    """Status, with "needs action" as the default view: awaiting review (submitted, under review, shortlisted, on
    hold), or accepted without its commitment yet (an accepted EOI leaves the queue when its commitment exists)."""

    title = _("status")
    parameter_name = "queue"
    default = "awaiting"

    def lookups(self, request, model_admin):
        return [("awaiting", _("Needs action")), *Status.choices, ("all", _("All"))]

    def value(self):
        return super().value() or self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value == "all":
            return queryset
        if value == "awaiting":
            return queryset.filter(NEEDS_ACTION)
        return queryset.filter(status=value)

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class EOIReviewForm(forms.ModelForm):
    """The review fields of the EOI change page; the EOI's own fields are read-only."""

    transition = forms.ChoiceField(
        label=_("Next step"),
        required=False,
        help_text=_("The submitter is told by e-mail, with the note below."),
    )
    note = forms.CharField(
        label=_("Note to the partner"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Goes with the move: shown to the partner on the timeline and in the e-mail."),
    )
    internal_note = forms.CharField(
        label=_("Internal review note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only HKSTP staff see it; never shown to the partner."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        moves = self.instance.staff_moves if self.instance.pk else []
        self.fields["transition"].choices = [
            ("", _("— keep %(status)s —") % {"status": self.instance.get_status_display()})
        ] + [(move.name, f"{move.label} → {Status(move.target).label}") for move in moves]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("note") and not cleaned.get("transition"):
            self.add_error(
                "note",
                _("A note to the partner goes with a move: choose where to move the EOI, or write an internal note."),
            )
        return cleaned


# Service error keys → the review form's fields.
REVIEW_ERROR_FIELDS = {"status": "transition", "text": "internal_note"}


class EOITransitionInline(ReadOnlyInline):
    model = EOITransition
    fields = ["at", "from_status", "to_status", "actor", "note"]
    verbose_name_plural = _("status timeline")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class ReviewNoteInline(ReadOnlyInline):
    model = ReviewNote
    fields = ["created", "author", "text"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ["download", "content_type", "size_bytes", "uploaded_by", "created"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")

    @admin.display(description=_("file"))
    def download(self, attachment):
        url = reverse("partners:attachment-download", args=[attachment.pk])
        return format_html('<a href="{}">{}</a>', url, attachment.original_name)


def _queue_action(move: workflow.Transition):
    """The review queue's action for one workflow step, named and labelled as in the table."""

    def take_step(modeladmin, request, queryset):
        modeladmin.move_selected(request, queryset, move)

    take_step.__name__ = move.name
    return admin.action(description=move.label, permissions=["change"])(take_step)


@admin.register(ExpressionOfInterest)
class ExpressionOfInterestAdmin(ServiceAdmin):
    form = EOIReviewForm
    # Short columns that wrap, so Status and Submitted stay in view at 1366 px beside both sidebars (foreign keys
    # and datetimes would not wrap: the admin marks them nowrap). Jobs and investment are on the change page.
    list_display = ["reference", "organisation_name", "wanted", "gfa_m2", "status", "submitted"]
    list_display_links = ["reference"]
    # The organisation is searched, not listed (10,000 of them at HKSTP scale; core.admin_filters).
    list_filter = [QueueFilter, ("organisation", AutocompleteFilter), "facility_type", "preferred_phase"]
    show_full_result_count = False  # a second count of the whole table on every filtered page
    list_select_related = ["organisation", "facility_type", "preferred_phase", "preferred_parcel"]
    search_fields = ["=id", "organisation__name_en", "organisation__name_zh", "organisation__code", "description"]
    # The queue: oldest submission first; drafts (never submitted) last.
    ordering = [F("submitted_at").asc(nulls_last=True), "pk"]
    # The EOI's fields as the partner wrote them (`services.EOI_FIELDS`; the system check of `ServiceAdmin` proves
    # each is shown once), its review fields, and its record.
    service_fields = services.EOI_FIELDS
    fieldsets = [
        (None, {"fields": ["organisation", "submitted_by", "status", "submitted_at", "language", "commitment_link"]}),
        (_("What and where"), {"fields": [name for name in services.EOI_FIELDS if name != "language"]}),
        (_("Review"), {"fields": list(EOIReviewForm.declared_fields)}),
        (_("Record"), {"fields": ["version", "created", "updated"], "classes": ["collapse"]}),
    ]
    # Everything but the review fields is read-only: the content is the partner's.
    readonly_fields = [name for name in flatten_fieldsets(fieldsets) if name not in EOIReviewForm.declared_fields]
    inlines = [EOITransitionInline, ReviewNoteInline, AttachmentInline]
    # One queue action per staff step of the workflow that needs no note (a note is written on the change page).
    actions = [
        *(
            _queue_action(move)
            for move in workflow.WORKFLOW
            if move.side == workflow.Side.STAFF and not move.note_required
        ),
        "create_commitment",
    ]

    @admin.display(description=_("reference"), ordering="pk")
    def reference(self, eoi):
        return eoi.reference

    @admin.display(description=_("organisation"), ordering="organisation__name_en")
    def organisation_name(self, eoi):
        return eoi.organisation.name

    @admin.display(description=_("facility type · place"))
    def wanted(self, eoi):
        place = eoi.preferred_parcel.code if eoi.preferred_parcel is not None else eoi.preferred_phase or "—"
        return f"{eoi.facility_type.name} · {place}"

    @admin.display(description=_("submitted"), ordering="submitted_at")
    def submitted(self, eoi):
        return (
            formats.date_format(timezone.localtime(eoi.submitted_at), "SHORT_DATE_FORMAT") if eoi.submitted_at else "—"
        )

    change_form_template = "admin/partners/expressionofinterest/change_form.html"

    def get_urls(self):
        create = self.admin_site.admin_view(self.create_commitment_view)
        return [
            path("<int:object_id>/create-commitment/", create, name="partners_expressionofinterest_commitment"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        eoi = self.get_object(request, object_id)
        offer = (
            eoi is not None
            and eoi.status == Status.ACCEPTED
            and not Commitment.objects.filter(source_eoi=eoi).exists()
            and self.has_change_permission(request, eoi)
        )
        extra_context = {**(extra_context or {}), "offer_commitment": offer}
        return super().change_view(request, object_id, form_url, extra_context)

    def create_commitment_view(self, request, object_id: int):
        """POST: record the commitment of an accepted EOI (`commitment_from_eoi`), then back to the EOI."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        eoi = self.get_object(request, str(object_id))
        if eoi is None:
            raise Http404
        if not self.has_change_permission(request, eoi):
            raise PermissionDenied
        try:
            commitment = services.commitment_from_eoi(eoi=eoi, actor=request.user)
        except (ValidationError, PermissionDenied) as error:
            self.message_user(
                request, _("No commitment recorded: %(reason)s") % {"reason": _reason(error)}, messages.ERROR
            )
        else:
            self.message_user(
                request, _("Commitment recorded: %(commitment)s.") % {"commitment": commitment}, messages.SUCCESS
            )
        return redirect("admin:partners_expressionofinterest_change", eoi.pk)

    @admin.display(description=_("commitment"))
    def commitment_link(self, eoi):
        commitment = Commitment.objects.filter(source_eoi=eoi).first()
        if commitment is None:
            return "—"
        url = reverse("admin:partners_commitment_change", args=[commitment.pk])
        return format_html('<a href="{}">{}</a>', url, commitment)

    def has_add_permission(self, request):
        return False  # partners write EOIs in the portal

    def has_delete_permission(self, request, obj=None):
        return False  # submitted EOIs stay on record; drafts are the partner's to delete

    def call_service(self, form, *, change, actor):
        """The change page saves the review fields: a move with its note, and/or an internal note."""
        eoi, data = form.instance, form.cleaned_data
        try:
            if data.get("transition"):
                eoi = services.eoi_transition(
                    eoi=eoi, actor=actor, transition=data["transition"], note=data.get("note", "")
                )
            if data.get("internal_note"):
                services.review_note_add(eoi=eoi, actor=actor, text=data["internal_note"])
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                raise
            raise ValidationError(
                {REVIEW_ERROR_FIELDS.get(field, field): errors for field, errors in error.error_dict.items()}
            ) from None
        return eoi

    def save_formset(self, request, form, formset, change):
        # The inlines are read-only records the services wrote: nothing to save, nothing to log.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    # --- queue actions ---

    def move_selected(self, request, queryset, move: workflow.Transition) -> None:
        """Take the step `move` on each selected EOI; each one the service refuses is reported with its reason."""
        moved = 0
        for eoi in queryset:
            try:
                services.eoi_transition(eoi=eoi, actor=request.user, transition=move.name)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(
                    request,
                    _("%(eoi)s was not moved: %(reason)s") % {"eoi": eoi, "reason": _reason(error)},
                    messages.ERROR,
                )
            else:
                moved += 1
        if moved:
            self.message_user(
                request,
                ngettext(
                    "%(count)d EOI moved to %(status)s; its submitter is told by e-mail.",
                    "%(count)d EOIs moved to %(status)s; their submitters are told by e-mail.",
                    moved,
                )
                % {"count": moved, "status": Status(move.target).label},
                messages.SUCCESS,
            )

    @admin.action(description=_("Create commitment from accepted EOI"), permissions=["change"])
    def create_commitment(self, request, queryset):
        created = 0
        for eoi in queryset:
            try:
                services.commitment_from_eoi(eoi=eoi, actor=request.user)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(
                    request,
                    _("%(eoi)s: no commitment recorded: %(reason)s") % {"eoi": eoi, "reason": _reason(error)},
                    messages.ERROR,
                )
            else:
                created += 1
        if created:
            self.message_user(
                request,
                ngettext("%(count)d commitment recorded.", "%(count)d commitments recorded.", created)
                % {"count": created},
                messages.SUCCESS,
            )


# --- commitments ------------------------------------------------------------------------------------------------


@admin.register(CommitmentStage)
class CommitmentStageAdmin(ServiceAdmin):
    """The ladder's rungs are fixed; their names and probabilities are editable."""

    list_display = ["order", "code", "name_en", "name_zh", "probability"]
    list_display_links = ["code"]
    fields = ["code", "order", *services.STAGE_FIELDS, "version", "updated"]
    readonly_fields = ["code", "order", "version", "updated"]
    update_service = services.commitment_stage_update
    service_object_name = "stage"
    service_fields = services.STAGE_FIELDS

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Commitment)
class CommitmentAdmin(ServiceAdmin):
    list_display = [
        "organisation",
        "kind",
        "stage",
        "parcel",
        "facility",
        "gfa_m2",
        "weighted_gfa",
        "amount_hkd_m",
        "weighted_amount",
        "date",
    ]
    list_filter = ["kind", "stage", "parcel__phase", ("organisation", AutocompleteFilter)]
    show_full_result_count = False
    search_fields = ["organisation__name_en", "organisation__name_zh", "organisation__code", "parcel__code"]
    list_select_related = ["organisation", "stage", "parcel", "facility"]
    raw_id_fields = ["source_eoi"]
    readonly_fields = ["weighted_gfa", "weighted_amount", "version", "created", "updated"]
    create_service = services.commitment_create
    update_service = services.commitment_update
    delete_service = services.commitment_delete
    service_object_name = "commitment"
    service_fields = services.COMMITMENT_FIELDS

    def get_queryset(self, request):
        return super().get_queryset(request).with_weighted()

    @admin.display(description=_("weighted GFA (m²)"), ordering="weighted_gfa_m2")
    def weighted_gfa(self, commitment):
        value = getattr(commitment, "weighted_gfa_m2", None)
        return "—" if value is None else f"{value:,.0f}"

    @admin.display(description=_("weighted amount (HKD million)"), ordering="weighted_amount_hkd_m")
    def weighted_amount(self, commitment):
        value = getattr(commitment, "weighted_amount_hkd_m", None)
        return "—" if value is None else f"{value:,.1f}"
