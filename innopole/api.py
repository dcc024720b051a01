"""What every API endpoint shares: pagination, error translation, a base viewset that writes through services."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .services import ConflictError


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """Service refusals become a 400 with field errors; a stale edit becomes a 409 Conflict."""
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
            {"detail": str(exc), "current_version": exc.current_version, "code": "conflict"},
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
