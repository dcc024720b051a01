"""The project package as an app: its templates, number formats and the commands that span every app (bench)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InnopoleConfig(AppConfig):
    name = "innopole"
    verbose_name = _("INNOPOLE")
