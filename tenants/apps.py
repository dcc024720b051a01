from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")

    def ready(self) -> None:
        from planning.readiness import register

        from . import demo  # noqa: F401  (registers the demo loader)
        from .readiness import DemandCriterion

        register(DemandCriterion())

        from . import guards

        guards.register()  # the rules planning asks before a plan row is shrunk, moved or deleted
