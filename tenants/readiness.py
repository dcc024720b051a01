"""The tenants' readiness criterion: demand for the phase's space.

Registered by `TenantsConfig.ready()`; its target is editable in the criterion's setting.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from partners.selectors import with_eoi_demand
from planning.models import Phase
from planning.readiness import Criterion, Evaluation, Target, fmt, fmt_target, say

from .selectors import with_allocations


@dataclass(frozen=True)
class DemandInputs:
    """Signed or occupied GFA, live EOI demand, and the phase's GFA they are measured against."""

    allocated_gfa_m2: Decimal
    eoi_demand_gfa_m2: Decimal
    total_gfa_m2: Decimal


class DemandCriterion(Criterion):
    """Signed and occupied allocations plus live EOIs, against the phase's GFA (target by default: 50 % spoken for)."""

    code = "demand"
    label = _("Demand")
    default_weight = Decimal("1")
    default_pass = Decimal("1")
    default_at_risk = Decimal("0.3")
    targets = {"spoken_for_pct": Target(Decimal("50"), _("Share of the phase's GFA spoken for (%)"))}

    def evaluate(self, phases, today, targets=None):
        target = (targets or self.resolve_targets(None))["spoken_for_pct"]
        queryset = Phase.objects.filter(pk__in=[p.pk for p in phases])
        rows = {p.pk: p for p in with_eoi_demand(with_allocations(queryset, "phase", percentages=False), "phase")}
        results = {}
        for phase in phases:
            row = rows[phase.pk]
            spoken_for = row.allocated_gfa_m2 + row.eoi_demand_gfa_m2
            share = spoken_for * 100 / row.total_gfa_m2 if row.total_gfa_m2 else Decimal(0)
            reasons = [
                say(
                    gettext_noop(
                        "Signed or occupied space %(allocated)s m² and live expressions of interest %(eois)s m² "
                        "make %(pct)s %% of the phase's %(gfa)s m² GFA; the target is %(target)s %%."
                    ),
                    allocated=fmt(row.allocated_gfa_m2, 0),
                    eois=fmt(row.eoi_demand_gfa_m2, 0),
                    pct=fmt(share),
                    gfa=fmt(row.total_gfa_m2, 0),
                    target=fmt_target(target),
                )
            ]
            inputs = DemandInputs(
                allocated_gfa_m2=row.allocated_gfa_m2,
                eoi_demand_gfa_m2=row.eoi_demand_gfa_m2,
                total_gfa_m2=row.total_gfa_m2,
            )
            results[phase.pk] = Evaluation(float(min(Decimal(1), share / target)), reasons, inputs)
        return results
