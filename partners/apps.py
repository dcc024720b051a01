from decimal import Decimal

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# The commitment ladder with its default probabilities (staff edit them in the admin).
DEFAULT_STAGES = (
    ("mou", "MoU", "諒解備忘錄", Decimal("0.10")),
    ("eoi", "Expression of interest", "意向書", Decimal("0.25")),
    ("heads_of_terms", "Heads of terms", "主要條款", Decimal("0.50")),
    ("agreement_for_lease", "Agreement for lease", "租賃協議", Decimal("0.80")),
    ("lease", "Lease", "租約", Decimal("1.00")),
)


def ensure_commitment_stages(sender, using="default", **kwargs) -> None:
    """The ladder's rungs exist after every migrate (and flush); edited probabilities are left alone."""
    from .models import CommitmentStage

    for order, (code, name_en, name_zh, probability) in enumerate(DEFAULT_STAGES, start=1):
        CommitmentStage.objects.using(using).get_or_create(
            code=code, defaults={"name_en": name_en, "name_zh": name_zh, "order": order, "probability": probability}
        )


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners")

    def ready(self) -> None:
        from planning.readiness import register

        from . import demo  # noqa: F401  (registers the demo loader)
        from .readiness import CommitmentsCriterion

        register(CommitmentsCriterion())

        from . import guards

        guards.register()  # the rules planning asks before a plan row is shrunk, moved or deleted

        post_migrate.connect(ensure_commitment_stages, sender=self, dispatch_uid="partners.ensure_commitment_stages")
