"""Viewsets of the partners API: reads and writes scoped by `restrict(user, action)`, writes through services.

Who may do what:
- every signed-in role reads what `restrict(user)` lets it see (partners: their own organisation's rows);
- staff write organisations, MoUs, commitments and stage probabilities and take the review steps of the EOI
  workflow; partners create, change, delete, submit and withdraw their own organisation's EOIs (each side takes only
  its own steps: one action per row of `partners.workflow.WORKFLOW`); planners and executives only read.
A row outside the user's scope answers 404 exactly like a missing id, for reads, writes and workflow moves alike;
a row the user can see but not change answers 403.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from core.roles import PARTNER, STAFF, has_role
from core.viewsets import ScopedModelViewSet

from .. import filtersets, services, workflow
from ..models import Commitment, CommitmentStage, ExpressionOfInterest, MoU, Organisation
from ..querysets import organisation_id_of
from . import serializers


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


class ScopedViewSet(ScopedModelViewSet):
    """The base viewset with the partners rule: staff (or a view's `write_roles`) create; the scoped lookup decides
    changes to existing rows."""

    permission_classes = [PartnerDataPermission]
    write_roles: tuple[str, ...] = (STAFF,)
    denied_message = PartnerDataPermission.message


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
        description="The step does not leave the EOI's status (error on `status`, naming it), a submitted EOI is "
        "incomplete (errors by field), or the step needs a note (error on `note`)."
    ),
    403: OpenApiResponse(
        description="The step belongs to the other side (HKSTP staff review; the EOI's own organisation submits and "
        "withdraws), or you may see this EOI but not change it."
    ),
    404: OpenApiResponse(description="No such EOI within your scope."),
}
WHO = {
    workflow.Side.STAFF: "HKSTP staff only.",
    workflow.Side.PARTNER: "The EOI's own organisation only.",
}


def eoi_move(move: workflow.Transition):
    """The API action of one workflow step: `POST /eois/{id}/<step>/` through `partners.services.eoi_transition`."""

    def take_step(self, request, pk=None):
        eoi = self.get_object()
        serializer = serializers.EOIMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = serializer.validated_data["note"]
        services.eoi_transition(eoi=eoi, actor=request.user, transition=move.name, note=note)
        return Response(self.get_serializer(self._reread(eoi)).data)

    take_step.__name__ = move.name
    take_step.__doc__ = move.summary
    sources = ", ".join(sorted(move.sources))
    note = "Takes a note, which is required for this step" if move.note_required else "Takes an optional note"
    action_ = action(detail=True, methods=["post"], url_path=move.url_path)(take_step)
    # After `action`, which would otherwise replace the schema that `extend_schema` attaches.
    return extend_schema(
        summary=move.summary,
        description=f"{WHO[move.side]} From: {sources}; to: {move.target}. {note}; the partner sees it on the "
        "EOI's timeline.",
        request=serializers.EOIMoveSerializer,
        responses=MOVE_RESPONSES,
    )(action_)


def with_workflow_actions(viewset):
    """Add one action per step of the EOI workflow table (`partners.workflow.WORKFLOW`) to `viewset`."""
    for move in workflow.WORKFLOW:
        setattr(viewset, move.name, eoi_move(move))
    return viewset


def commitments_with_figures():
    return Commitment.objects.select_related("organisation", "parcel", "facility", "stage").with_weighted()


@with_workflow_actions
class EOIViewSet(ScopedViewSet):
    """Expressions of interest. Partners work on their own organisation's drafts and submit or withdraw them;
    staff review them along the workflow and turn accepted ones into commitments."""

    model = ExpressionOfInterest
    serializer_class = serializers.EOISerializer
    filterset_class = filtersets.EOIFilterSet
    ordering_fields = ["submitted_at", "created", "gfa_m2", "status"]
    write_roles = (STAFF, PARTNER)
    # The other side's steps answer 403 (the service refuses them too); turning an EOI into a commitment is staff's.
    staff_actions = (*workflow.names(workflow.Side.STAFF), "commitment")
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
