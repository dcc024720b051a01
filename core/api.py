"""What every API endpoint shares: pagination, error translation, the versioned serializer, writes through services.

The base viewset is in `viewsets.py`: DRF reads the pagination class from this module while it defines its views."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .services import ConflictError


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


# A refused delete names at most this many of the rows in its way (and how many more there are).
BLOCKING_LISTED = 10


def blocked_delete_response(exc: ProtectedError | RestrictedError) -> Response:
    """A delete the database refused because other rows still refer to the row: a 400 naming those rows.

    The services' guards refuse such deletes first with the rule in words; this is the net under every relation
    no guard covers, so a delete never answers 500.
    """
    blocking = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    rows = sorted(blocking, key=lambda row: (row._meta.label, row.pk))
    names = [
        _("%(kind)s “%(label)s”") % {"kind": row._meta.verbose_name, "label": row} for row in rows[:BLOCKING_LISTED]
    ]
    if len(rows) > BLOCKING_LISTED:
        names.append(_("%(count)s more") % {"count": len(rows) - BLOCKING_LISTED})
    message = ngettext(
        "This cannot be deleted while %(count)s other record refers to it: %(rows)s.",
        "This cannot be deleted while %(count)s other records refer to it: %(rows)s.",
        len(rows),
    ) % {"count": len(rows), "rows": "; ".join(names)}
    set_rollback()
    return Response(
        {
            "non_field_errors": [message],
            "blocking": [
                {"type": row._meta.label_lower, "id": row.pk, "label": str(row)} for row in rows[:BLOCKING_LISTED]
            ],
            "blocking_count": len(rows),
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


def exception_handler(exc, context):
    """Service refusals become a 400 with field errors; a stale edit becomes a 409 Conflict; a delete the
    database refuses (`on_delete=PROTECT`/`RESTRICT`) becomes a 400 naming the rows in the way."""
    if isinstance(exc, ProtectedError | RestrictedError):
        return blocked_delete_response(exc)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {
                ("non_field_errors" if field == "__all__" else field): messages
                for field, messages in exc.message_dict.items()
            }
        else:
            detail = {"non_field_errors": exc.messages}
        exc = ValidationError(detail=detail)
    if isinstance(exc, ConflictError):
        return Response(
            {"detail": str(exc), "code": "conflict", "current_version": exc.current_version, **exc.as_dict()},
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)


class VersionField(serializers.IntegerField):
    """The row's edit version: read it with the object, send it back with a change to be refused on conflict."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**31 - 1)
        kwargs.setdefault(
            "help_text",
            "Edit version. Send the version you read with a change; if the row changed since, the answer is 409.",
        )
        super().__init__(**kwargs)


class CodeRelatedField(serializers.SlugRelatedField):
    """A related row named by its code (`slug_field`). A value with a NUL character is refused before the lookup:
    PostgreSQL refuses NUL in text, so DRF's lookup would answer a server error (found by schemathesis)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            raise ValidationError(ProhibitNullCharactersValidator.message)
        return super().to_internal_value(data)


class ServiceModelViewSetMixin:
    """Create, update and delete through the app's services instead of `serializer.save()`.

    Subclasses name the services; each receives `actor=` and the validated fields, updates also the object and
    `expected_version` (from the `version` field of the request, when sent).
    """

    create_service = None
    update_service = None
    delete_service = None
    service_object_name = None  # the keyword under which update/delete services take the object

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        with transaction.atomic():
            serializer.instance = type(self).create_service(actor=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        expected_version = data.pop("version", None)
        with transaction.atomic():
            serializer.instance = type(self).update_service(
                **{self.service_object_name: serializer.instance},
                actor=self.request.user,
                expected_version=expected_version,
                **data,
            )

    def perform_destroy(self, instance):
        type(self).delete_service(**{self.service_object_name: instance}, actor=self.request.user)


class VersionedModelSerializer(serializers.ModelSerializer):
    """A model serializer with the row's edit `version` (see `VersionField`)."""

    version = VersionField()
