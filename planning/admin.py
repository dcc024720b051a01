"""The admin of planning data for HKSTP staff: every write through `planning.services`, history on every model."""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from innopole.admin import ServiceAdmin

from . import services
from .models import (
    Campus,
    Facility,
    FacilityType,
    Milestone,
    Parcel,
    Phase,
    ReadinessCriterionSetting,
    ReadinessPolicy,
    ReadinessSnapshot,
    ReadinessSweep,
    UtilityCapacity,
)


@admin.register(Campus)
class CampusAdmin(ServiceAdmin):
    list_display = ["code", "name_en", "name_zh", "land_target_ha", "max_plot_ratio", "talent_housing_units_cap"]
    search_fields = ["code", "name_en", "name_zh"]
    readonly_fields = ["version", "created", "updated"]
    create_service = services.campus_create
    update_service = services.campus_update
    service_object_name = "campus"

    def has_delete_permission(self, request, obj=None):
        return False  # a campus with a plan is never deleted from the admin


@admin.register(Phase)
class PhaseAdmin(ServiceAdmin):
    list_display = [
        "number",
        "name_en",
        "campus",
        "status",
        "target_area_ha",
        "site_area_ha",
        "gfa_total",
        "planned_start",
        "planned_completion",
        "readiness",
    ]
    actions = ["recompute_readiness"]
    list_filter = ["campus", "status"]
    search_fields = ["name_en", "name_zh", "focus"]
    readonly_fields = ["site_area_ha", "gfa_total", "version", "created", "updated"]
    create_service = services.phase_create
    update_service = services.phase_update
    delete_service = services.phase_delete
    service_object_name = "phase"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campus").with_totals().with_readiness()

    @admin.display(description=_("readiness"), ordering="readiness_score")
    def readiness(self, phase):
        if phase.readiness_state is None:
            return _("not computed yet")
        state = ReadinessSnapshot.State(phase.readiness_state).label
        text = f"{state} ({phase.readiness_score})"
        stale = _("stale")
        return f"{text} · {stale}" if phase.readiness_stale else text

    @admin.action(description=_("Recompute readiness now"))
    def recompute_readiness(self, request, queryset):
        for phase in queryset:
            snapshot = services.readiness_recompute(phase=phase)
            self.message_user(
                request,
                _("%(phase)s: %(state)s (%(score)s)")
                % {"phase": phase.name, "state": snapshot.get_state_display(), "score": snapshot.score},
            )

    @admin.display(description=_("site area (ha)"), ordering="site_area_m2")
    def site_area_ha(self, phase):
        return f"{phase.site_area_m2 / Decimal(10_000):,.2f}"

    @admin.display(description=_("GFA (m²)"), ordering="gfa_m2")
    def gfa_total(self, phase):
        return f"{phase.gfa_m2:,.0f}"


class FacilityInlineFormSet(forms.BaseInlineFormSet):
    """The facilities of a parcel together stay within its GFA cap (checked again by the service on save)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        parcel = self.instance
        if parcel.surveyed_area_m2 is None:
            try:
                services.refresh_computed_area(parcel)
            except ValidationError:
                return  # the parcel form reports the geometry
        if parcel.max_plot_ratio is None:
            return
        total = sum(
            (form.cleaned_data.get("gfa_m2") or Decimal(0))
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        )
        if total > parcel.gfa_cap_m2:
            raise ValidationError(services.gfa_cap_message(parcel, total))


class FacilityInline(admin.TabularInline):
    model = Facility
    formset = FacilityInlineFormSet
    fields = ["name", "facility_type", "gfa_m2", "capacity", "status", "planned_completion", "delivery_model"]
    extra = 0
    show_change_link = True


@admin.register(Parcel)
class ParcelAdmin(ServiceAdmin):
    list_display = [
        "code",
        "phase",
        "site_area_ha",
        "gfa_against_cap",
        "land_status",
        "handover_date",
        "area_check",
    ]
    list_filter = ["campus", "phase", "land_status", "zoning"]
    search_fields = ["code", "lot_ref"]
    readonly_fields = [
        "computed_area_m2",
        "site_area_ha",
        "gfa_against_cap",
        "area_check",
        "version",
        "created",
        "updated",
    ]
    inlines = [FacilityInline]
    create_service = services.parcel_create
    update_service = services.parcel_update
    delete_service = services.parcel_delete
    service_object_name = "parcel"
    update_excluded_fields = ("campus",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("phase", "campus").with_gfa()

    @admin.display(description=_("site area (ha)"))
    def site_area_ha(self, parcel):
        if parcel.pk is None:
            return "—"
        return f"{parcel.site_area_ha:,.2f}"

    @admin.display(description=_("GFA / cap (m²)"))
    def gfa_against_cap(self, parcel):
        if parcel.pk is None:
            return "—"
        gfa = getattr(parcel, "gfa_m2", None)
        if gfa is None:
            gfa = parcel.facilities.aggregate(total=Sum("gfa_m2"))["total"] or 0
        return f"{gfa:,.0f} / {parcel.gfa_cap_m2:,.0f}"

    @admin.display(description=_("area check"))
    def area_check(self, parcel):
        if parcel.pk is None or parcel.area_difference_pct is None:
            return "—"
        flag = _("re-survey") if parcel.area_mismatch else _("ok")
        return f"{flag} ({parcel.area_difference_pct:+.2f} %)"

    def save_formset(self, request, form, formset, change):
        if formset.model is not Facility:
            return super().save_formset(request, form, formset, change)
        parcel = form.instance
        # What formset.save() would record, for the admin's change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            existing = inline_form.instance if inline_form.instance.pk else None
            if existing is None and not inline_form.has_changed():
                continue
            data = {name: inline_form.cleaned_data.get(name) for name in FacilityInline.fields}
            if existing is not None and inline_form.cleaned_data.get("DELETE"):
                services.facility_delete(facility=existing, actor=request.user)
                formset.deleted_objects.append(existing)
            elif existing is not None:
                changed = {name: data[name] for name in inline_form.changed_data if name in data}
                if changed:
                    saved = services.facility_update(facility=existing, actor=request.user, **changed)
                    formset.changed_objects.append((saved, list(changed)))
            else:
                formset.new_objects.append(services.facility_create(actor=request.user, parcel=parcel, **data))


@admin.register(FacilityType)
class FacilityTypeAdmin(ServiceAdmin):
    list_display = [
        "code",
        "name_en",
        "lettable",
        "core",
        "capacity_unit",
        "gfa_per_capacity_m2",
        "power_kva_per_m2",
        "pue",
        "water_m3_day_per_1000m2",
    ]
    list_filter = ["lettable", "core"]
    search_fields = ["code", "name_en", "name_zh"]
    readonly_fields = ["version", "created", "updated"]
    create_service = services.facility_type_create
    update_service = services.facility_type_update
    delete_service = services.facility_type_delete
    service_object_name = "facility_type"


@admin.register(Facility)
class FacilityAdmin(ServiceAdmin):
    list_display = ["name", "parcel", "phase", "facility_type", "gfa_m2", "capacity", "status", "delivery_model"]
    list_filter = ["facility_type", "status", "delivery_model", "parcel__phase"]
    search_fields = ["name", "parcel__code"]
    readonly_fields = ["version", "created", "updated"]
    list_select_related = ["parcel__phase", "facility_type"]
    create_service = services.facility_create
    update_service = services.facility_update
    delete_service = services.facility_delete
    service_object_name = "facility"

    @admin.display(description=_("phase"), ordering="parcel__phase__number")
    def phase(self, facility):
        return facility.parcel.phase or _("reserve")


@admin.register(UtilityCapacity)
class UtilityCapacityAdmin(ServiceAdmin):
    list_display = ["phase", "kind", "capacity", "unit", "available_from", "status"]
    list_filter = ["kind", "status", "phase"]
    readonly_fields = ["version", "created", "updated"]
    list_select_related = ["phase"]
    create_service = services.utility_capacity_create
    update_service = services.utility_capacity_update
    delete_service = services.utility_capacity_delete
    service_object_name = "utility"


@admin.register(Milestone)
class MilestoneAdmin(ServiceAdmin):
    list_display = ["__str__", "phase", "kind", "planned_date", "actual_date", "overdue"]
    list_filter = ["phase", "kind"]
    search_fields = ["title"]
    filter_horizontal = ["predecessors"]
    readonly_fields = ["version", "created", "updated"]
    list_select_related = ["phase"]
    create_service = services.milestone_create
    update_service = services.milestone_update
    delete_service = services.milestone_delete
    service_object_name = "milestone"

    @admin.display(description=_("overdue"), boolean=True)
    def overdue(self, milestone):
        return milestone.is_overdue


@admin.register(ReadinessSnapshot)
class ReadinessSnapshotAdmin(admin.ModelAdmin):
    """Snapshots are written by the engine only: read them here."""

    list_display = ["phase", "computed_at", "state", "score"]
    list_filter = ["state", "phase"]
    list_select_related = ["phase"]
    readonly_fields = ["phase", "computed_at", "state", "score", "criteria", "fingerprint"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReadinessCriterionSetting)
class ReadinessCriterionSettingAdmin(ServiceAdmin):
    list_display = ["code", "enabled", "weight", "is_gate", "pass_threshold", "at_risk_threshold"]
    readonly_fields = ["code", "version", "created", "updated"]
    update_service = services.readiness_setting_update
    service_object_name = "setting"

    def has_add_permission(self, request):
        return False  # one row per registered criterion, created after migrate

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReadinessPolicy)
class ReadinessPolicyAdmin(ServiceAdmin):
    list_display = ["__str__", "ready_score"]
    readonly_fields = ["version", "created", "updated"]
    update_service = services.readiness_policy_update
    service_object_name = "policy"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReadinessSweep)
class ReadinessSweepAdmin(admin.ModelAdmin):
    list_display = ["kind", "finished_at", "phases"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
