"""The readiness engine: is a phase ready to start, and if not, what blocks it?

One module per job:

* `engine` — the criterion interface (`Criterion`, `Evaluation`, `Target`), the registry (`register`, filled from
  each app's `AppConfig.ready()`), `evaluate` (scores, states, weights, gates) and the fingerprint;
* `reasons` — the sentences a criterion gives (`say`, `term`, `ref`), stored untranslated and rendered in the
  reader's language (`render_criteria`, `readable_criteria`), and the number formats they use;
* `criteria` — planning's own criteria (land, utilities, milestones). Partners and tenants keep theirs in their
  own `readiness.py`.

The names other apps and the tests use are re-exported here, so `from planning.readiness import Criterion` works.
"""

from .criteria import (
    PRE_CONSTRUCTION,
    LandCriterion,
    LandInputs,
    MilestonesCriterion,
    MilestonesInputs,
    ParcelInput,
    SupplyLine,
    UtilitiesCriterion,
    UtilitiesInputs,
    UtilityInputs,
    construction_starts,
    demand_by_phase,
)
from .engine import (
    AT_RISK,
    BLOCKED,
    FAIL,
    PASS,
    READY,
    REGISTRY,
    Criterion,
    Evaluation,
    PhaseReadiness,
    Target,
    evaluate,
    fingerprint,
    register,
    settings_by_code,
    state_for,
)
from .reasons import (
    CRITERION_STATES,
    Reason,
    fmt,
    fmt_target,
    readable_criteria,
    ref,
    render_criteria,
    render_reason,
    say,
    term,
)

__all__ = [
    "AT_RISK",
    "BLOCKED",
    "CRITERION_STATES",
    "FAIL",
    "PASS",
    "PRE_CONSTRUCTION",
    "READY",
    "REGISTRY",
    "Criterion",
    "Evaluation",
    "LandCriterion",
    "LandInputs",
    "MilestonesCriterion",
    "MilestonesInputs",
    "ParcelInput",
    "PhaseReadiness",
    "Reason",
    "SupplyLine",
    "Target",
    "UtilitiesCriterion",
    "UtilitiesInputs",
    "UtilityInputs",
    "construction_starts",
    "demand_by_phase",
    "evaluate",
    "fingerprint",
    "fmt",
    "fmt_target",
    "readable_criteria",
    "ref",
    "register",
    "render_criteria",
    "render_reason",
    "say",
    "settings_by_code",
    "state_for",
    "term",
]
