"""Viewsets of the partners API: reads and writes scoped by `restrict(user, action)`, writes through services.

Who may do what:
- every signed-in role reads what `restrict(user)` lets it see (partners: their own organisation's rows);
- staff write organisations, MoUs, EOIs, commitments and stage probabilities; partners create, change, delete,
  submit and withdraw their own organisation's EOIs; planners and executives only read partner data.
A row outside the user's scope answers 404 exactly like a missing id, for reads, writes and workflow moves alike;
a row the user can see but not change answers 403.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from innopole.api import ServiceModelViewSetMixin
from innopole.roles import PARTNER, STAFF, has_role

from .. import filtersets, services
from ..models import Commitment, CommitmentStage, ExpressionOfInterest, MoU, Organisation
from ..querysets import organisation_id_of
from . import serializers

Status = ExpressionOfInterest.Status


class PartnerDataPermission(BasePermission):
    """Signed-in users read; creating needs one of the view's `write_roles`; changing an existing row is decided by
    the scoped lookup (404 outside the user's view, 403 when seen but not changeable) and `staff_actions`."""

    message = gettext_lazy("Your role can read this but not change it.")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS or getattr(view, "detail", False):
            return True
        return has_role(request.user, *view.write_roles)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return view.action not in getattr(view, "staff_actions", ()) or has_role(request.user, STAFF)


class ScopedViewSet(ServiceModelViewSetMixin, viewsets.ModelViewSet):
    """A viewset over `restrict(user, "view")` for reads and `restrict(user, "change")` for writes.

    After a write the object is re-read with the list's annotations, so the answer shows computed figures.
    """

    permission_classes = [PartnerDataPermission]
    write_roles: tuple[str, ...] = (STAFF,)
    model = None

    def base_queryset(self):
        return self.model.objects.all()

    def scope(self, queryset, action: str):
        return queryset.restrict(self.request.user, action)

    def get_queryset(self):
        action = "view" if self.request.method in SAFE_METHODS else "change"
        return self.scope(self.base_queryset(), action)

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            if self.request.method not in SAFE_METHODS and self._visible():
                self.permission_denied(self.request, message=PartnerDataPermission.message)
            raise

    def _visible(self) -> bool:
        """Whether the user may see the row it may not change (then the answer is 403, not 404)."""
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            return self.scope(self.model.objects.all(), "view").filter(pk=lookup).exists()
        except (TypeError, ValueError):
            return False

    def _reread(self, instance):
        return self.base_queryset().get(pk=instance.pk)

    def perform_create(self, serializer):
        super().perform_create(serializer)
        serializer.instance = self._reread(serializer.instance)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        serializer.instance = self._reread(serializer.instance)


class OrganisationViewSet(ScopedViewSet):
    model = Organisation
    serializer_class = serializers.OrganisationSerializer
    filterset_class = filtersets.OrganisationFilterSet
    ordering_fields = ["name_en", "code"]
    create_service = services.organisation_create
    update_service = services.organisation_update
    service_object_name = "organisation"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


class MoUViewSet(ScopedViewSet):
    model = MoU
    serializer_class = serializers.MoUSerializer
    filterset_class = filtersets.MoUFilterSet
    ordering_fields = ["title", "signed_date", "status"]
    create_service = services.mou_create
    update_service = services.mou_update
    delete_service = services.mou_delete
    service_object_name = "mou"

    def base_queryset(self):
        return MoU.objects.select_related("organisation")


class CommitmentStageViewSet(ScopedViewSet):
    """The rungs of the commitment ladder; staff edit their probabilities (there are no new rungs via the API)."""

    model = CommitmentStage
    serializer_class = serializers.CommitmentStageSerializer
    ordering_fields = ["order"]
    update_service = services.commitment_stage_update
    service_object_name = "stage"
    http_method_names = ["get", "put", "patch", "head", "options"]

    def scope(self, queryset, action: str):
        # Reference data: every signed-in user reads the ladder, staff change it.
        if action == "view" or has_role(self.request.user, STAFF):
            return queryset
        return queryset.none()


class CommitmentViewSet(ScopedViewSet):
    model = Commitment
    serializer_class = serializers.CommitmentSerializer
    filterset_class = filtersets.CommitmentFilterSet
    ordering_fields = ["date", "gfa_m2", "amount_hkd_m"]
    create_service = services.commitment_create
    update_service = services.commitment_update
    delete_service = services.commitment_delete
    service_object_name = "commitment"

    def base_queryset(self):
        return commitments_with_figures()


MOVE_RESPONSES = {
    200: serializers.EOISerializer,
    400: OpenApiResponse(
        description="The move is not allowed from the EOI's status (error on `status`), or a submitted EOI is "
        "incomplete (errors by field)."
    ),
    403: OpenApiResponse(description="Only HKSTP staff make this move, or you may see this EOI but not change it."),
    404: OpenApiResponse(description="No such EOI within your scope."),
}


def eoi_move(
    name: str,
    to_status: str,
    summary: str,
    *,
    staff_only: bool,
    only_from: str | None = None,
    url_path: str | None = None,
):
    """A workflow action `name` moving an EOI to `to_status` through `partners.services.eoi_transition`.

    `only_from` narrows the action to one starting status where the workflow reaches `to_status` from several
    (under review: "start review" from submitted, "resume" from on hold), so each action means one thing.
    """
    who = "HKSTP staff only." if staff_only else "The EOI's own organisation (or HKSTP staff)."

    def move(self, request, pk=None):
        eoi = self.get_object()
        serializer = serializers.EOIMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if only_from is not None and eoi.status != only_from:
            raise ValidationError(
                {
                    "status": _("Only an EOI that is %(expected)s can take this step; this one is %(current)s.")
                    % {"expected": Status(only_from).label, "current": eoi.get_status_display()}
                }
            )
        note = serializer.validated_data["note"]
        services.eoi_transition(eoi=eoi, to_status=to_status, actor=request.user, note=note)
        return Response(self.get_serializer(self._reread(eoi)).data)

    move.__name__ = name
    move.__doc__ = summary
    move = action(detail=True, methods=["post"], url_path=url_path)(move)
    # After `action`, which would otherwise replace the schema that `extend_schema` attaches.
    return extend_schema(
        summary=summary,
        description=f"{who} Takes an optional note, which the partner sees on the EOI's timeline.",
        request=serializers.EOIMoveSerializer,
        responses=MOVE_RESPONSES,
    )(move)


def commitments_with_figures():
    return Commitment.objects.select_related("organisation", "parcel", "facility", "stage").with_weighted()


class EOIViewSet(ScopedViewSet):
    """Expressions of interest. Partners work on their own organisation's drafts and submit or withdraw them;
    staff review them along the workflow and turn accepted ones into commitments."""

    model = ExpressionOfInterest
    serializer_class = serializers.EOISerializer
    filterset_class = filtersets.EOIFilterSet
    ordering_fields = ["submitted_at", "created", "gfa_m2", "status"]
    write_roles = (STAFF, PARTNER)
    staff_actions = ("start_review", "shortlist", "accept", "decline", "hold", "resume", "commitment")
    create_service = services.eoi_create
    update_service = services.eoi_update
    delete_service = services.eoi_delete
    service_object_name = "eoi"

    def base_queryset(self):
        return ExpressionOfInterest.objects.select_related("organisation", "facility_type").prefetch_related(
            "transitions", "attachments"
        )

    def perform_create(self, serializer):
        user = self.request.user
        if not has_role(user, STAFF):
            organisation_id = organisation_id_of(user)
            if organisation_id is None:
                raise DjangoPermissionDenied(_("Your account does not belong to an organisation."))
            serializer.validated_data["organisation"] = Organisation.objects.get(pk=organisation_id)
        super().perform_create(serializer)

    submit = eoi_move("submit", Status.SUBMITTED, "Submit a draft EOI", staff_only=False)
    withdraw = eoi_move("withdraw", Status.WITHDRAWN, "Withdraw an EOI before it is decided", staff_only=False)
    start_review = eoi_move(
        "start_review",
        Status.UNDER_REVIEW,
        "Start reviewing a submitted EOI",
        staff_only=True,
        only_from=Status.SUBMITTED,
        url_path="start-review",
    )
    shortlist = eoi_move("shortlist", Status.SHORTLISTED, "Shortlist an EOI", staff_only=True)
    accept = eoi_move("accept", Status.ACCEPTED, "Accept an EOI", staff_only=True)
    decline = eoi_move("decline", Status.DECLINED, "Decline an EOI", staff_only=True)
    hold = eoi_move("hold", Status.ON_HOLD, "Put an EOI on hold", staff_only=True)
    resume = eoi_move(
        "resume", Status.UNDER_REVIEW, "Resume the review of an EOI on hold", staff_only=True, only_from=Status.ON_HOLD
    )

    @extend_schema(
        summary="Turn an accepted EOI into a commitment",
        description="HKSTP staff only. Records an occupancy commitment on the EOI's parcel, on the given rung of "
        "the ladder (default: EOI).",
        request=serializers.CommitmentFromEOISerializer,
        responses={
            201: serializers.CommitmentSerializer,
            400: OpenApiResponse(description="The EOI is not accepted, has no parcel, or already has a commitment."),
            403: OpenApiResponse(description="Only HKSTP staff record commitments."),
            404: OpenApiResponse(description="No such EOI within your scope."),
        },
    )
    @action(detail=True, methods=["post"])
    def commitment(self, request, pk=None):
        eoi = self.get_object()
        serializer = serializers.CommitmentFromEOISerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stage = serializer.validated_data.get("stage")
        commitment = services.commitment_from_eoi(
            eoi=eoi, actor=request.user, **({"stage_code": stage.code} if stage else {})
        )
        commitment = commitments_with_figures().get(pk=commitment.pk)
        return Response(
            serializers.CommitmentSerializer(commitment, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
