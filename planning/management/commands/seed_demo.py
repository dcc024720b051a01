"""Loads the demo campus (data/innopole-demo.json) through the services. Idempotent: a second run changes nothing."""

import datetime
import json
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from innopole.roles import EXECUTIVE, PLANNER, STAFF
from planning import services
from planning.models import Campus, Facility, FacilityType, Milestone, Parcel, Phase, UtilityCapacity

DEFAULT_PASSWORD = "innopole-demo"
DEMO_USERS = (
    ("planner", PLANNER, False),
    ("executive", EXECUTIVE, False),
    ("staff", STAFF, True),
)


def number(value) -> Decimal | None:
    """JSON numbers as exact decimals, so comparing with stored values finds no false change."""
    return None if value is None else Decimal(str(value))


def day(value: str | None) -> datetime.date | None:
    return None if value is None else datetime.date.fromisoformat(value)


class Command(BaseCommand):
    help = "Load the INNOPOLE demo campus and create the demo users. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off (not for production).")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already holds a campus."
        )
        parser.add_argument("--path", default=str(settings.DEMO_DATA_PATH), help="The demo data file.")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("DEBUG is off: this looks like a real deployment. Use --force to load demo data anyway.")
        if options["if_empty"] and Campus.objects.exists():
            self.stdout.write("The database already holds a campus: demo data not loaded (--if-empty).")
            return
        path = Path(options["path"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read demo data from {path}: {error}") from error
        self.counts: Counter = Counter()
        with transaction.atomic():
            campus = self._campus(data["campus"])
            phases = self._phases(campus, data["phases"])
            types = self._facility_types(data["facility_types"])
            self._parcels(campus, phases, types, data["parcels"]["features"])
            self._utilities(phases, data["utilities"])
            self._milestones(phases, data["milestones"])
        self._users()
        summary = ", ".join(f"{count} {what}" for what, count in sorted(self.counts.items())) or "nothing to do"
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))

    # Each helper creates what is missing and hands the rest to the update service, which saves only changes.

    def _upsert(self, model, lookup: dict, fields: dict, *, create, update, name: str, **extra):
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
        return self._upsert(
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
            phases[item["number"]] = self._upsert(
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
            }
            types[item["code"]] = self._upsert(
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
            for facility in props.get("facilities", []):
                self._upsert(
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
            self._upsert(
                UtilityCapacity,
                {"phase": phases[item["phase"]], "kind": item["kind"], "available_from": day(item["available_from"])},
                {"capacity": number(item["capacity"]), "status": item["status"]},
                create=services.utility_capacity_create,
                update=services.utility_capacity_update,
                name="utility",
            )

    def _milestones(self, phases, items: list[dict]) -> None:
        previous: dict[int, Milestone] = {}
        for item in items:
            phase = phases[item["phase"]]
            predecessor = previous.get(item["phase"]) if item.get("depends_on_previous") else None
            previous[item["phase"]] = self._upsert(
                Milestone,
                {"phase": phase, "kind": item["kind"]},
                {"planned_date": day(item["planned"]), "actual_date": day(item.get("actual"))},
                create=services.milestone_create,
                update=services.milestone_update,
                name="milestone",
                predecessors=[predecessor] if predecessor else [],
            )

    def _users(self) -> None:
        password = os.environ.get("DEMO_PASSWORD")
        if not password:
            password = DEFAULT_PASSWORD
            self.stdout.write(f"DEMO_PASSWORD is not set: demo users get the password '{password}'.")
        User = get_user_model()
        for username, role, is_staff in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
                self.counts["users created"] += 1
            user.groups.add(Group.objects.get(name=role))
