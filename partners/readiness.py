"""The partners' readiness criterion: how firmly partners have committed to the phase.

Registered by `PartnersConfig.ready()`; its targets are editable in the criterion's setting.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from planning.models import Phase
from planning.readiness import Criterion, Evaluation, Target, fmt, fmt_target, say

from .selectors import with_capital_cover


@dataclass(frozen=True)
class CommitmentsInputs:
    """The probability-weighted sums the criterion scored (rounded to the cent), and what they are measured against."""

    weighted_occupancy_gfa_m2: Decimal
    lettable_gfa_m2: Decimal
    weighted_capital_hkd_m: Decimal
    capex_hkd_m: Decimal


class CommitmentsCriterion(Criterion):
    """Probability-weighted occupancy GFA against the phase's lettable GFA, and weighted capital against capex.

    The score is the lower of the two covers, each against its target share (by default occupancy 30 %, capital
    25 %; capped at 1), so one cannot make up for the other: a developer and a tenant are different promises.
    """

    code = "commitments"
    label = _("Commitments")
    default_weight = Decimal("2")
    default_pass = Decimal("1")
    default_at_risk = Decimal("0.25")
    targets = {
        "occupancy_pct": Target(Decimal("30"), _("Pre-committed share of lettable GFA (%)")),
        "capital_pct": Target(Decimal("25"), _("Share of capex covered by partner capital (%)")),
    }

    def evaluate(self, phases, today, targets=None):
        targets = targets or self.resolve_targets(None)
        occupancy_target, capital_target = targets["occupancy_pct"], targets["capital_pct"]
        queryset = with_capital_cover(Phase.objects.filter(pk__in=[p.pk for p in phases]), percentages=False)
        rows = {p.pk: p for p in queryset}
        results = {}
        for phase in phases:
            row = rows[phase.pk]
            occupancy = row.weighted_occupancy_gfa_m2 * 100 / row.lettable_gfa_m2 if row.lettable_gfa_m2 else Decimal(0)
            capital = row.weighted_capital_hkd_m * 100 / row.capex_hkd_m if row.capex_hkd_m else Decimal(0)
            occupancy_score = min(Decimal(1), occupancy / occupancy_target)
            capital_score = min(Decimal(1), capital / capital_target) if row.capex_hkd_m else Decimal(1)
            reasons = [
                say(
                    gettext_noop(
                        "Pre-commitment %(pct)s %% of lettable GFA (%(weighted)s of %(lettable)s m², "
                        "probability-weighted); the target is %(target)s %%."
                    ),
                    pct=fmt(occupancy),
                    weighted=fmt(row.weighted_occupancy_gfa_m2, 0),
                    lettable=fmt(row.lettable_gfa_m2, 0),
                    target=fmt_target(occupancy_target),
                ),
                say(
                    gettext_noop(
                        "Weighted partner capital HKD %(capital)s million covers %(pct)s %% of the capex of "
                        "HKD %(capex)s million; the target is %(target)s %%."
                    ),
                    capital=fmt(row.weighted_capital_hkd_m),
                    pct=fmt(capital),
                    capex=fmt(row.capex_hkd_m, 0),
                    target=fmt_target(capital_target),
                ),
            ]
            inputs = CommitmentsInputs(
                weighted_occupancy_gfa_m2=round(row.weighted_occupancy_gfa_m2, 2),
                lettable_gfa_m2=row.lettable_gfa_m2,
                weighted_capital_hkd_m=round(row.weighted_capital_hkd_m, 2),
                capex_hkd_m=row.capex_hkd_m,
            )
            results[phase.pk] = Evaluation(float(min(occupancy_score, capital_score)), reasons, inputs)
        return results
