from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_readiness_defaults(sender, using="default", **kwargs) -> None:
    """After every migrate (and test flush): settings rows for the registered readiness criteria, and the policy."""
    from .services import readiness_defaults_ensure

    readiness_defaults_ensure()


class PlanningConfig(AppConfig):
    name = "planning"
    verbose_name = _("Planning")

    def ready(self) -> None:
        from . import geometry

        # Fails loudly (manage.py check, migrate, runserver) when WGS84 ↔ HK1980 Grid is not EPSG:1825.
        checks.register(geometry.check_transformation)

        from . import readiness

        for criterion in (readiness.LandCriterion(), readiness.UtilitiesCriterion(), readiness.MilestonesCriterion()):
            readiness.register(criterion)

        # Every app has registered its criteria in ready() before any migrate runs.
        post_migrate.connect(ensure_readiness_defaults, sender=self, dispatch_uid="planning.ensure_readiness_defaults")
