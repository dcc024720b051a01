"""Loading the demo campus (data/innopole-demo.json), shared by every app.

`seed_demo` runs the loaders that apps register here, in order, in one transaction: planning loads the campus,
and apps further up (partners, tenants) register their own loaders in `AppConfig.ready()`, so planning never
imports them. Every loader writes through its app's services; `DemoLoad.upsert` creates what is missing and hands
the rest to the update service, which saves only what changed, so a second run changes nothing.
"""

import datetime
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import EXECUTIVE, PLANNER, STAFF

from . import services
from .models import Campus, Facility, FacilityType, Parcel, Phase, ScheduleDependency, ScheduleItem, UtilityCapacity

# username, role, is_staff (admin access)
DEMO_USERS = (
    ("planner", PLANNER, False),
    ("executive", EXECUTIVE, False),
    ("staff", STAFF, True),
)

LOADERS: list[tuple[int, Callable[["DemoLoad"], None]]] = []


def register(order: int):
    """Decorator: run this loader at `order` (planning is 0; apps above it use larger numbers)."""

    def decorator(loader: Callable[["DemoLoad"], None]):
        LOADERS.append((order, loader))
        LOADERS.sort(key=lambda item: item[0])
        return loader

    return decorator


def number(value) -> Decimal | None:
    """JSON numbers as exact decimals, so comparing with stored values finds no false change."""
    return None if value is None else Decimal(str(value))


def day(value: str | None) -> datetime.date | None:
    return None if value is None else datetime.date.fromisoformat(value)


class DemoLoad:
    """One run of the loaders over the demo data: what they share (the data, objects by code) and the counts."""

    def __init__(self, data: dict, password: str):
        self.data = data
        self.password = password
        self.counts: Counter = Counter()
        self.phases: dict[int, Phase] = {}
        self.parcels: dict[str, Parcel] = {}
        self.facility_types: dict[str, FacilityType] = {}
        self.campus: Campus | None = None
        self.organisations: dict = {}  # filled by the partners loader, for the apps above it

    def run(self) -> None:
        for _order, loader in LOADERS:
            loader(self)

    def upsert(self, model, lookup: dict, fields: dict, *, create, update, name: str, **extra):
        existing = model.objects.filter(**lookup).first()
        if existing is None:
            self.counts["created"] += 1
            return create(actor=None, **lookup, **fields, **extra)
        before = existing.version
        updated = update(**{name: existing}, actor=None, **fields, **extra)
        self.counts["updated" if updated.version != before else "unchanged"] += 1
        return updated

    def _campus(self, item: dict) -> Campus:
        fields = {
            "name_en": item["name_en"],
            "name_zh": item["name_zh"],
            "boundary": item["boundary"],
            "land_target_ha": number(item["land_target_ha"]),
            "zoning_default": item["zoning_default"],
            "max_plot_ratio": number(item["max_plot_ratio"]),
            "max_site_coverage_pct": number(item["max_site_coverage_pct"]),
            "max_building_height_mpd": number(item["max_building_height_mpd"]),
            "talent_housing_units_cap": item.get("talent_housing_units_cap"),
            "notes": item.get("notes", ""),
        }
        return self.upsert(
            Campus,
            {"code": item["code"].lower()},
            fields,
            create=services.campus_create,
            update=services.campus_update,
            name="campus",
        )

    def _phases(self, campus: Campus, items: list[dict]) -> dict[int, Phase]:
        phases = {}
        for item in items:
            fields = {
                "name_en": item["name_en"],
                "name_zh": item["name_zh"],
                "target_area_ha": number(item["target_ha"]),
                "planned_start": day(item["start"]),
                "planned_completion": day(item["completion"]),
                "capex_hkd_m": number(item["capex_hkd_m"]),
                "focus": item.get("focus", ""),
            }
            phases[item["number"]] = self.upsert(
                Phase,
                {"campus": campus, "number": item["number"]},
                fields,
                create=services.phase_create,
                update=services.phase_update,
                name="phase",
            )
        return phases

    def _facility_types(self, items: list[dict]) -> dict[str, FacilityType]:
        types = {}
        for item in items:
            fields = {
                "name_en": item["name_en"],
                "name_zh": item["name_zh"],
                "lettable": item["lettable"],
                "core": item.get("core", False),
                "capacity_unit": item["capacity_unit"],
                "gfa_per_capacity_m2": number(item.get("gfa_per_capacity_m2")),
                "power_kva_per_m2": number(item.get("power_kva_per_m2")),
                "pue": number(item.get("pue")),
                "water_m3_day_per_1000m2": number(item.get("water_m3_day_per_1000m2")),
                "counts_against_housing_cap": item.get("counts_against_housing_cap", False),
            }
            types[item["code"]] = self.upsert(
                FacilityType,
                {"code": item["code"]},
                fields,
                create=services.facility_type_create,
                update=services.facility_type_update,
                name="facility_type",
            )
        return types

    def _parcels(self, campus, phases, types, features: list[dict]) -> None:
        for feature in features:
            props = feature["properties"]
            fields = {
                "phase": phases.get(props.get("phase")),
                "lot_ref": props.get("lot_ref", ""),
                "geometry": feature["geometry"],
                "surveyed_area_m2": number(props.get("surveyed_area_m2")),
                "zoning": props.get("zoning") or campus.zoning_default,
                "max_plot_ratio": number(props["max_plot_ratio"]),
                "max_site_coverage_pct": number(props["max_site_coverage_pct"]),
                "max_building_height_mpd": number(props["max_building_height_mpd"]),
                "land_status": props["land_status"],
                "handover_date": day(props.get("handover_date")),
            }
            existing = Parcel.objects.filter(campus=campus, code=props["code"]).first()
            if existing is None:
                self.counts["created"] += 1
                parcel = services.parcel_create(actor=None, campus=campus, code=props["code"], **fields)
            else:
                before = existing.version
                parcel = services.parcel_update(parcel=existing, actor=None, **fields)
                self.counts["updated" if parcel.version != before else "unchanged"] += 1
            self.parcels[parcel.code] = parcel
            for facility in props.get("facilities", []):
                self.upsert(
                    Facility,
                    {"parcel": parcel, "name": facility["name"]},
                    {
                        "facility_type": types[facility["type"]],
                        "gfa_m2": number(facility["gfa_m2"]),
                        "capacity": number(facility.get("capacity")),
                    },
                    create=services.facility_create,
                    update=services.facility_update,
                    name="facility",
                )

    def _utilities(self, phases, items: list[dict]) -> None:
        for item in items:
            self.upsert(
                UtilityCapacity,
                {"phase": phases[item["phase"]], "kind": item["kind"], "available_from": day(item["available_from"])},
                {
                    "capacity": number(item["capacity"]),
                    "status": item["status"],
                    "responsible": item.get("responsible", ""),
                },
                create=services.utility_capacity_create,
                update=services.utility_capacity_update,
                name="utility",
            )

    def _schedule(self, phases, items: list[dict]) -> None:
        """Each phase's activities and milestones (found again by phase, category and title), then their
        dependencies, each through the services, so the schedule is recomputed as a planner's edit would."""
        by_key: dict[str, ScheduleItem] = {}
        for item in items:
            phase = phases[item["phase"]]
            fields = {
                "kind": item["kind"],
                "duration_days": item["duration_days"],
                "baseline_start": day(item["baseline_start"]),
                "baseline_finish": day(item.get("baseline_finish"))
                or day(item["baseline_start"]) + datetime.timedelta(days=item["duration_days"]),
                "start_not_before": day(item.get("start_not_before")),
                "actual_start": day(item.get("actual_start")),
                "actual_finish": day(item.get("actual_finish")),
                "responsible": item.get("responsible", ""),
            }
            by_key[item["key"]] = self.upsert(
                ScheduleItem,
                {"phase": phase, "category": item["category"], "title": item.get("title", "")},
                fields,
                create=services.schedule_item_create,
                update=services.schedule_item_update,
                name="item",
            )
        for item in items:
            for link in item["predecessors"]:
                self.upsert(
                    ScheduleDependency,
                    {"predecessor": by_key[link["key"]], "successor": by_key[item["key"]]},
                    {"lag_days": link["lag_days"]},
                    create=services.schedule_dependency_create,
                    update=services.schedule_dependency_update,
                    name="link",
                )

    def _users(self) -> None:
        """The demo users; existing ones keep their password."""
        User = get_user_model()
        for username, role, is_staff in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
            if created:
                user.set_password(self.password)
                user.save(update_fields=["password"])
                self.counts["users created"] += 1
            user.groups.add(Group.objects.get(name=role))


@register(0)
def load_plan(load: DemoLoad) -> None:
    data = load.data
    load.campus = load._campus(data["campus"])
    load.phases = load._phases(load.campus, data["phases"])
    load.facility_types = load._facility_types(data["facility_types"])
    load._parcels(load.campus, load.phases, load.facility_types, data["parcels"]["features"])
    load._utilities(load.phases, data["utilities"])
    load._schedule(load.phases, data["schedule"])
    load._users()
