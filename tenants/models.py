"""The tenants domain: organisations occupying (or about to occupy) space, and their space allocations."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import VersionedModel
from partners.models import Organisation
from planning.models import Facility

from .querysets import SpaceAllocationQuerySet, TenantQuerySet


class Tenant(VersionedModel):
    """An organisation as an occupier of campus space."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, related_name="tenant", verbose_name=_("organisation")
    )
    notes = models.TextField(_("notes"), blank=True)

    history = HistoricalRecords()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name_en"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self) -> str:
        return str(self.organisation)


class SpaceAllocation(VersionedModel):
    """GFA of a facility allocated to a tenant. Signed + occupied GFA never exceeds the facility's GFA."""

    class Status(models.TextChoices):
        WAITLISTED = "waitlisted", _("Waitlisted")
        RESERVED = "reserved", _("Reserved")
        SIGNED = "signed", _("Signed")
        OCCUPIED = "occupied", _("Occupied")
        ENDED = "ended", _("Ended")

    HOLDING_SPACE = (Status.SIGNED, Status.OCCUPIED)

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("tenant"))
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("facility")
    )
    gfa_m2 = models.DecimalField(_("GFA (m²)"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.WAITLISTED)
    start = models.DateField(_("start"), null=True, blank=True)
    end = models.DateField(_("end"), null=True, blank=True)

    history = HistoricalRecords()

    objects = SpaceAllocationQuerySet.as_manager()

    class Meta:
        ordering = ["facility__name", "tenant__organisation__name_en"]
        verbose_name = _("space allocation")
        verbose_name_plural = _("space allocations")
        constraints = [
            models.CheckConstraint(
                condition=Q(gfa_m2__gt=0),
                name="allocation_gfa_positive",
                violation_error_message=_("GFA must be more than 0 m²."),
            ),
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(start__isnull=True) | Q(end__gte=F("start")),
                name="allocation_end_after_start",
                violation_error_message=_("The end cannot be before the start."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} · {self.facility} · {self.gfa_m2} m²"

    def recorded_date_fields(self) -> tuple[str, ...]:
        """Occupied since `start`, ended on `end`: once the status says so, that date has passed (core.models)."""
        return {self.Status.OCCUPIED: ("start",), self.Status.ENDED: ("end",)}.get(self.status, ())
