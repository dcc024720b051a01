from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

# HKSTP staff keep these apps' data in the admin.
STAFF_APPS = ("planning", "partners", "tenants")


def grant_staff_permissions(sender, using="default", **kwargs) -> None:
    """Give the Staff group every permission on the domain apps (new models included after each migrate)."""
    from django.contrib.auth.models import Group, Permission

    from .roles import STAFF

    group = Group.objects.using(using).filter(name=STAFF).first()
    if group is None:
        return
    permissions = Permission.objects.using(using).filter(content_type__app_label__in=STAFF_APPS)
    group.permissions.add(*permissions)


class InnopoleConfig(AppConfig):
    name = "innopole"
    verbose_name = _("INNOPOLE")

    def ready(self) -> None:
        post_migrate.connect(grant_staff_permissions, dispatch_uid="innopole.grant_staff_permissions")
