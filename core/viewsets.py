"""The API's one base viewset, shared by every app (kept apart from `api.py`, which DRF imports while it defines its
own view classes)."""

from django.http import Http404
from rest_framework import viewsets
from rest_framework.permissions import SAFE_METHODS

from .api import ServiceModelViewSetMixin


class ScopedModelViewSet(ServiceModelViewSetMixin, viewsets.ModelViewSet):
    """The API's one base viewset: reads over `restrict(user, "view")`, writes over `restrict(user, "change")`, every
    write through the app's services, and the object re-read with the list's annotations after a write (so the
    answer shows computed figures).

    A row outside the user's view answers 404 exactly like a missing id; a row the user sees but may not change
    answers 403 with `denied_message`. Set `queryset` (or `model`), or override `base_queryset()` for annotations.
    """

    model = None
    denied_message = None

    def base_queryset(self):
        return self.queryset.all() if self.queryset is not None else self.model.objects.all()

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
                self.permission_denied(self.request, message=self.denied_message)
            raise

    def _visible(self) -> bool:
        """Whether the user may see the row it may not change (then the answer is 403, not 404)."""
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            return self.scope(self.base_queryset(), "view").filter(pk=lookup).exists()
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
