from django.apps import AppConfig, apps
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _

# The apps whose data the dashboard summarises: a change to any of their rows invalidates its cached figures.
READS_APPS = ("planning", "partners", "tenants")


class DashboardConfig(AppConfig):
    """The executive dashboard: figures from every app, so the layer above them all but the project."""

    name = "dashboard"
    verbose_name = _("Dashboard")

    def ready(self):
        from core import freshness

        for app_label in READS_APPS:
            for model in apps.get_app_config(app_label).get_models(include_auto_created=True):
                post_save.connect(freshness.changed, sender=model, dispatch_uid=f"freshness-save-{model._meta.label}")
                post_delete.connect(
                    freshness.changed, sender=model, dispatch_uid=f"freshness-delete-{model._meta.label}"
                )
