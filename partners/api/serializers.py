"""Serializers of the partners API. They shape and type-check data; `partners.services` decides what may be saved.

What a partner reads about its EOIs is the whole EOI, its status timeline and its files; never the internal review
notes, nor who at HKSTP moved it.
"""

from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import serializers

from core.api import CodeRelatedField, VersionedModelSerializer
from core.roles import STAFF, has_role

from .. import services
from ..models import Attachment, Commitment, CommitmentStage, EOITransition, ExpressionOfInterest, MoU, Organisation

# Weighted figures are sent as JSON numbers, to the hundredth.
WEIGHTED = {"max_digits": 20, "decimal_places": 2, "coerce_to_string": False, "read_only": True}


class OrganisationSerializer(VersionedModelSerializer):
    class Meta:
        model = Organisation
        fields = [
            "id",
            *services.ORGANISATION_FIELDS,
            "version",
        ]


class MoUSerializer(VersionedModelSerializer):
    organisation_name = serializers.CharField(source="organisation.name_en", read_only=True)

    class Meta:
        model = MoU
        fields = [
            "id",
            *services.MOU_FIELDS,
            "organisation_name",
            "version",
        ]


class EOITransitionSerializer(serializers.ModelSerializer):
    """One step of an EOI's status timeline, as the partner sees it (without who made it)."""

    # Plain strings rather than a second copy of the status enum (the EOI's `status` names the values).
    from_status = serializers.CharField(
        read_only=True, help_text="The EOI status before the step (see the EOI's `status`); empty for its creation."
    )
    to_status = serializers.CharField(read_only=True, help_text="The EOI status after the step.")

    class Meta:
        model = EOITransition
        fields = ["from_status", "to_status", "at", "note"]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "original_name", "content_type", "size_bytes", "created", "download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment) -> str:
        """The portal's download address (it checks the user's scope again before serving the file)."""
        return reverse("partners:attachment-download", args=[attachment.pk])


class EOISerializer(VersionedModelSerializer):
    """An EOI with its timeline and files. The organisation is fixed at creation: a partner's own, or (staff) any."""

    reference = serializers.CharField(read_only=True)
    organisation_name = serializers.CharField(source="organisation.name_en", read_only=True)
    facility_type_code = serializers.CharField(source="facility_type.code", read_only=True)
    can_withdraw = serializers.BooleanField(read_only=True)
    transitions = EOITransitionSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = ExpressionOfInterest
        fields = [
            "id",
            "reference",
            "organisation",
            "organisation_name",
            *services.EOI_FIELDS,
            "facility_type_code",
            "status",
            "submitted_at",
            "can_withdraw",
            "transitions",
            "attachments",
            "created",
            "updated",
            "version",
        ]
        read_only_fields = ["status", "submitted_at", "created", "updated"]
        extra_kwargs = {
            "organisation": {
                "required": False,
                "help_text": "Staff name it when creating; a partner's EOIs are always its own organisation's.",
            }
        }

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated and not has_role(request.user, STAFF):
            # A partner's organisation comes from its membership, never from the request body.
            fields["organisation"] = serializers.PrimaryKeyRelatedField(read_only=True)
        return fields

    def validate(self, attrs):
        if self.instance is not None:
            attrs.pop("organisation", None)  # an EOI never moves to another organisation
        elif not self.fields["organisation"].read_only and attrs.get("organisation") is None:
            raise serializers.ValidationError({"organisation": _("This field is required.")})
        return attrs


class EOIMoveSerializer(serializers.Serializer):
    """Input of a workflow move: an optional note the partner will see on the timeline."""

    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CommitmentStageSerializer(VersionedModelSerializer):
    class Meta:
        model = CommitmentStage
        fields = ["id", "code", "name_en", "name_zh", "order", "probability", "version"]
        read_only_fields = ["code", "order"]
        extra_kwargs = {"probability": {"coerce_to_string": False}}


class CommitmentSerializer(VersionedModelSerializer):
    organisation_name = serializers.CharField(source="organisation.name_en", read_only=True)
    parcel_code = serializers.CharField(source="parcel.code", read_only=True)
    facility_name = serializers.CharField(source="facility.name", read_only=True, allow_null=True)
    stage_code = serializers.CharField(source="stage.code", read_only=True)
    probability = serializers.DecimalField(
        source="stage.probability", max_digits=4, decimal_places=3, coerce_to_string=False, read_only=True
    )
    weighted_gfa_m2 = serializers.DecimalField(help_text="GFA × the stage's probability.", **WEIGHTED)
    weighted_amount_hkd_m = serializers.DecimalField(help_text="Amount × the stage's probability.", **WEIGHTED)

    class Meta:
        model = Commitment
        fields = [
            "id",
            *services.COMMITMENT_FIELDS,
            "organisation_name",
            "parcel_code",
            "facility_name",
            "stage_code",
            "probability",
            "weighted_gfa_m2",
            "weighted_amount_hkd_m",
            "version",
        ]


class CommitmentFromEOISerializer(serializers.Serializer):
    """Input of turning an accepted EOI into a commitment: the rung to start on (default: the EOI rung)."""

    stage = CodeRelatedField(
        slug_field="code",
        queryset=CommitmentStage.objects.all(),
        required=False,
        help_text="Code of the commitment stage; default `eoi`.",
    )
