"""API permissions by role: who reads and who writes what, one class per rule."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import EXECUTIVE, PLANNER, STAFF, can_edit_plan, has_role


class PlanReadOrPlannerWrite(BasePermission):
    """Every signed-in user reads plan data; planners and staff change it."""

    message = _("Only planners and HKSTP staff can change plan data.")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or can_edit_plan(request.user)


class ReadsCrossOrganisationAggregates(BasePermission):
    """Who reads figures summed over every organisation: HKSTP staff, planners and executives.

    The one rule for every such read: the roll-ups (summed commitments, capital, EOI demand, allocations) and a
    phase's readiness (its commitments and demand criteria state the same sums in words, and its history shows how
    they move). A partner sees only its own organisation's data, and with few organisations on a phase it could
    subtract its own figures from a sum to read a competitor's, so partners are refused with 403.
    """

    message = _(
        "Figures summed over every organisation (roll-ups and readiness) are for HKSTP staff, planners and executives."
    )

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and has_role(user, PLANNER, EXECUTIVE, STAFF))
