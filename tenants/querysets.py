"""Chainable reads of tenant data; scoping follows the partners rule through the tenant's organisation."""

from partners.querysets import OrganisationScopedQuerySet


class TenantQuerySet(OrganisationScopedQuerySet):
    pass


class SpaceAllocationQuerySet(OrganisationScopedQuerySet):
    organisation_path = "tenant__organisation"

    def holding_space(self):
        """Signed and occupied allocations: the ones that take a facility's GFA."""
        return self.filter(status__in=self.model.HOLDING_SPACE)
