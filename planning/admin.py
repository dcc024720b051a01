"""The admin of planning data for HKSTP staff: every write through `planning.services`, history on every model."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin import ServiceAdmin
from core.templatetags.units import grouped, m2, percent, with_unit
from core.units import m2_to_ha

from . import readiness as readiness_engine
from . import selectors, services
from .models import (
    Campus,
    Facility,
    FacilityType,
    Parcel,
    Phase,
    ReadinessCriterionSetting,
    ReadinessPolicy,
    ReadinessSnapshot,
    ReadinessSweep,
    ScheduleDependency,
    ScheduleItem,
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
    service_fields = services.CAMPUS_FIELDS

    def has_delete_permission(self, request, obj=None):
        return False  # a campus with a plan is never deleted from the admin


@admin.register(Phase)
class PhaseAdmin(ServiceAdmin):
    # Readiness early and no campus column (one campus; there is a filter): at 1366 px it is seen without scrolling.
    list_display = [
        "number",
        "name_en",
        "status",
        "readiness",
        "target_area_ha",
        "site_area_ha",
        "gfa_total",
        "planned_start",
        "planned_completion",
    ]
    actions = ["recompute_readiness"]
    list_filter = ["campus", "status"]
    search_fields = ["name_en", "name_zh", "focus"]
    readonly_fields = ["site_area_ha", "gfa_total", "version", "created", "updated"]
    create_service = services.phase_create
    update_service = services.phase_update
    delete_service = services.phase_delete
    service_object_name = "phase"
    service_fields = services.PHASE_FIELDS

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campus").with_totals().with_readiness()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "current_readiness"] if obj is not None else fields

    def get_fieldsets(self, request, obj=None):
        # The phase's current readiness in a section of its own, after the phase's fields.
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        fieldsets = [
            (name, {**options, "fields": [f for f in options["fields"] if f != "current_readiness"]})
            for name, options in fieldsets
        ]
        return [*fieldsets, (_("Readiness"), {"fields": ["current_readiness"]})]

    @admin.display(description=_("current readiness"))
    def current_readiness(self, phase):
        """The latest snapshot as the API reads it: state, score, criteria with reasons, in the reader's language."""
        snapshot = selectors.latest_snapshots([phase.pk]).get(phase.pk)
        return render_to_string(
            "planning/admin/readiness.html",
            {
                "snapshot": snapshot,
                "criteria": readiness_engine.readable_criteria(snapshot.criteria) if snapshot else [],
                "stale": phase.readiness_stale,
                "show_summary": True,
            },
        )

    @admin.display(description=_("readiness"), ordering="readiness_score")
    def readiness(self, phase):
        if phase.readiness_state is None:
            return _("not computed yet")
        text = _("%(state)s (%(score)s)") % {
            "state": ReadinessSnapshot.State(phase.readiness_state).label,
            "score": percent(phase.readiness_score),
        }
        return _("%(readiness)s · stale") % {"readiness": text} if phase.readiness_stale else text

    @admin.action(description=_("Recompute readiness now"))
    def recompute_readiness(self, request, queryset):
        for phase in queryset:
            snapshot = services.readiness_recompute(phase=phase)
            self.message_user(
                request,
                _("%(phase)s: %(state)s (%(score)s)")
                % {"phase": phase.name, "state": snapshot.get_state_display(), "score": percent(snapshot.score)},
            )

    @admin.display(description=_("site area (ha)"), ordering="site_area_m2")
    def site_area_ha(self, phase):
        return number_format(m2_to_ha(phase.site_area_m2), 2, force_grouping=True)

    @admin.display(description=_("GFA"), ordering="gfa_m2")
    def gfa_total(self, phase):
        return m2(phase.gfa_m2)


class FacilityInlineFormSet(forms.BaseInlineFormSet):
    """A parcel's facilities, saved as one change set by `services.parcel_programme_update` (the GFA cap checked
    once, on the result) when the formset is validated: after the parcel form's own service has saved the parcel,
    inside the admin's transaction (`core.admin`). So a refusal shows on the formset, and the whole save is undone.
    """

    actor = None  # the signed-in user (`FacilityInline.get_formset`)
    result: services.Programme | None = None  # what the service did, for the admin's change message

    def programme(self) -> dict:
        """The formset's changes as the keyword arguments `create`, `update`, `delete` of the programme service."""
        create, update, delete = [], [], []
        for form in self.forms:
            existing = form.instance if form.instance.pk else None
            if existing is None and (not form.has_changed() or self._should_delete_form(form)):
                continue
            data = {name: form.cleaned_data.get(name) for name in FacilityInline.fields}
            if existing is not None and self._should_delete_form(form):
                delete.append(existing)
            elif existing is not None:
                changed = {name: data[name] for name in form.changed_data if name in data}
                if changed:
                    update.append((existing, changed))
            else:
                create.append(data)
        return {"create": create, "update": update, "delete": delete}

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return  # each row shows its own errors; a new parcel its form refused has nothing to add facilities to
        programme = self.programme()
        if not any(programme.values()):
            return
        try:
            self.result = services.parcel_programme_update(parcel=self.instance, actor=self.actor, **programme)
        except ValidationError as error:
            raise ValidationError(error.messages) from None


class FacilityInline(admin.TabularInline):
    model = Facility
    formset = FacilityInlineFormSet
    fields = [name for name in services.FACILITY_FIELDS if name != "parcel"]
    extra = 0
    show_change_link = True

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a class of its own for this request
        formset.actor = request.user
        return formset


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
    service_fields = services.PARCEL_FIELDS

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
            gfa = parcel.facilities.total_gfa_m2()
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
        # Saved when the formset was validated (`FacilityInlineFormSet`); what it did goes into the change message.
        result = formset.result
        formset.new_objects = result.created if result else []
        formset.changed_objects = result.changed if result else []
        formset.deleted_objects = result.deleted if result else []


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
        "counts_against_housing_cap",
    ]
    list_filter = ["lettable", "core", "counts_against_housing_cap"]
    search_fields = ["code", "name_en", "name_zh"]
    readonly_fields = ["version", "created", "updated"]
    create_service = services.facility_type_create
    update_service = services.facility_type_update
    delete_service = services.facility_type_delete
    service_object_name = "facility_type"
    service_fields = services.FACILITY_TYPE_FIELDS


@admin.register(Facility)
class FacilityAdmin(ServiceAdmin):
    list_display = ["name", "parcel", "phase", "facility_type", "gfa", "capacity_in_unit", "status", "delivery_model"]
    list_filter = ["facility_type", "status", "delivery_model", "parcel__phase"]
    search_fields = ["name", "parcel__code"]
    readonly_fields = ["version", "created", "updated"]
    list_select_related = ["parcel__phase", "facility_type"]
    create_service = services.facility_create
    update_service = services.facility_update
    delete_service = services.facility_delete
    service_object_name = "facility"
    service_fields = services.FACILITY_FIELDS

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description=_("phase"), ordering="parcel__phase__number")
    def phase(self, facility):
        return facility.parcel.phase or _("reserve")

    @admin.display(description=_("GFA"), ordering="gfa_m2")
    def gfa(self, facility):
        return m2(facility.gfa_m2)

    @admin.display(description=_("capacity"), ordering="capacity")
    def capacity_in_unit(self, facility):
        return with_unit(facility.capacity, facility.facility_type.capacity_unit)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "capacity" in form.base_fields:
            # "In the type's unit" names the unit itself on a facility that has a type.
            form.base_fields["capacity"].help_text = _("In %(unit)s (the unit of its facility type).") % {
                "unit": obj.facility_type.capacity_unit
            }
        return form


@admin.register(UtilityCapacity)
class UtilityCapacityAdmin(ServiceAdmin):
    list_display = ["phase", "kind", "capacity_in_unit", "available_from", "status", "responsible"]
    list_filter = ["kind", "status", "phase"]
    search_fields = ["responsible"]
    readonly_fields = ["version", "created", "updated"]
    list_select_related = ["phase"]
    create_service = services.utility_capacity_create
    update_service = services.utility_capacity_update
    delete_service = services.utility_capacity_delete
    service_object_name = "utility"
    service_fields = services.UTILITY_FIELDS

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description=_("capacity"), ordering="capacity")
    def capacity_in_unit(self, utility):
        return with_unit(utility.capacity, utility.unit)


class ScheduleDependencyInline(admin.TabularInline):
    """An item's predecessors, read here; they are changed as dependencies (their own page, and the workspace)."""

    model = ScheduleDependency
    fk_name = "successor"
    fields = ["predecessor", "lag_days"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = _("predecessor")
    verbose_name_plural = _("predecessors")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("predecessor")


@admin.register(ScheduleItem)
class ScheduleItemAdmin(ServiceAdmin):
    list_display = [
        "__str__",
        "phase",
        "kind",
        "duration_days",
        "baseline_finish",
        "forecast_finish",
        "total_float_days",
        "critical_mark",
        "overdue",
        "responsible",
    ]
    list_filter = ["phase", "kind", "category", "critical"]
    search_fields = ["title", "responsible"]
    readonly_fields = [*services.SCHEDULE_RESULT_FIELDS, "version", "created", "updated"]
    list_select_related = ["phase"]
    autocomplete_fields = ["facility"]
    inlines = [ScheduleDependencyInline]
    create_service = services.schedule_item_create
    update_service = services.schedule_item_update
    delete_service = services.schedule_item_delete
    service_object_name = "item"
    service_fields = services.SCHEDULE_ITEM_FIELDS

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).with_overdue()

    @admin.display(description=_("overdue"))
    def overdue(self, item):
        # A mark only where there is something to see: a red ✖ on every item on time read as an alarm.
        if not item.is_overdue:
            return ""
        return format_html('<span class="badge badge-overdue">{}</span>', _("Overdue"))

    @admin.display(description=_("critical"), ordering="critical")
    def critical_mark(self, item):
        # As `overdue`: a word where an item is critical, nothing elsewhere (a boolean column drew a red ✖ on every
        # item with float to spare, which read as an alarm).
        if not item.critical:
            return ""
        return format_html("<strong>{}</strong>", _("Critical"))


@admin.register(ScheduleDependency)
class ScheduleDependencyAdmin(ServiceAdmin):
    list_display = ["__str__", "phase", "lag_days"]
    list_filter = ["successor__phase"]
    readonly_fields = ["version", "created", "updated"]
    list_select_related = ["predecessor", "successor__phase"]
    autocomplete_fields = ["predecessor", "successor"]
    create_service = services.schedule_dependency_create
    update_service = services.schedule_dependency_update
    delete_service = services.schedule_dependency_delete
    service_object_name = "link"
    service_fields = services.SCHEDULE_DEPENDENCY_FIELDS

    @admin.display(description=_("phase"), ordering="successor__phase__number")
    def phase(self, link):
        return link.successor.phase


@admin.register(ReadinessSnapshot)
class ReadinessSnapshotAdmin(admin.ModelAdmin):
    """Snapshots are written by the engine only: read them here."""

    list_display = ["phase", "computed_at", "state", "score_pct"]
    list_filter = ["state", "phase"]
    list_select_related = ["phase"]
    fields = ["phase", "computed_at", "state", "score_pct", "readable_criteria", "fingerprint"]
    readonly_fields = fields

    class Media:
        css = {"all": ["css/admin.css"]}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("score"), ordering="score")
    def score_pct(self, snapshot):
        return percent(snapshot.score)

    @admin.display(description=_("criteria"))
    def readable_criteria(self, snapshot):
        """The criteria and their reasons as the API gives them, in the reader's language."""
        return render_to_string(
            "planning/admin/readiness.html",
            {"snapshot": snapshot, "criteria": readiness_engine.readable_criteria(snapshot.criteria)},
        )


TARGET_FIELD = "target_{}"


@admin.register(ReadinessCriterionSetting)
class ReadinessCriterionSettingAdmin(ServiceAdmin):
    """A criterion's weight, gate, thresholds and targets: one number field per target the criterion declares."""

    list_display = [
        "code",
        "criterion_label",
        "enabled",
        "weight",
        "is_gate",
        "pass_threshold",
        "at_risk_threshold",
        "target_values",
    ]
    readonly_fields = ["code", "version", "created", "updated"]
    exclude = ["targets"]
    update_service = services.readiness_setting_update
    service_object_name = "setting"

    @staticmethod
    def _declared_targets(setting):
        criterion = readiness_engine.REGISTRY.get(setting.code) if setting is not None else None
        return criterion, (criterion.targets if criterion else {})

    @admin.display(description=_("name"))
    def criterion_label(self, setting):
        criterion, _declared = self._declared_targets(setting)
        return criterion.label if criterion else "—"

    @admin.display(description=_("targets"))
    def target_values(self, setting):
        criterion, declared = self._declared_targets(setting)
        if not declared:
            return "—"
        values = criterion.resolve_targets(setting.targets)
        return "; ".join(f"{target.label}: {grouped(values[name], 2)}" for name, target in declared.items())

    def get_form(self, request, obj=None, change=False, **kwargs):
        criterion, declared = self._declared_targets(obj)
        names = {TARGET_FIELD.format(name) for name in declared}
        if kwargs.get("fields"):
            kwargs["fields"] = [field for field in kwargs["fields"] if field not in names]
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if not declared:
            return form_class
        values = criterion.resolve_targets(obj.targets)
        extra = {
            TARGET_FIELD.format(name): forms.DecimalField(
                label=target.label,
                min_value=target.minimum,
                max_value=target.maximum,
                initial=values[name],
                help_text=_("Default: %(default)s.") % {"default": grouped(target.default, 2)},
            )
            for name, target in declared.items()
        }
        return type(form_class.__name__, (form_class,), extra)

    def service_data(self, form, *, change: bool) -> dict:
        data = super().service_data(form, change=change)
        _criterion, declared = self._declared_targets(form.instance)
        changed = {
            name: form.cleaned_data[TARGET_FIELD.format(name)]
            for name in declared
            if TARGET_FIELD.format(name) in form.changed_data
        }
        if changed:
            data["targets"] = {**form.instance.targets, **{name: str(value) for name, value in changed.items()}}
        return data

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
