"""The shared bottom layer: roles created after every migrate (Planner, Executive, Staff, Partner groups)."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# HKSTP staff keep these apps' data in the admin.
STAFF_APPS = ("planning", "partners", "tenants")


def ensure_roles(sender, using="default", **kwargs) -> None:
    """Create the role groups and give Staff every permission on the domain apps, and the sign-in audit to read.

    Runs after every migrate (and every flush, which tests with a live server do), so the groups always exist: once,
    when the last app's post_migrate is sent. Each app's signal creates that app's permissions (django.contrib.auth),
    so only then do all the permissions given here exist.
    """
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    from core.roles import ALL_ROLES, STAFF

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is not with_models[-1]:
        return

    for name in ALL_ROLES:
        Group.objects.using(using).get_or_create(name=name)
    group = Group.objects.using(using).get(name=STAFF)
    permissions = Permission.objects.using(using).filter(content_type__app_label__in=STAFF_APPS)
    group.permissions.add(*permissions)
    # The sign-in audit (django-axes' attempts, sign-ins and failures): Staff read it; lifting a lockout by deleting
    # an attempt is left to superusers.
    audit = Permission.objects.using(using).filter(content_type__app_label="axes", codename__startswith="view_")
    group.permissions.add(*audit)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Accounts and roles")

    def ready(self) -> None:
        post_migrate.connect(ensure_roles, dispatch_uid="core.ensure_roles")
