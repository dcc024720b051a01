"""API permissions by role."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import can_edit_plan


class PlanReadOrPlannerWrite(BasePermission):
    """Every signed-in user reads plan data; planners and staff change it."""

    message = _("Only planners and HKSTP staff can change plan data.")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or can_edit_plan(request.user)
