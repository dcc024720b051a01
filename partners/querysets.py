"""Chainable reads of partner data, and `restrict(user, action)`: the one scoping rule every view uses.

HKSTP staff, planners and executives see every organisation's data; a partner user sees only its own
organisation's. Writes: staff change everything; a partner changes only its own organisation's EOIs and
attachments. Outside that scope a row does not exist for the user (views answer 404).
"""

from django.db import models
from django.db.models import DecimalField, ExpressionWrapper, F
from django.utils import timezone

from core.roles import EXECUTIVE, PARTNER, PLANNER, STAFF, has_role

WEIGHTED = DecimalField(max_digits=16, decimal_places=4)


def organisation_id_of(user) -> int | None:
    """The organisation a portal user belongs to (cached on the user for the request)."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_innopole_organisation_id"):
        from .models import Membership

        user._innopole_organisation_id = (
            Membership.objects.filter(user=user).values_list("organisation_id", flat=True).first()
        )
    return user._innopole_organisation_id


class OrganisationScopedQuerySet(models.QuerySet):
    """Rows that belong to an organisation through `organisation_path`."""

    organisation_path = "organisation"
    # Which actions a partner may take on its own organisation's rows.
    partner_actions: frozenset[str] = frozenset({"view"})

    def restrict(self, user, action: str = "view"):
        if not user.is_authenticated:
            return self.none()
        if has_role(user, STAFF):
            return self
        if action == "view" and has_role(user, PLANNER, EXECUTIVE):
            return self
        if has_role(user, PARTNER) and action in self.partner_actions:
            organisation_id = organisation_id_of(user)
            if organisation_id is None:
                return self.none()
            return self.filter(**{self.organisation_path: organisation_id})
        return self.none()

    def of_organisation(self, organisation):
        return self.filter(**{self.organisation_path: organisation})


class OrganisationQuerySet(OrganisationScopedQuerySet):
    organisation_path = "pk"


class MembershipQuerySet(OrganisationScopedQuerySet):
    pass


class InvitationQuerySet(OrganisationScopedQuerySet):
    def open(self):
        """Neither accepted nor revoked: usable, or expired and worth sending again."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)

    def usable(self):
        """Invitations whose link still works: open and not expired. The one definition of "usable"."""
        return self.open().filter(expires_at__gt=timezone.now())

    def expired(self):
        return self.open().filter(expires_at__lte=timezone.now())


class MoUQuerySet(OrganisationScopedQuerySet):
    pass


class EOIQuerySet(OrganisationScopedQuerySet):
    partner_actions = frozenset({"view", "change"})


class AttachmentQuerySet(OrganisationScopedQuerySet):
    organisation_path = "eoi__organisation"
    partner_actions = frozenset({"view", "change"})


class CommitmentQuerySet(OrganisationScopedQuerySet):
    def with_weighted(self):
        """`weighted_gfa_m2` and `weighted_amount_hkd_m`: the figures × the stage's probability."""
        return self.annotate(
            weighted_gfa_m2=ExpressionWrapper(F("gfa_m2") * F("stage__probability"), output_field=WEIGHTED),
            weighted_amount_hkd_m=ExpressionWrapper(F("amount_hkd_m") * F("stage__probability"), output_field=WEIGHTED),
        )


def users_who_may_join():
    """Accounts that may become partner users: none of HKSTP's own (staff, planners, executives, admin-site users).

    The same rule as `partners.services.is_hkstp_account`, as a query (for the admin's user box).
    """
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(is_staff=False, is_superuser=False)
        .exclude(groups__name__in=(STAFF, PLANNER, EXECUTIVE))
    )
