"""Planning pages. Until the plan editor and dashboard issues fill them, both list the phases with their totals."""

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from core.roles import EXECUTIVE, PLANNER, STAFF, role_required

from .. import selectors
from ..models import Campus, Phase


def _phase_rows(user) -> list[Phase]:
    phases = list(Phase.objects.restrict(user).select_related("campus").with_totals().with_readiness())
    selectors.attach_gfa_by_type(phases)
    for phase in phases:
        phase.warnings = selectors.phase_warnings(phase)
    return phases


def _campus_warnings(user) -> list:
    """The plan's warnings that are not about one phase (those show in the phase's row)."""
    return [warning for campus in Campus.objects.restrict(user) for warning in selectors.campus_level_warnings(campus)]


def _phase_page(request, title):
    context = {"title": title, "phases": _phase_rows(request.user), "plan_warnings": _campus_warnings(request.user)}
    return render(request, "planning/phase_list.html", context)


@role_required(PLANNER, STAFF)
def plan(request):
    return _phase_page(request, _("Phase plans"))


@role_required(EXECUTIVE, PLANNER, STAFF)
def dashboard(request):
    return _phase_page(request, _("Dashboard"))
