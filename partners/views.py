"""The partner portal. Until the partners issue fills it, it shows the phases partners can express interest in."""

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from innopole.roles import PARTNER, role_required
from planning.models import Phase


@role_required(PARTNER)
def portal(request):
    phases = Phase.objects.restrict(request.user).select_related("campus").with_totals()
    return render(request, "partners/portal.html", {"title": _("Partner portal"), "phases": phases})
