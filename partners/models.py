"""The partners domain: organisations and their people, MoUs, expressions of interest (EOIs) and commitments.

Workflows (EOI moves, invitations, commitments from EOIs) live in `partners.services`; these models hold the data
and what the database can enforce.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import BilingualNameMixin, TimeStampedModel, VersionedModel
from planning.models import Facility, FacilityType, Parcel, Phase

from . import workflow
from .querysets import (
    AttachmentQuerySet,
    CommitmentQuerySet,
    EOIQuerySet,
    InvitationQuerySet,
    MembershipQuerySet,
    MoUQuerySet,
    OrganisationQuerySet,
)
from .workflow import LIVE_STATUSES, EOIStatus

MONEY = {"max_digits": 12, "decimal_places": 1}
AREA = {"max_digits": 12, "decimal_places": 2}


class Sector(models.TextChoices):
    LIFE_HEALTH = "life_health", _("Life & health")
    GERONTECH = "gerontech", _("Gerontech")
    AI_ROBOTICS = "ai_robotics", _("AI & robotics")
    HPC = "hpc", _("High-performance computing")
    MICROELECTRONICS = "microelectronics", _("Microelectronics")
    ADVANCED_MATERIALS = "advanced_materials", _("Advanced materials")
    NEW_ENERGY = "new_energy", _("New energy")
    LOW_ALTITUDE = "low_altitude", _("Low-altitude economy")
    REAL_ESTATE = "real_estate", _("Real estate")
    FINANCE = "finance", _("Finance")


class Organisation(BilingualNameMixin, VersionedModel):
    """An enterprise, institution, developer, operator or investor that deals with HKSTP about the campus."""

    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("Enterprise")
        INSTITUTION = "institution", _("Institution")
        DEVELOPER = "developer", _("Developer")
        OPERATOR = "operator", _("Operator")
        INVESTOR = "investor", _("Investor")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    sector = models.CharField(_("sector"), max_length=30, choices=Sector.choices)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)

    history = HistoricalRecords()

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Membership(TimeStampedModel):
    """A portal user's place in one organisation; organisation admins may invite colleagues."""

    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        ADMIN = "admin", _("Organisation admin")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership", verbose_name=_("user")
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("organisation")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)

    history = HistoricalRecords()

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation}"


class Invitation(TimeStampedModel):
    """An e-mailed invitation to join an organisation in the portal; accepted once, before it expires."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("organisation")
    )
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token = models.UUIDField(_("token"), default=uuid.uuid4, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("invited by")
    )
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    # When the last e-mail for it went out (created or resent): the per-organisation rate limit counts these.
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    # The token is the credential in the link: history keeps who did what, never old links.
    history = HistoricalRecords(excluded_fields=["token"])

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return self.email


class MoUStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    NEGOTIATING = "negotiating", _("Negotiating")
    SIGNED = "signed", _("Signed")
    EXPIRED = "expired", _("Expired")


class MoU(VersionedModel):
    """A memorandum of understanding between HKSTP and an organisation."""

    Status = MoUStatus

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="mous", verbose_name=_("organisation")
    )
    title = models.CharField(_("title"), max_length=200)
    focus = models.CharField(_("focus area"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    signed_date = models.DateField(_("signed date"), null=True, blank=True)

    history = HistoricalRecords()

    objects = MoUQuerySet.as_manager()

    # Signed on that day: not after today (core.models).
    past_date_fields = ("signed_date",)

    class Meta:
        ordering = ["organisation__name_en", "title"]
        verbose_name = _("MoU")
        verbose_name_plural = _("MoUs")
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=[MoUStatus.SIGNED, MoUStatus.EXPIRED]) | Q(signed_date__isnull=False),
                name="mou_signed_has_date",
                violation_error_message=_("A signed or expired MoU needs its signed date."),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ExpressionOfInterest(VersionedModel):
    """What an organisation would like on the campus: a facility type, where, how much, and when.

    Status moves only through `partners.services.eoi_transition` along `partners.workflow.WORKFLOW`; every move is
    an `EOITransition`.
    """

    Status = EOIStatus

    class Language(models.TextChoices):
        EN = "en", _("English")
        ZH_HANT = "zh-hant", _("Traditional Chinese")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="eois", verbose_name=_("organisation")
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="eois",
        verbose_name=_("submitted by"),
    )
    facility_type = models.ForeignKey(
        FacilityType, on_delete=models.PROTECT, related_name="eois", verbose_name=_("facility type")
    )
    preferred_phase = models.ForeignKey(
        Phase, on_delete=models.SET_NULL, null=True, blank=True, related_name="eois", verbose_name=_("preferred phase")
    )
    preferred_parcel = models.ForeignKey(
        Parcel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="eois",
        verbose_name=_("preferred parcel"),
    )
    gfa_m2 = models.DecimalField(_("GFA (m²)"), null=True, blank=True, **AREA)
    capacity = models.DecimalField(
        _("capacity"), max_digits=12, decimal_places=2, null=True, blank=True, help_text=_("In the type's unit.")
    )
    jobs = models.PositiveIntegerField(_("jobs"), null=True, blank=True)
    investment_hkd_m = models.DecimalField(_("investment (HKD million)"), null=True, blank=True, **MONEY)
    wanted_start = models.DateField(_("wanted start"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, default=Language.EN)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)

    history = HistoricalRecords()

    objects = EOIQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-created"]
        verbose_name = _("expression of interest")
        verbose_name_plural = _("expressions of interest")
        # A page of the API list (its default order) and of the admin's review queue (oldest submission first)
        # is read from an index instead of sorting every EOI (`make bench`, 100,000 EOIs).
        indexes = [
            models.Index(fields=["-submitted_at", "-created"], name="eoi_list_order"),
            models.Index(fields=["submitted_at", "id"], name="eoi_queue_order"),
            # The live EOIs with the columns the roll-ups sum and the review queue counts, so both read this narrow
            # index instead of the wide rows: EOI demand per phase and the queue's count each took about 25 ms at
            # 100,000 EOIs, now 6–14 ms (`make bench`; tests/partners/test_live_eoi_index.py).
            models.Index(
                fields=["status"],
                include=["id", "preferred_parcel", "preferred_phase", "gfa_m2"],
                condition=Q(status__in=list(LIVE_STATUSES)),
                name="eoi_live",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(gfa_m2__isnull=True) | Q(gfa_m2__gt=0),
                name="eoi_gfa_positive",
                violation_error_message=_("GFA must be more than 0 m²."),
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gt=0),
                name="eoi_capacity_positive",
                violation_error_message=_("Capacity must be more than 0."),
            ),
            models.CheckConstraint(
                condition=Q(investment_hkd_m__isnull=True) | Q(investment_hkd_m__gte=0),
                name="eoi_investment_not_negative",
                violation_error_message=_("Investment cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(status=EOIStatus.DRAFT) | Q(submitted_at__isnull=False),
                name="eoi_submitted_has_time",
                violation_error_message=_("Only a draft has no submission time."),
            ),
        ]

    def __str__(self) -> str:
        return _("EOI %(number)s") % {"number": self.reference}

    @property
    def reference(self) -> str:
        return f"{self.pk:05d}" if self.pk else "—"

    @property
    def is_decided(self) -> bool:
        return self.status in workflow.DECIDED

    @property
    def can_withdraw(self) -> bool:
        return self.status in workflow.WITHDRAWABLE

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    def moves(self, side: str | None = None) -> list[workflow.Transition]:
        """The workflow's transitions from this EOI's status (of one side, if given)."""
        return workflow.moves_from(self.status, side)

    @property
    def partner_moves(self) -> list[workflow.Transition]:
        return self.moves(workflow.Side.PARTNER)

    @property
    def staff_moves(self) -> list[workflow.Transition]:
        return self.moves(workflow.Side.STAFF)


S = EOIStatus


class EOITransition(models.Model):
    """One move of an EOI's status: who, when, and the note the partner sees."""

    eoi = models.ForeignKey(
        ExpressionOfInterest, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("EOI")
    )
    from_status = models.CharField(_("from"), max_length=20, choices=S.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=S.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"))
    note = models.TextField(_("note to the partner"), blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("EOI status change")
        verbose_name_plural = _("EOI status changes")

    def __str__(self) -> str:
        # The labels, in the reader's language: this is the row caption of the admin's status timeline.
        return f"{self.get_from_status_display() or '∅'} → {self.get_to_status_display()}"


class ReviewNote(TimeStampedModel):
    """An HKSTP reviewer's internal note on an EOI. Never shown to the partner."""

    eoi = models.ForeignKey(
        ExpressionOfInterest, on_delete=models.CASCADE, related_name="review_notes", verbose_name=_("EOI")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("author")
    )
    text = models.TextField(_("note"))

    history = HistoricalRecords()

    class Meta:
        ordering = ["created"]
        verbose_name = _("internal review note")
        verbose_name_plural = _("internal review notes")

    def __str__(self) -> str:
        return self.text[:60]


def attachment_path(instance: "Attachment", filename: str) -> str:
    """Stored under a generated name: the uploader's file name is kept only as data, never as a path."""
    return f"eoi-attachments/{instance.eoi.organisation_id}/{uuid.uuid4().hex}{instance.extension}"


class Attachment(TimeStampedModel):
    """A file attached to an EOI. Its type is checked by content (`partners.uploads`)."""

    eoi = models.ForeignKey(
        ExpressionOfInterest, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("EOI")
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    extension = models.CharField(_("extension"), max_length=10)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("uploaded by")
    )

    history = HistoricalRecords()

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["created"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class CommitmentStage(BilingualNameMixin, VersionedModel):
    """A rung of the commitment ladder with the probability that a commitment on it comes true (editable)."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), unique=True)
    probability = models.DecimalField(_("probability"), max_digits=4, decimal_places=3)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order"]
        verbose_name = _("commitment stage")
        verbose_name_plural = _("commitment stages")
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=1),
                name="commitment_stage_probability_0_1",
                violation_error_message=_("A probability is between 0 and 1."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CommitmentKind(models.TextChoices):
    OCCUPANCY = "occupancy", _("Occupancy")
    CAPITAL = "capital", _("Capital")
    OPERATION = "operation", _("Operation")


class Commitment(VersionedModel):
    """A promise an organisation has made about the campus, and how far up the ladder it is.

    `kind` says what is promised: occupancy (takes space), capital (co-invests in or develops a facility) or
    operation (runs it). Occupancy GFA and capital amounts roll up separately and are never added together.
    """

    Kind = CommitmentKind

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="commitments", verbose_name=_("organisation")
    )
    parcel = models.ForeignKey(Parcel, on_delete=models.PROTECT, related_name="commitments", verbose_name=_("parcel"))
    facility = models.ForeignKey(
        Facility,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commitments",
        verbose_name=_("facility"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    stage = models.ForeignKey(
        CommitmentStage, on_delete=models.PROTECT, related_name="commitments", verbose_name=_("stage")
    )
    gfa_m2 = models.DecimalField(_("GFA (m²)"), default=Decimal(0), **AREA)
    capacity = models.DecimalField(_("capacity"), max_digits=12, decimal_places=2, null=True, blank=True)
    amount_hkd_m = models.DecimalField(_("amount (HKD million)"), default=Decimal(0), **MONEY)
    date = models.DateField(_("date"))
    source_eoi = models.OneToOneField(
        ExpressionOfInterest,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commitment",
        verbose_name=_("from EOI"),
    )

    history = HistoricalRecords()

    objects = CommitmentQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "id"]
        verbose_name = _("commitment")
        verbose_name_plural = _("commitments")
        indexes = [models.Index(fields=["-date", "id"], name="commitment_list_order")]  # a page without a sort
        constraints = [
            models.CheckConstraint(
                condition=Q(gfa_m2__gte=0),
                name="commitment_gfa_not_negative",
                violation_error_message=_("GFA cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(amount_hkd_m__gte=0),
                name="commitment_amount_not_negative",
                violation_error_message=_("The amount cannot be negative."),
            ),
            # What each kind promises must be there: space for an occupancy, money for a capital commitment.
            models.CheckConstraint(
                condition=~Q(kind=CommitmentKind.OCCUPANCY) | Q(gfa_m2__gt=0),
                name="commitment_occupancy_has_gfa",
                violation_error_message=_("An occupancy commitment needs the GFA it takes."),
            ),
            models.CheckConstraint(
                condition=~Q(kind=CommitmentKind.CAPITAL) | Q(amount_hkd_m__gt=0),
                name="commitment_capital_has_amount",
                violation_error_message=_("A capital commitment needs its amount."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} · {self.get_kind_display()} · {self.stage}"
