"""Planning pages. Until the plan editor and dashboard issues fill them, both list the phases with their totals."""

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from innopole.roles import EXECUTIVE, PLANNER, STAFF, role_required

from . import selectors
from .models import Phase


def _phase_rows(user) -> list[Phase]:
    phases = list(Phase.objects.restrict(user).select_related("campus").with_totals().with_readiness())
    selectors.attach_gfa_by_type(phases)
    for phase in phases:
        phase.warnings = selectors.phase_warnings(phase)
    return phases


@role_required(PLANNER, STAFF)
def plan(request):
    return render(request, "planning/phase_list.html", {"title": _("Phase plans"), "phases": _phase_rows(request.user)})


@role_required(EXECUTIVE, PLANNER, STAFF)
def dashboard(request):
    return render(request, "planning/phase_list.html", {"title": _("Dashboard"), "phases": _phase_rows(request.user)})
