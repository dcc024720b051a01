from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")

    def ready(self) -> None:
        from . import demo, readiness  # noqa: F401  (register the demo loader and the readiness criterion)
