"""The readiness benchmark behind `manage.py bench` (`make bench`): a scratch database, synthetic data, measurements.

Where it runs. The benchmark never writes to the configured database. It connects to that database's server
(same host, port and user), creates `innopole_bench_<pid>`, points the `default` connection at it the way Django's
test runner points it at a test database (`settings.DATABASES` and the connection's `settings_dict` changed, the
connection closed and reopened), runs `migrate` there, generates and measures, then points the connection back and
drops the scratch database — also when anything fails. The user needs CREATEDB on the server; PostgreSQL only
(the figures are about the production database, and the SQL baseline is PostgreSQL's dialect). Should the new
database come with a campus in it (copied from a polluted `template1`), the command refuses unless `--force`.
With `--template` it is instead a copy of an already migrated database, emptied (`scratch_database`): the test suite
copies its test database rather than running every migration again; the figures are the same either way.

The data. An HKSTP-scale campus far beyond INNOPOLE's own: 100 phases, each with 50 parcels (60 m squares on a
70 m grid, so none overlap, all inside one large campus boundary), 4 facilities per parcel using the demo's 11
facility types, 5 milestones (schedule items in a chain, lag 0), power, water and fibre supply lines, and its own
block of 100 organisations, 1,000 EOIs, 500 commitments, 50 tenants and 1,000 space allocations: 5,000 parcels,
20,000 facilities, 10,000 organisations, 100,000 EOIs, 50,000 commitments and 100,000 allocations in all.
`--scale` multiplies the rows per phase (at least one of each); the 100 phases stay, so the three measured sizes —
1 %, 10 % and 100 % — are exactly 1, 10 and 100 phases. The data grows by whole phases, so phase 1's own rows are
the same at every size: what changes around it is only the size of the database.

The rows are written with `bulk_create` (batches of 5,000), bypassing the services: it is synthetic benchmark
data in a throwaway database, and the services' per-object validation, audit rows and stale-marking would make
generation take hours. The data is still valid: areas are measured from the stored polygons in HK1980 Grid as
`planning.geometry` does it, GFA stays within plot ratio × site area, submitted EOIs have their submission time,
signed + occupied allocations never exceed a facility's GFA, and actual dates are never after today. The
scheduling engine's results are stored as the services store them (`services.schedule_recompute` for each phase
after its rows are inserted), so the criteria read a forecast. No history or EOI transition rows are written.
Last, `measure_stored_schedule` adds campuses of its own with 100 phases of 20 and of 200 schedule items (see there).
The benchmark spans every app, so it lives in the project package, the top layer, which may import them all.

What it measures is described in `innopole/management/commands/bench.py`.
"""

import contextlib
import datetime
import gc
import itertools
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from core import freshness
from partners.models import Commitment, CommitmentStage, ExpressionOfInterest, Membership, Organisation
from planning import readiness, services
from planning.api.serializers import FEATURE_COLUMNS  # the plain path reads exactly what the GeoJSON reads
from planning.geometry import area_m2, parse_polygon, rectangle_geojson, transformer_to_grid, transformer_to_wgs84
from planning.models import (
    Campus,
    Facility,
    FacilityType,
    Parcel,
    Phase,
    ScheduleDependency,
    ScheduleItem,
    UtilityCapacity,
)
from tenants.models import SpaceAllocation, Tenant

BATCH_SIZE = 5_000
PHASES = 100
LEVELS = (("1 %", 0.01), ("10 %", 0.10), ("100 %", 1.0))
# Rows per phase at --scale 1 (100 phases: 5,000 parcels, 20,000 facilities, …).
PER_PHASE = {
    "parcels": 50,
    "organisations": 100,
    "eois": 1_000,
    "commitments": 500,
    "tenants": 50,
    "allocations": 1_000,
}
FACILITIES_PER_PARCEL = 4
MAX_SCALE = 2.0  # beyond this the grid of parcels would leave Hong Kong's bounds
SEED = "innopole-bench"
CAMPUS_CODE = "bench"

# The grid: phase n is row n - 1, its parcels run east. South-west corner near the INNOPOLE site.
ORIGIN = (825_300.0, 839_200.0)
PARCEL_SIDE_M = 60.0
PARCEL_PITCH_M = 70.0
SITE_AREA_M2 = PARCEL_SIDE_M * PARCEL_SIDE_M
PLOT_RATIO = Decimal("6")
FIRST_START = datetime.date(2025, 1, 5)

# Facility types by code, with how often each appears in the synthetic programme.
TYPE_WEIGHTS = {
    "office": 30,
    "lab": 12,
    "talent_housing": 12,
    "gmp": 8,
    "advanced_manufacturing": 8,
    "edge_computing": 6,
    "retail": 8,
    "low_altitude": 4,
    "convention": 3,
    "utilities": 4,
    "open_space": 5,
}
EOI_STATUS_WEIGHTS = {
    "draft": 8,
    "submitted": 20,
    "under_review": 20,
    "shortlisted": 14,
    "on_hold": 6,
    "accepted": 12,
    "declined": 10,
    "withdrawn": 10,
}
ALLOCATION_STATUS_WEIGHTS = {"waitlisted": 15, "reserved": 20, "signed": 30, "occupied": 25, "ended": 10}
LAND_STATUS_WEIGHTS = {
    "transferred": 35,
    "site_ready": 15,
    "handover_scheduled": 25,
    "site_formation": 10,
    "not_transferred": 15,
}
COMMITMENT_KIND_WEIGHTS = {"occupancy": 60, "capital": 25, "operation": 15}


class BenchError(Exception):
    """The benchmark cannot run here, or its figures cannot be trusted (the command reports it and stops)."""


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def money(value: float, places: str = "0.01") -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places))


@dataclass(frozen=True)
class Shape:
    """How many rows of each kind one phase gets at a given --scale."""

    scale: float

    def per_phase(self, kind: str) -> int:
        return max(1, round(PER_PHASE[kind] * self.scale))


def level_phases(fraction: float) -> int:
    return max(1, round(PHASES * fraction))


# --- the scratch database -------------------------------------------------------------------------------------


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def server_settings() -> dict[str, str]:
    """Server settings that change the figures (JIT compiles the engine's costlier plans; see the README)."""
    names = ("jit", "shared_buffers", "work_mem", "synchronous_commit")
    found = {}
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"SHOW {name}")
            found[name] = cursor.fetchone()[0]
    return found


def _point_default_at(name: str) -> None:
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.settings_dict["NAME"] = name


@contextlib.contextmanager
def scratch_database(*, log: Callable[[str], None] = print, template: str | None = None) -> Iterator[str]:
    """Create `innopole_bench_<pid>` on the configured server, point `default` at it, migrate; drop it after.

    Uses the backend's maintenance connection (`_nodb_cursor`, the one Django's test runner creates and drops test
    databases with), so the configured database itself is never connected to for writing.

    With `template`, the new database is a copy of that database of the same server (`CREATE DATABASE … TEMPLATE`,
    as Django's test runner clones test databases), already migrated by this project: `migrate` then applies only
    what it lacks, and `flush` empties the copy (its rows, not the template's) and lets the apps' post_migrate
    handlers write their defaults again, so the copy holds what a freshly migrated database holds, in seconds
    instead of every migration run again. PostgreSQL copies a database only while no one else is connected to it;
    if the copy is refused, the benchmark says so and migrates an empty database instead.
    """
    if connection.vendor != "postgresql":
        raise BenchError(f"The benchmark runs on PostgreSQL only; the configured database is {connection.vendor}.")
    name = f"innopole_bench_{os.getpid()}"
    original = connection.settings_dict["NAME"]
    quoted = connection.ops.quote_name(name)
    copied = template is not None and _copy_database(template, quoted, log=log)
    if not copied:
        try:
            with connection._nodb_cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {quoted}")
        except DatabaseError as error:
            raise BenchError(
                f"Could not create the scratch database {name} on the configured server ({error}). "
                "The benchmark needs a PostgreSQL user allowed to create databases (CREATEDB)."
            ) from error
    source = f" as a copy of {template}" if copied else ""
    log(f"Created the scratch database {name}{source} (the configured database {original} is not touched).")
    try:
        _point_default_at(name)
        call_command("migrate", verbosity=0, interactive=False)
        if copied:
            call_command("flush", verbosity=0, interactive=False)
        yield name
    finally:
        _point_default_at(original)
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        connection.close()
        log(f"Dropped the scratch database {name}.")


def _copy_database(template: str, quoted: str, *, log: Callable[[str], None]) -> bool:
    """`CREATE DATABASE <quoted> TEMPLATE <template>`; False (and why, logged) when the server refuses the copy."""
    connection.close()  # our own session on the template, if it is the configured database, would block the copy
    try:
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {quoted} TEMPLATE {connection.ops.quote_name(template)}")
    except DatabaseError as error:
        log(f"Could not copy {template} ({str(error).strip()}); migrating an empty database instead.")
        return False
    return True


def analyse() -> None:
    """Refresh the planner's statistics and the visibility map, as autovacuum would soon after a bulk load (fair to
    engine and SQL). Without the visibility map an index-only scan (`eoi_live`) would still read every row; this
    server runs with autovacuum off, a production one with it on (insert-triggered vacuums since PostgreSQL 13)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- generation -----------------------------------------------------------------------------------------------


class Generator:
    """Writes the synthetic campus phase by phase; `grow(n)` adds phases up to n in total.

    Each phase's rows come from a random generator seeded with the phase number, so a phase is the same whichever
    size the run grows to and in however many steps.
    """

    def __init__(self, shape: Shape):
        self.shape = shape
        self.phases = 0
        self.next_org = 1
        self.to_wgs84 = transformer_to_wgs84()  # the pinned EPSG:1825 transformation, as the services use
        self.to_grid = transformer_to_grid()
        self.columns = shape.per_phase("parcels")
        self.campus: Campus | None = None
        self.types: dict[str, FacilityType] = {}
        self.stages: list = []

    def setup(self) -> None:
        """The demo's facility types, and one campus large enough for every phase's row of parcels."""
        data = json.loads(settings.DEMO_DATA_PATH.read_text(encoding="utf-8"))
        fields = {f.name for f in FacilityType._meta.get_fields()}
        existing = {t.code: t for t in FacilityType.objects.all()}
        missing = [
            FacilityType(
                **{k: (Decimal(str(v)) if isinstance(v, float) else v) for k, v in item.items() if k in fields}
            )
            for item in data["facility_types"]
            if item["code"] not in existing
        ]
        FacilityType.objects.bulk_create(missing)
        self.types = {t.code: t for t in FacilityType.objects.all()}
        if set(TYPE_WEIGHTS) - set(self.types):
            raise BenchError(f"The demo data lacks facility types {sorted(set(TYPE_WEIGHTS) - set(self.types))}.")
        self.stages = list(CommitmentStage.objects.order_by("order"))
        x0, y0 = ORIGIN
        width, height = self.columns * PARCEL_PITCH_M, PHASES * PARCEL_PITCH_M
        total_ha = Decimal(PHASES * self.columns * SITE_AREA_M2 / 10_000)
        self.campus = Campus.objects.create(
            code=CAMPUS_CODE,
            name_en="Benchmark campus",
            name_zh="基準測試園區",
            boundary=rectangle_geojson(x0 - 20, y0 - 20, x0 + width + 10, y0 + height + 10),
            land_target_ha=(total_ha * Decimal("1.05")).quantize(Decimal("0.01")),
            max_plot_ratio=PLOT_RATIO,
            max_site_coverage_pct=Decimal("60"),
            max_building_height_mpd=Decimal("120"),
            talent_housing_units_cap=None,
            notes="Synthetic data written by manage.py bench.",
        )

    # Geometry: one vectorised projection per phase row instead of one per parcel.
    def _row_geometry(self, row: int) -> list[tuple[dict, Decimal]]:
        x0, y0 = ORIGIN
        xs = x0 + np.arange(self.columns) * PARCEL_PITCH_M
        y = y0 + row * PARCEL_PITCH_M
        ys = np.full_like(xs, y)
        # SW, SE, NE, NW: counter-clockwise, as RFC 7946 wants the exterior ring.
        corner_x = np.stack([xs, xs + PARCEL_SIDE_M, xs + PARCEL_SIDE_M, xs])
        corner_y = np.stack([ys, ys, ys + PARCEL_SIDE_M, ys + PARCEL_SIDE_M])
        lon, lat = self.to_wgs84.transform(corner_x, corner_y)
        lon, lat = np.round(lon, 9), np.round(lat, 9)  # what planning.geometry.to_geojson stores
        gx, gy = self.to_grid.transform(lon, lat)
        # Shoelace area of the stored polygon, in HK1980 Grid metres (as planning.geometry.area_m2 measures it).
        areas = 0.5 * np.abs(sum(gx[i] * gy[(i + 1) % 4] - gx[(i + 1) % 4] * gy[i] for i in range(4)))
        out = []
        for col in range(self.columns):
            ring = [[float(lon[i, col]), float(lat[i, col])] for i in range(4)]
            ring.append(ring[0])
            out.append(({"type": "Polygon", "coordinates": [ring]}, Decimal(str(round(float(areas[col]), 2)))))
        return out

    def grow(self, phases: int) -> dict[str, int]:
        """Add phases (with all their rows) until there are `phases`; returns how many rows of each kind it wrote."""
        written: dict[str, int] = {}
        while self.phases < phases:
            numbers = range(self.phases + 1, min(phases, self.phases + 10) + 1)  # ten phases per round of inserts
            rows = Rows()
            for number in numbers:
                self._phase(number, rows)
            for kind, count in rows.insert().items():
                written[kind] = written.get(kind, 0) + count
            # The engine's results (forecast, float, driver) are stored as every schedule edit stores them, so the
            # criteria read a forecast and the SQL baseline can check it.
            for phase in rows.by_kind["phases"]:
                services.schedule_recompute(phase=phase)
            self.phases = numbers[-1]
        return written

    def _phase(self, number: int, rows: "Rows") -> None:
        """One phase with everything on it and its block of partners, appended to `rows` (nothing saved yet)."""
        rng = random.Random(f"{SEED}-{number}")
        start = FIRST_START + datetime.timedelta(days=30 * (number - 1))
        completion = start + datetime.timedelta(days=3 * 365)
        # The programme first: the phase's capex and its utility supply follow from it.
        parcels, facilities = self._programme(rng, number, start, completion)
        gfa_total = sum((f.gfa_m2 for f in facilities), Decimal(0))
        phase = Phase(
            campus=self.campus,
            number=number,
            name_en=f"Phase {number}",
            name_zh=f"第{number}期",
            target_area_ha=Decimal(self.columns * SITE_AREA_M2 / 10_000).quantize(Decimal("0.01")),
            planned_start=start,
            planned_completion=completion,
            capex_hkd_m=(gfa_total * Decimal("0.045")).quantize(Decimal("0.1")),  # HKD 45,000 per m²
            focus="Synthetic benchmark phase",
            status=Phase.Status.CONSTRUCTION if start < timezone.localdate() else Phase.Status.PLANNING,
        )
        for parcel in parcels:
            parcel.phase = phase
        rows.add("phases", [phase])
        rows.add("parcels", parcels)
        rows.add("facilities", facilities)
        self._milestones(rng, phase, rows)
        self._utilities(rng, phase, facilities, rows)
        tenants = self._partners(rng, phase, parcels, facilities, rows)
        rows.add("allocations", self._allocations(rng, start, facilities, tenants))

    def _programme(self, rng, number, start, completion) -> tuple[list[Parcel], list[Facility]]:
        """The phase's row of parcels, with four buildings of 500–5,000 m² on each (cap: 6 × 3,600 = 21,600 m²)."""
        type_codes, type_weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
        parcels, facilities = [], []
        for col, (geometry, area) in enumerate(self._row_geometry(number - 1)):
            status = pick(rng, LAND_STATUS_WEIGHTS)
            handover = None
            if status in ("handover_scheduled", "site_formation"):
                handover = start + datetime.timedelta(days=rng.randint(-240, 90)) if rng.random() < 0.9 else None
            elif status in ("transferred", "site_ready"):
                handover = start - datetime.timedelta(days=rng.randint(60, 400))
            surveyed = area * Decimal(str(1 + rng.uniform(-0.005, 0.005))) if rng.random() < 0.3 else None
            parcel = Parcel(
                campus=self.campus,
                code=f"B{number:03d}-{col + 1:03d}",
                lot_ref=f"STT Lot {number * 1000 + col + 1}",
                geometry=geometry,
                computed_area_m2=area,
                surveyed_area_m2=surveyed.quantize(Decimal("0.01")) if surveyed else None,
                zoning="OU(I&T)",
                max_plot_ratio=PLOT_RATIO,
                max_site_coverage_pct=Decimal("60"),
                max_building_height_mpd=Decimal("120"),
                land_status=status,
                handover_date=handover,
            )
            parcels.append(parcel)
            for building in range(FACILITIES_PER_PARCEL):
                facility_type = self.types[rng.choices(type_codes, weights=type_weights)[0]]
                gfa = Decimal(rng.randrange(500, 5_001, 10))
                per_unit = facility_type.gfa_per_capacity_m2
                facilities.append(
                    Facility(
                        parcel=parcel,
                        facility_type=facility_type,
                        name=f"{facility_type.code.replace('_', ' ').title()} {building + 1}",
                        gfa_m2=gfa,
                        capacity=(gfa / per_unit).quantize(Decimal("0.01")) if per_unit else None,
                        status=rng.choice(Facility.Status.values),
                        planned_completion=completion - datetime.timedelta(days=rng.randint(0, 180)),
                        delivery_model=rng.choice(Facility.DeliveryModel.values),
                    )
                )
        return parcels, facilities

    def _milestones(self, rng, phase: Phase, rows: "Rows") -> None:
        """Five milestone items in a chain with lag 0, stored as the migration of the old milestones stores them:
        three steps before construction, its start, the occupation permit; past ones mostly done (on a day no later
        than today), the others not to start before their planned date."""
        today = timezone.localdate()
        chain = []
        for category, offset in (
            (ScheduleItem.Category.SITE_HANDOVER, -180),
            (ScheduleItem.Category.MASTER_LAYOUT_CONSENT, -120),
            (ScheduleItem.Category.BUILDING_PLANS_APPROVAL, -60),
            (ScheduleItem.Category.CONSTRUCTION_START, 0),
            (ScheduleItem.Category.OCCUPATION_PERMIT, 3 * 365),
        ):
            planned = phase.planned_start + datetime.timedelta(days=offset)
            done = planned < today and rng.random() < 0.75
            actual = min(planned + datetime.timedelta(days=rng.randint(-10, 30)), today) if done else None
            chain.append(
                ScheduleItem(
                    phase=phase,
                    kind=ScheduleItem.Kind.MILESTONE,
                    category=category,
                    duration_days=0,
                    baseline_start=planned,
                    baseline_finish=planned,
                    start_not_before=None if done else planned,
                    actual_start=actual,
                    actual_finish=actual,
                )
            )
        rows.add("schedule_items", chain)
        rows.add(
            "schedule_dependencies",
            [ScheduleDependency(predecessor=a, successor=b, lag_days=0) for a, b in itertools.pairwise(chain)],
        )

    def _utilities(self, rng, phase: Phase, facilities: list[Facility], rows: "Rows") -> None:
        """Firm power and water around the demand (sometimes short or late), planned extras, and fibre."""
        power = sum((power_demand_mva(f) for f in facilities), Decimal(0))
        water = sum((f.gfa_m2 / 1000 * (f.facility_type.water_m3_day_per_1000m2 or 0) for f in facilities), Decimal(0))
        start = phase.planned_start
        lines = [
            UtilityCapacity(phase=phase, kind="fibre", capacity=Decimal(2), available_from=start, status="committed")
        ]
        for kind, needed, firm_status in (("power", power, "committed"), ("water", water, "commissioned")):
            lines += [
                UtilityCapacity(
                    phase=phase,
                    kind=kind,
                    capacity=money(float(needed) * rng.uniform(0.6, 1.3)),
                    available_from=start + datetime.timedelta(days=rng.randint(180, 1200)),
                    status=firm_status,
                ),
                UtilityCapacity(
                    phase=phase,
                    kind=kind,
                    capacity=money(float(needed) * rng.uniform(0.1, 0.4)),
                    available_from=start + datetime.timedelta(days=rng.randint(0, 1500)),
                    status="planned",
                ),
            ]
        rows.add("utilities", lines)

    def _partners(self, rng, phase: Phase, parcels, facilities, rows: "Rows") -> list:
        """The phase's block of organisations (the first ones also tenants), their EOIs and commitments.

        Returns the tenants, for the allocations.
        """
        EOI = ExpressionOfInterest
        sectors = [value for value, _label in Organisation._meta.get_field("sector").choices]
        type_codes, type_weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
        start, now = phase.planned_start, timezone.now()
        organisations = []
        for n in range(self.next_org, self.next_org + self.shape.per_phase("organisations")):
            organisations.append(
                Organisation(
                    code=f"bench-{n:06d}",
                    name_en=f"Benchmark Organisation {n:06d}",
                    name_zh=f"基準機構{n}",
                    kind=rng.choice(Organisation.Kind.values),
                    sector=rng.choice(sectors),
                    contact_name=f"Contact {n}",
                    contact_email=f"contact{n}@bench.example",
                )
            )
        self.next_org += len(organisations)
        tenants = [Tenant(organisation=o) for o in organisations[: self.shape.per_phase("tenants")]]
        eois = []
        for _ in range(self.shape.per_phase("eois")):
            status = pick(rng, EOI_STATUS_WEIGHTS)
            where = rng.random()  # a parcel (< 0.45), the phase (0.3–0.9; both in 0.3–0.45), or nowhere yet
            eois.append(
                EOI(
                    organisation=rng.choice(organisations),
                    facility_type=self.types[rng.choices(type_codes, weights=type_weights)[0]],
                    preferred_phase=phase if 0.3 <= where < 0.9 else None,
                    preferred_parcel=rng.choice(parcels) if where < 0.45 else None,
                    gfa_m2=Decimal(rng.randrange(200, 5_001, 10)) if rng.random() < 0.9 else None,
                    jobs=rng.randint(5, 500),
                    investment_hkd_m=money(rng.uniform(1, 500), "0.1"),
                    wanted_start=start + datetime.timedelta(days=rng.randint(0, 1000)),
                    description="Synthetic expression of interest.",
                    language=rng.choice(EOI.Language.values),
                    status=status,
                    submitted_at=None if status == "draft" else now - datetime.timedelta(days=rng.randint(1, 700)),
                )
            )
        commitments = []
        for _ in range(self.shape.per_phase("commitments")):
            facility = rng.choice(facilities)
            kind = pick(rng, COMMITMENT_KIND_WEIGHTS)
            commitments.append(
                Commitment(
                    organisation=rng.choice(organisations),
                    parcel=facility.parcel,
                    facility=facility if rng.random() < 0.7 else None,
                    kind=kind,
                    stage=rng.choice(self.stages),
                    gfa_m2=money(float(facility.gfa_m2) * rng.uniform(0.1, 0.4)) if kind == "occupancy" else 0,
                    amount_hkd_m=money(rng.uniform(50, 800), "0.1") if kind == "capital" else 0,
                    date=start - datetime.timedelta(days=rng.randint(0, 700)),
                )
            )
        rows.add("organisations", organisations)
        rows.add("tenants", tenants)
        rows.add("eois", eois)
        rows.add("commitments", commitments)
        return tenants

    def _allocations(self, rng, start, facilities, tenants) -> list:
        """Round-robin over the facilities. A signed or occupied allocation that would overfill its facility is
        reserved instead, so signed + occupied never exceeds a facility's GFA."""
        Allocation = SpaceAllocation
        holding: dict[int, Decimal] = {}
        allocations = []
        for i in range(self.shape.per_phase("allocations")):
            index = i % len(facilities)
            facility = facilities[index]
            gfa = money(float(facility.gfa_m2) * rng.uniform(0.03, 0.15))
            status = pick(rng, ALLOCATION_STATUS_WEIGHTS)
            if status in Allocation.HOLDING_SPACE:
                if holding.get(index, Decimal(0)) + gfa > facility.gfa_m2:
                    status = Allocation.Status.RESERVED
                else:
                    holding[index] = holding.get(index, Decimal(0)) + gfa
            begin = start + datetime.timedelta(days=rng.randint(0, 1500))
            allocations.append(
                Allocation(
                    tenant=rng.choice(tenants),
                    facility=facility,
                    gfa_m2=gfa,
                    status=status,
                    start=begin if status != "waitlisted" else None,
                    end=begin + datetime.timedelta(days=rng.randint(365, 3650)) if status == "ended" else None,
                )
            )
        return allocations


class Rows:
    """Unsaved rows of a few phases, by kind, inserted parents first (bulk_create sets the keys children use)."""

    ORDER = (
        ("phases", Phase),
        ("schedule_items", ScheduleItem),
        ("schedule_dependencies", ScheduleDependency),
        ("parcels", Parcel),
        ("facilities", Facility),
        ("utilities", UtilityCapacity),
        ("organisations", Organisation),
        ("tenants", Tenant),
        ("eois", ExpressionOfInterest),
        ("commitments", Commitment),
        ("allocations", SpaceAllocation),
    )

    def __init__(self):
        self.by_kind: dict[str, list] = {kind: [] for kind, _model in self.ORDER}

    def add(self, kind: str, objects: list) -> None:
        self.by_kind[kind] += objects

    def insert(self) -> dict[str, int]:
        for kind, model in self.ORDER:
            model.objects.bulk_create(self.by_kind[kind], batch_size=BATCH_SIZE)
            if kind == "parcels" and self.by_kind["parcels"]:
                # The vectorised areas, spot-checked against planning.geometry's own measurement.
                first = self.by_kind["parcels"][0]
                if area_m2(parse_polygon(first.geometry)) != first.computed_area_m2:
                    raise BenchError(f"Parcel {first.code}: stored area differs from planning.geometry's.")
        return {kind: len(objects) for kind, objects in self.by_kind.items()}


def power_demand_mva(facility: Facility) -> Decimal:
    """A facility's power demand in MVA, by its type's assumption (as `readiness.demand_by_phase` reckons it)."""
    kind = facility.facility_type
    if kind.power_kva_per_m2 is not None:
        return facility.gfa_m2 * kind.power_kva_per_m2 / 1000
    return (facility.capacity or 0) * (kind.pue or 0)


def dataset_counts() -> dict[str, int]:
    """Rows in the scratch database, by kind."""
    return {
        "campuses": Campus.objects.count(),
        "phases": Phase.objects.count(),
        "parcels": Parcel.objects.count(),
        "facilities": Facility.objects.count(),
        "schedule_items": ScheduleItem.objects.count(),
        "schedule_dependencies": ScheduleDependency.objects.count(),
        "utility_lines": UtilityCapacity.objects.count(),
        "organisations": Organisation.objects.count(),
        "eois": ExpressionOfInterest.objects.count(),
        "commitments": Commitment.objects.count(),
        "tenants": Tenant.objects.count(),
        "allocations": SpaceAllocation.objects.count(),
    }


# --- the baseline: one hand-written query ---------------------------------------------------------------------

# Every per-phase sum the five criteria need, in one statement: each table is read once and grouped by phase.
# The status lists are written out by hand on purpose (this is the independent baseline); if the app's rules
# change, the agreement check below fails loudly. The schedule's figures (construction start, completion) are read
# from the forecast the scheduling engine stored, as the criteria read them; `SQL_FORECAST_CHECK` checks that
# stored forecast on its own, outside the timing.
SQL_SUMS = """
WITH phase AS (
    SELECT ph.id, ph.capex_hkd_m, ph.planned_start, ph.planned_completion,
           COALESCE(cs.forecast_start, ph.planned_start) AS construction_start
    FROM {phase} ph
    LEFT JOIN {item} cs ON cs.phase_id = ph.id AND cs.category = 'construction_start'
),
land AS (
    SELECT pa.phase_id,
           SUM(COALESCE(pa.surveyed_area_m2, pa.computed_area_m2)) AS site_area_m2,
           SUM(COALESCE(pa.surveyed_area_m2, pa.computed_area_m2))
               FILTER (WHERE pa.land_status IN ('transferred', 'site_ready')) AS handed_over_m2,
           SUM(COALESCE(pa.surveyed_area_m2, pa.computed_area_m2)) FILTER (
               WHERE pa.land_status IN ('transferred', 'site_ready')
                  OR (pa.land_status IN ('handover_scheduled', 'site_formation')
                      AND pa.handover_date <= phase.construction_start)
           ) AS ready_by_start_m2
    FROM {parcel} pa JOIN phase ON phase.id = pa.phase_id
    GROUP BY pa.phase_id
),
programme AS (
    SELECT pa.phase_id,
           SUM(f.gfa_m2) AS total_gfa_m2,
           SUM(f.gfa_m2) FILTER (WHERE ft.lettable) AS lettable_gfa_m2,
           SUM(CASE WHEN ft.power_kva_per_m2 IS NOT NULL THEN f.gfa_m2 * ft.power_kva_per_m2 / 1000
                    WHEN ft.pue IS NOT NULL THEN COALESCE(f.capacity, 0) * ft.pue
                    ELSE 0 END) AS power_demand_mva,
           SUM(COALESCE(f.gfa_m2 / 1000 * ft.water_m3_day_per_1000m2, 0)) AS water_demand_m3_day
    FROM {facility} f
    JOIN {parcel} pa ON pa.id = f.parcel_id
    JOIN {facilitytype} ft ON ft.id = f.facility_type_id
    WHERE pa.phase_id IS NOT NULL
    GROUP BY pa.phase_id
),
supply AS (
    SELECT u.phase_id,
           SUM(u.capacity) FILTER (WHERE u.kind = 'power') AS power_firm_mva,
           SUM(u.capacity) FILTER (WHERE u.kind = 'water') AS water_firm_m3_day
    FROM {utility} u JOIN phase ON phase.id = u.phase_id
    WHERE u.status IN ('committed', 'commissioned') AND u.available_from <= phase.planned_completion
    GROUP BY u.phase_id
),
schedule AS (
    SELECT s.phase_id,
           COUNT(*) FILTER (WHERE s.category IN ('site_handover', 'master_layout_consent', 'building_plans_approval'))
               AS pre_construction,
           COUNT(*) FILTER (WHERE s.category IN ('site_handover', 'master_layout_consent', 'building_plans_approval')
                            AND s.actual_finish IS NOT NULL) AS pre_construction_done,
           COUNT(*) FILTER (WHERE s.actual_finish IS NULL AND s.baseline_finish < %(today)s) AS overdue_items,
           MAX(s.forecast_finish) AS forecast_completion
    FROM {item} s
    GROUP BY s.phase_id
),
commitments AS (
    SELECT pa.phase_id,
           SUM(c.gfa_m2 * s.probability) FILTER (WHERE c.kind = 'occupancy') AS weighted_occupancy_gfa_m2,
           SUM(c.amount_hkd_m * s.probability) FILTER (WHERE c.kind = 'capital') AS weighted_capital_hkd_m
    FROM {commitment} c
    JOIN {stage} s ON s.id = c.stage_id
    JOIN {parcel} pa ON pa.id = c.parcel_id
    WHERE pa.phase_id IS NOT NULL
    GROUP BY pa.phase_id
),
allocations AS (
    SELECT pa.phase_id, SUM(a.gfa_m2) AS allocated_gfa_m2
    FROM {allocation} a
    JOIN {facility} f ON f.id = a.facility_id
    JOIN {parcel} pa ON pa.id = f.parcel_id
    WHERE a.status IN ('signed', 'occupied') AND pa.phase_id IS NOT NULL
    GROUP BY pa.phase_id
),
eois AS (
    SELECT COALESCE(pa.phase_id, e.preferred_phase_id) AS phase_id, SUM(e.gfa_m2) AS eoi_demand_gfa_m2
    FROM {eoi} e
    LEFT JOIN {parcel} pa ON pa.id = e.preferred_parcel_id
    WHERE e.status IN ('submitted', 'under_review', 'shortlisted', 'on_hold', 'accepted')
    GROUP BY 1
)
SELECT phase.id,
       COALESCE(land.site_area_m2, 0), COALESCE(land.handed_over_m2, 0), COALESCE(land.ready_by_start_m2, 0),
       COALESCE(programme.power_demand_mva, 0), COALESCE(programme.water_demand_m3_day, 0),
       COALESCE(supply.power_firm_mva, 0), COALESCE(supply.water_firm_m3_day, 0),
       COALESCE(schedule.pre_construction, 0), COALESCE(schedule.pre_construction_done, 0),
       COALESCE(schedule.overdue_items, 0),
       phase.construction_start - phase.planned_start, schedule.forecast_completion - phase.planned_completion,
       COALESCE(commitments.weighted_occupancy_gfa_m2, 0), COALESCE(programme.lettable_gfa_m2, 0),
       COALESCE(commitments.weighted_capital_hkd_m, 0), phase.capex_hkd_m,
       COALESCE(allocations.allocated_gfa_m2, 0), COALESCE(eois.eoi_demand_gfa_m2, 0),
       COALESCE(programme.total_gfa_m2, 0)
FROM phase
LEFT JOIN land ON land.phase_id = phase.id
LEFT JOIN programme ON programme.phase_id = phase.id
LEFT JOIN supply ON supply.phase_id = phase.id
LEFT JOIN schedule ON schedule.phase_id = phase.id
LEFT JOIN commitments ON commitments.phase_id = phase.id
LEFT JOIN allocations ON allocations.phase_id = phase.id
LEFT JOIN eois ON eois.phase_id = phase.id
ORDER BY phase.id
"""

SUM_KEYS = (
    "site_area_m2",
    "handed_over_m2",
    "ready_by_start_m2",
    "power_demand_mva",
    "water_demand_m3_day",
    "power_firm_mva",
    "water_firm_m3_day",
    "pre_construction",
    "pre_construction_done",
    "overdue_items",
    "construction_start_days",
    "completion_slip_days",
    "weighted_occupancy_gfa_m2",
    "lettable_gfa_m2",
    "weighted_capital_hkd_m",
    "capex_hkd_m",
    "allocated_gfa_m2",
    "eoi_demand_gfa_m2",
    "total_gfa_m2",
)
# Sums the engine keeps rounded in its inputs: compared to within half a unit of that rounding.
ENGINE_ROUNDING = {
    "power_demand_mva": 3,
    "water_demand_m3_day": 3,
    "weighted_occupancy_gfa_m2": 2,
    "weighted_capital_hkd_m": 2,
}


def sql_text(template: str | None = None) -> str:
    """`template` (default `SQL_SUMS`) with the tables' quoted names filled in."""
    tables = {
        "phase": Phase,
        "parcel": Parcel,
        "facility": Facility,
        "facilitytype": FacilityType,
        "utility": UtilityCapacity,
        "item": ScheduleItem,
        "dependency": ScheduleDependency,
        "commitment": Commitment,
        "stage": CommitmentStage,
        "allocation": SpaceAllocation,
        "eoi": ExpressionOfInterest,
    }
    names = {key: connection.ops.quote_name(m._meta.db_table) for key, m in tables.items()}
    return (template or SQL_SUMS).format(**names)


def days(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def sql_sums(today: datetime.date, sql: str | None = None) -> dict[int, dict[str, Decimal | None]]:
    """The per-phase sums, by phase id, from the one hand-written query (None: a phase without schedule items has
    no completion to compare)."""
    with connection.cursor() as cursor:
        cursor.execute(sql or sql_text(), {"today": today})
        rows = cursor.fetchall()
    return {
        row[0]: dict(zip(SUM_KEYS, (None if v is None else Decimal(v) for v in row[1:]), strict=True)) for row in rows
    }


# The stored forecast, checked without the engine: the forward pass of `planning.schedule` written as one step per
# item. An item's forecast is right when it follows from its own actual dates or, if it has not started, from the
# latest of the phase's schedule start (its planned start, or the earliest baseline start before it), the day the
# schedule was computed (`scheduled_on`), its "not before" date and each predecessor's stored forecast finish + lag.
# Every item satisfying its step is, by induction over the (acyclic) network, the whole forward pass: the forecast
# start and finish of every item, hence the construction start and the completion SQL_SUMS reads. Not checked here:
# the backward pass (late finish, float, critical) and each item's driving predecessor.
SQL_FORECAST_CHECK = """
WITH schedule_start AS (
    SELECT ph.id AS phase_id, LEAST(ph.planned_start, MIN(s.baseline_start)) AS day
    FROM {phase} ph LEFT JOIN {item} s ON s.phase_id = ph.id
    GROUP BY ph.id, ph.planned_start
),
after_predecessors AS (
    SELECT d.successor_id AS item_id, MAX(p.forecast_finish + d.lag_days) AS day
    FROM {dependency} d JOIN {item} p ON p.id = d.predecessor_id
    GROUP BY d.successor_id
),
step AS (
    SELECT s.phase_id, s.id, s.forecast_start, s.forecast_finish, s.duration_days, s.actual_start, s.actual_finish,
           s.actual_finish IS NOT NULL OR (s.duration_days = 0 AND s.actual_start IS NOT NULL) AS finished,
           GREATEST(ss.day, s.scheduled_on, s.start_not_before, ap.day) AS not_started_start,
           s.scheduled_on
    FROM {item} s
    JOIN schedule_start ss ON ss.phase_id = s.phase_id
    LEFT JOIN after_predecessors ap ON ap.item_id = s.id
),
expected AS (
    SELECT phase_id, id, forecast_start, forecast_finish,
           CASE WHEN finished THEN COALESCE(actual_start, actual_finish - duration_days)
                WHEN actual_start IS NOT NULL THEN actual_start
                ELSE not_started_start END AS start,
           CASE WHEN finished THEN COALESCE(actual_finish, actual_start)
                WHEN actual_start IS NOT NULL THEN GREATEST(actual_start + duration_days, scheduled_on)
                ELSE not_started_start + duration_days END AS finish
    FROM step
)
SELECT phase_id, COUNT(*) AS items,
       COUNT(*) FILTER (WHERE forecast_start IS DISTINCT FROM start OR forecast_finish IS DISTINCT FROM finish)
FROM expected
GROUP BY phase_id
ORDER BY phase_id
"""


def forecast_mismatches() -> dict[int, tuple[int, int]]:
    """By phase id: (schedule items, items whose stored forecast is not their forward-pass step), by
    `SQL_FORECAST_CHECK`."""
    with connection.cursor() as cursor:
        cursor.execute(sql_text(SQL_FORECAST_CHECK))
        return {phase_id: (items, wrong) for phase_id, items, wrong in cursor.fetchall()}


# --- the engine's own figures, for the agreement check ----------------------------------------------------------


def engine_sums(phases: list[Phase], today: datetime.date) -> dict[int, dict[str, Decimal]]:
    """The same sums as the engine saw them: each registered criterion's typed `inputs` (what the fingerprint
    hashes), read by name."""
    evaluations = {code: criterion.evaluate(phases, today) for code, criterion in readiness.REGISTRY.items()}
    out: dict[int, dict[str, Decimal]] = {}
    for phase in phases:
        land: readiness.LandInputs = evaluations["land"][phase.pk].inputs
        utilities: readiness.UtilitiesInputs = evaluations["utilities"][phase.pk].inputs
        milestones: readiness.MilestonesInputs = evaluations["milestones"][phase.pk].inputs
        commitments = evaluations["commitments"][phase.pk].inputs
        demand = evaluations["demand"][phase.pk].inputs
        out[phase.pk] = {
            "site_area_m2": land.site_area_m2,
            "handed_over_m2": land.handed_over_m2,
            "ready_by_start_m2": land.ready_by_start_m2,
            "power_demand_mva": utilities.power_mva.demand,
            "water_demand_m3_day": utilities.water_m3_day.demand,
            "power_firm_mva": utilities.power_mva.firm_total,
            "water_firm_m3_day": utilities.water_m3_day.firm_total,
            "pre_construction": Decimal(len(milestones.pre_construction)),
            "pre_construction_done": Decimal(len(milestones.done)),
            "overdue_items": Decimal(len(milestones.overdue)),
            "construction_start_days": Decimal((land.start - phase.planned_start).days),
            "completion_slip_days": days(milestones.completion_slip_days),
            "weighted_occupancy_gfa_m2": commitments.weighted_occupancy_gfa_m2,
            "lettable_gfa_m2": commitments.lettable_gfa_m2,
            "weighted_capital_hkd_m": commitments.weighted_capital_hkd_m,
            "capex_hkd_m": commitments.capex_hkd_m,
            "allocated_gfa_m2": demand.allocated_gfa_m2,
            "eoi_demand_gfa_m2": demand.eoi_demand_gfa_m2,
            "total_gfa_m2": demand.total_gfa_m2,
        }
    return out


def disagreements(engine: dict, sql: dict, forecast: dict[int, tuple[int, int]] | None = None) -> list[str]:
    """Every per-phase sum where the engine and the query differ (beyond the engine's own rounding), and every phase
    whose stored forecast fails `SQL_FORECAST_CHECK` (when `forecast` is given)."""
    problems = []
    if set(engine) != set(sql):
        problems.append(f"phases differ: engine {sorted(engine)[:5]}…, SQL {sorted(sql)[:5]}…")
    for phase_id in sorted(set(engine) & set(sql)):
        for key in SUM_KEYS:
            ours, theirs = engine[phase_id][key], sql[phase_id][key]
            if ours is None or theirs is None:
                if ours is not theirs:
                    problems.append(f"phase {phase_id} {key}: engine {ours}, SQL {theirs}")
                continue
            tolerance = Decimal(5) / 10 ** (ENGINE_ROUNDING[key] + 1) if key in ENGINE_ROUNDING else Decimal(0)
            if abs(ours - theirs) > tolerance:
                problems.append(f"phase {phase_id} {key}: engine {ours}, SQL {theirs}")
    for phase_id, (items, wrong) in sorted((forecast or {}).items()):
        if wrong:
            problems.append(
                f"phase {phase_id}: {wrong} of {items} schedule items store a forecast that is not the forward pass "
                "of their own dates and their predecessors' forecasts"
            )
    return problems


# --- timing -----------------------------------------------------------------------------------------------------


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    """The fastest of `repeat` wall-clock runs, in seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


# --- pages and endpoints at scale -------------------------------------------------------------------------------
# Each target is requested in-process with Django's test Client (signed in with force_login), round-robin with the
# others so that load on the machine falls on all of them alike, and its median is divided by a baseline measured
# in the same rounds: `/healthz` for pages, list endpoints and changelists (goal ≤ 10×), and for the GeoJSON the
# plain path it replaced — the same rows read with `values()` and turned into text by `json.dumps` (goal ≤ 2×).
#
# The executive dashboard (`/dashboard/` and `GET /api/v1/dashboard/`) is measured against a trivial page the same
# executive reads, `/accounts/password_change/` (session, middleware, a template; no data): warm, with its figures
# in the cache (goal ≤ 3×), and cold, the data's generation moved on before each request (outside the timing) as a
# committed change moves it, so the figures are computed afresh — a ratio stated, with no goal. Each warm target
# follows its cold one in the round, so it reads the figures that request cached.

PAGE_GOAL = 10.0
GEOJSON_GOAL = 2.0
DASHBOARD_WARM_GOAL = 3.0
HEALTHZ = "healthz"
PLAIN_JSON = "json.dumps of the same rows"
TRIVIAL_PAGE = "/accounts/password_change/"
GOALS = {HEALTHZ: PAGE_GOAL, PLAIN_JSON: GEOJSON_GOAL, TRIVIAL_PAGE: DASHBOARD_WARM_GOAL}
# The dashboard's rows: (what, cold target, warm target).
DASHBOARD_TARGETS = (
    ("page", "/dashboard/ cold", "/dashboard/ warm"),
    ("api", "api dashboard cold", "api dashboard warm"),
)


class Target(NamedTuple):
    """A page or endpoint `measure_pages` requests; `baseline` None: the target is a baseline (url None: the plain
    GeoJSON path, not a request). `cold`: the data's generation is moved on before each request (untimed), so no
    cached figures are read; a cold target has no goal."""

    name: str
    url: str | None
    role: str | None
    baseline: str | None
    cold: bool = False


PAGE_TARGETS = (
    Target(HEALTHZ, "/healthz", None, None),
    Target("/plan/", "/plan/", "planner", HEALTHZ),
    Target("/portal/", "/portal/", "partner", HEALTHZ),
    Target(TRIVIAL_PAGE, TRIVIAL_PAGE, "executive", None),
    Target("/dashboard/ cold", "/dashboard/", "executive", TRIVIAL_PAGE, cold=True),
    Target("/dashboard/ warm", "/dashboard/", "executive", TRIVIAL_PAGE),
    Target("api dashboard cold", "/api/v1/dashboard/", "executive", TRIVIAL_PAGE, cold=True),
    Target("api dashboard warm", "/api/v1/dashboard/", "executive", TRIVIAL_PAGE),
    Target("api phases", "/api/v1/phases/?page_size=100", "planner", HEALTHZ),
    Target("api parcels", "/api/v1/parcels/?page_size=500", "planner", HEALTHZ),
    Target("api facilities", "/api/v1/facilities/?page_size=100", "planner", HEALTHZ),
    Target("api rollups/phases", "/api/v1/rollups/phases/?page_size=100", "planner", HEALTHZ),
    Target("api rollups/parcels", "/api/v1/rollups/parcels/?page_size=100", "planner", HEALTHZ),
    Target("api EOIs", "/api/v1/eois/?page_size=50", "staff", HEALTHZ),
    Target("api commitments", "/api/v1/commitments/?page_size=50", "staff", HEALTHZ),
    Target("api allocations", "/api/v1/allocations/?page_size=50", "staff", HEALTHZ),
    Target("admin EOIs", "/admin/partners/expressionofinterest/", "staff", HEALTHZ),
    Target("admin allocations", "/admin/tenants/spaceallocation/", "staff", HEALTHZ),
    Target("admin parcels", "/admin/planning/parcel/", "staff", HEALTHZ),
    Target("admin commitments", "/admin/partners/commitment/", "staff", HEALTHZ),
    Target("admin organisations", "/admin/partners/organisation/", "staff", HEALTHZ),
    Target(PLAIN_JSON, None, None, None),
    Target("api parcels/geojson", "/api/v1/parcels/geojson/", "planner", PLAIN_JSON),
)


def bench_users() -> dict:
    """One user per role in the scratch database (the partner is the admin of the first organisation)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core.roles import EXECUTIVE, PARTNER, PLANNER, STAFF

    User = get_user_model()
    users = {}
    for name, group, is_staff in (
        ("planner", PLANNER, False),
        ("executive", EXECUTIVE, False),
        ("staff", STAFF, True),
        ("partner", PARTNER, False),
    ):
        user, _created = User.objects.get_or_create(username=f"bench-{name}", defaults={"is_staff": is_staff})
        user.groups.add(Group.objects.get_or_create(name=group)[0])
        users[name] = user
    organisation = Organisation.objects.order_by("pk").first()
    if organisation is not None:
        Membership.objects.get_or_create(
            user=users["partner"], defaults={"organisation": organisation, "role": "admin"}
        )
    return users


def plain_geojson_rows() -> str:
    """The baseline of the GeoJSON: its rows read plainly (one query, the same sums and subqueries) and dumped."""
    rows = list(Parcel.objects.select_related("phase").for_map().values(*FEATURE_COLUMNS))
    return json.dumps(rows, default=str)


def measure_pages(rounds: int, *, warm_up: bool = True, log: Callable[[str], None] = print) -> list[dict]:
    """Median time of every target over `rounds` interleaved rounds (after one warm-up round), its ratio to its
    baseline with the goal and whether it is met, the response's status and size, and its SQL query count.

    Without `warm_up` (`--no-warm-up`, for checking the command rather than reading its figures) the status, size
    and query count come from the first timed round, whose times then include the first requests' costs."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    users = bench_users()
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    clients[None] = Client()

    def request(target: Target) -> tuple[int, int]:
        if target.url is None:
            size = len(plain_geojson_rows())
            close_old_connections()
            return 200, size
        response = clients[target.role].get(target.url)
        body = b"".join(response) if response.streaming else response.content
        # What the end of a served request does (the test Client skips it): with the default
        # DATABASE_CONN_MAX_AGE=0 the connection is closed, so every request, /healthz too, opens its own.
        close_old_connections()
        return response.status_code, len(body)

    def counted(target: Target) -> dict:
        with CaptureQueriesContext(connection) as queries:
            status, size = request(target)
        return {"status": status, "bytes": size, "queries": len(queries)}

    times: dict[str, list[float]] = {target.name: [] for target in PAGE_TARGETS}
    facts: dict[str, dict] = {}
    # The test Client outside the test runner: its host must be allowed; DEBUG off so no query log is kept.
    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False, SECURE_SSL_REDIRECT=False):
        for target in PAGE_TARGETS if warm_up else ():  # warm-up, and the query count of one request
            if target.cold:
                freshness._bump()  # what a committed change does: the cached figures are not read again
            facts[target.name] = counted(target)
        for number in range(rounds):
            for target in PAGE_TARGETS:
                if target.cold:
                    freshness._bump()
                # Each target starts from a collected heap: the 5,000-row targets leave enough garbage that the next
                # one would otherwise pay for their collection (the GeoJSON measured 1.1× alone, 2.3× after them).
                gc.collect()
                if target.name in facts:
                    began = time.perf_counter()
                    request(target)
                else:  # no warm-up: this first request also gives the facts
                    began = time.perf_counter()
                    facts[target.name] = counted(target)
                times[target.name].append(time.perf_counter() - began)
            log(f"  round {number + 1}/{rounds} done")
    medians = {name: float(np.median(values)) for name, values in times.items()}
    rows = []
    for target in PAGE_TARGETS:
        name, baseline = target.name, target.baseline
        goal = None if baseline is None or target.cold else GOALS[baseline]
        ratio = None if baseline is None else round(medians[name] / medians[baseline], 2)
        rows.append(
            {
                "target": name,
                "url": target.url,
                "role": target.role,
                "cold": target.cold,
                "median_ms": round(medians[name] * 1000, 1),
                "baseline": baseline,
                "ratio": ratio,
                "goal": goal,
                "goal_met": None if goal is None else ratio <= goal,
                **facts[name],
            }
        )
    return rows


def dashboard_ratios(rows: list[dict]) -> dict:
    """The dashboard's rows of `measure_pages`, side by side: for the page and the API, the trivial page's median
    and the cold and warm medians, ratios and query counts, with the warm goal."""
    by_name = {row["target"]: row for row in rows}
    trivial = by_name[TRIVIAL_PAGE]
    found = {"trivial_url": TRIVIAL_PAGE, "trivial_ms": trivial["median_ms"], "goal_warm": DASHBOARD_WARM_GOAL}
    for what, cold_name, warm_name in DASHBOARD_TARGETS:
        cold, warm = by_name[cold_name], by_name[warm_name]
        found[what] = {
            "url": warm["url"],
            "cold_ms": cold["median_ms"],
            "warm_ms": warm["median_ms"],
            "cold_vs_trivial": cold["ratio"],
            "warm_vs_trivial": warm["ratio"],
            "warm_goal_met": warm["goal_met"],
            "cold_queries": cold["queries"],
            "warm_queries": warm["queries"],
        }
    found["warm_goals_met"] = all(found[what]["warm_goal_met"] for what, _cold, _warm in DASHBOARD_TARGETS)
    return found


# --- the dashboard's figures against hand-written SQL ------------------------------------------------------------
# The headline figures `GET /api/v1/dashboard/` answers for the benchmark campus and for each of its phases, each
# computed again by one hand-written statement from the definitions in `dashboard.figures`: one row per figure and
# the phase it counts in (NULL: the campus only — a parcel in no phase, an EOI naming no place), summed by
# GROUPING SETS for the campus and for each phase. As in `SQL_SUMS`, the status lists are written out by hand on
# purpose. Where an EOI counts: its preferred parcel's phase when it names a parcel (on the campus, or the EOI is
# not the campus's), else the preferred phase (of the campus, or not the campus's), else the campus as a whole; an
# EOI whose parcel is in no phase counts in its preferred phase when that is one of the campus's.
SQL_DASHBOARD = """
WITH campus_phase AS (
    SELECT id, number, capex_hkd_m FROM {phase} WHERE campus_id = %(campus)s
),
campus_parcel AS (
    SELECT id, phase_id, land_status, COALESCE(surveyed_area_m2, computed_area_m2) AS site_area_m2
    FROM {parcel} WHERE campus_id = %(campus)s
),
programme AS (
    SELECT pa.phase_id, f.gfa_m2, f.capacity, ft.lettable, ft.counts_against_housing_cap,
           CASE WHEN ft.power_kva_per_m2 IS NOT NULL THEN f.gfa_m2 * ft.power_kva_per_m2 / 1000
                WHEN ft.pue IS NOT NULL THEN COALESCE(f.capacity, 0) * ft.pue
                ELSE 0 END AS power_mva,
           COALESCE(f.gfa_m2 / 1000 * ft.water_m3_day_per_1000m2, 0) AS water_m3_day
    FROM {facility} f
    JOIN campus_parcel pa ON pa.id = f.parcel_id
    JOIN {facilitytype} ft ON ft.id = f.facility_type_id
),
weighted AS (
    SELECT pa.phase_id, c.kind, c.gfa_m2 * s.probability AS gfa_m2, c.amount_hkd_m * s.probability AS amount_hkd_m
    FROM {commitment} c
    JOIN {stage} s ON s.id = c.stage_id
    JOIN campus_parcel pa ON pa.id = c.parcel_id
),
live_eoi AS (
    SELECT COALESCE(pa.phase_id, cp.id) AS phase_id, e.gfa_m2, e.jobs, e.investment_hkd_m
    FROM {eoi} e
    LEFT JOIN campus_parcel pa ON pa.id = e.preferred_parcel_id
    LEFT JOIN campus_phase cp ON cp.id = e.preferred_phase_id
    WHERE e.status IN ('submitted', 'under_review', 'shortlisted', 'on_hold', 'accepted')
      AND (pa.id IS NOT NULL
           OR (e.preferred_parcel_id IS NULL AND (cp.id IS NOT NULL OR e.preferred_phase_id IS NULL)))
),
supply AS (
    SELECT u.phase_id, u.kind, u.capacity, u.status IN ('committed', 'commissioned') AS firm
    FROM {utility} u JOIN campus_phase cp ON cp.id = u.phase_id
    WHERE u.kind IN ('power', 'water')
),
figure (phase_id, name, value) AS (
    SELECT phase_id, 'land_held_m2', site_area_m2 FROM campus_parcel WHERE phase_id IS NOT NULL
    UNION ALL
    SELECT phase_id, 'land_handed_over_m2', site_area_m2 FROM campus_parcel
    WHERE phase_id IS NOT NULL AND land_status IN ('transferred', 'site_formation', 'site_ready')
    UNION ALL
    SELECT phase_id, 'gfa_planned_m2', gfa_m2 FROM programme
    UNION ALL
    SELECT phase_id, 'lettable_gfa_m2', gfa_m2 FROM programme WHERE lettable
    UNION ALL
    SELECT phase_id, 'talent_housing_units', COALESCE(capacity, 0) FROM programme WHERE counts_against_housing_cap
    UNION ALL
    SELECT phase_id, 'power_demand_mva', power_mva FROM programme
    UNION ALL
    SELECT phase_id, 'water_demand_m3_day', water_m3_day FROM programme
    UNION ALL
    SELECT phase_id, 'weighted_occupancy_gfa_m2', gfa_m2 FROM weighted WHERE kind = 'occupancy'
    UNION ALL
    SELECT phase_id, 'weighted_capital_hkd_m', amount_hkd_m FROM weighted WHERE kind = 'capital'
    UNION ALL
    SELECT id, 'capex_hkd_m', capex_hkd_m FROM campus_phase
    UNION ALL
    SELECT phase_id, 'live_eoi_count', 1 FROM live_eoi
    UNION ALL
    SELECT phase_id, 'live_eoi_gfa_m2', COALESCE(gfa_m2, 0) FROM live_eoi
    UNION ALL
    SELECT phase_id, 'live_eoi_jobs', COALESCE(jobs, 0) FROM live_eoi
    UNION ALL
    SELECT phase_id, 'live_eoi_investment_hkd_m', COALESCE(investment_hkd_m, 0) FROM live_eoi
    UNION ALL
    SELECT phase_id, kind || CASE WHEN firm THEN '_firm' ELSE '_planned' END
                          || CASE kind WHEN 'power' THEN '_mva' ELSE '_m3_day' END, capacity
    FROM supply
)
SELECT figure.name, GROUPING(cp.number) = 1 AS whole_campus, cp.number, SUM(figure.value)
FROM figure LEFT JOIN campus_phase cp ON cp.id = figure.phase_id
GROUP BY GROUPING SETS ((figure.name), (figure.name, cp.number))
"""
# The figures compared (every headline sum of the dashboard; the percentages and caps derive from them).
DASHBOARD_SQL_FIGURES = (
    "land_held_m2",
    "land_handed_over_m2",
    "gfa_planned_m2",
    "lettable_gfa_m2",
    "weighted_occupancy_gfa_m2",
    "weighted_capital_hkd_m",
    "capex_hkd_m",
    "live_eoi_count",
    "live_eoi_gfa_m2",
    "live_eoi_jobs",
    "live_eoi_investment_hkd_m",
    "talent_housing_units",
    "power_demand_mva",
    "power_firm_mva",
    "power_planned_mva",
    "water_demand_m3_day",
    "water_firm_m3_day",
    "water_planned_m3_day",
)
CAMPUS_SCOPE = "campus"


def dashboard_sql_figures(campus: Campus) -> dict[tuple[str, str], Decimal]:
    """`SQL_DASHBOARD` for `campus`, by (scope, figure): scope `CAMPUS_SCOPE` or `phase <number>`. A figure with
    no rows in a scope is absent (zero)."""
    with connection.cursor() as cursor:
        cursor.execute(sql_text(SQL_DASHBOARD), {"campus": campus.pk})
        rows = cursor.fetchall()
    found = {}
    for name, whole_campus, number, value in rows:
        if whole_campus:
            found[(CAMPUS_SCOPE, name)] = Decimal(value)
        elif number is not None:  # rows in no phase count in the campus's total only
            found[(f"phase {number}", name)] = Decimal(value)
    return found


def check_dashboard_figures(*, campus_code: str = CAMPUS_CODE) -> dict:
    """Every figure of `DASHBOARD_SQL_FIGURES` that `GET /api/v1/dashboard/?campus=…` answers, for the campus and
    each phase, against `SQL_DASHBOARD`: equal within the API's rounding to two decimals (0.01, plus 1e-9 of the
    value). The generation is moved on first: the benchmark's rows are written by `bulk_create`, which sends no
    signal, so figures cached before they were written could otherwise be read."""
    from django.test import Client
    from django.test.utils import override_settings

    campus = Campus.objects.get(code=campus_code)
    client = Client()
    client.force_login(bench_users()["executive"])
    freshness._bump()
    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False, SECURE_SSL_REDIRECT=False):
        response = client.get(f"/api/v1/dashboard/?campus={campus_code}")
    if response.status_code != 200:
        raise BenchError(f"GET /api/v1/dashboard/ answered {response.status_code} to the bench executive.")
    answered = response.json()
    sql = dashboard_sql_figures(campus)
    scopes = [(CAMPUS_SCOPE, answered)] + [(f"phase {phase['number']}", phase) for phase in answered["phases"]]
    mismatches = []
    for scope, values in scopes:
        for name in DASHBOARD_SQL_FIGURES:
            ours, theirs = sql.get((scope, name), Decimal(0)), values[name]
            if theirs is None or abs(Decimal(str(theirs)) - ours) > Decimal("0.01") + abs(ours) * Decimal("1e-9"):
                mismatches.append({"scope": scope, "figure": name, "api": theirs, "sql": str(ours)})
    return {
        "campus": campus_code,
        "figures": list(DASHBOARD_SQL_FIGURES),
        "scopes": len(scopes),
        "compared": len(scopes) * len(DASHBOARD_SQL_FIGURES),
        "mismatches": len(mismatches),
        "mismatched": mismatches[:50],
        "campus_figures": {name: answered[name] for name in DASHBOARD_SQL_FIGURES},
    }


# --- the map in Chromium ------------------------------------------------------------------------------------------
# The plan workspace opened in the system Chromium (Playwright, headless) against a live server on the scratch
# database, signed in as the bench planner: the page marks `innopole:parcels-rendered` (a performance mark) once the
# parcels of its one GeoJSON request are drawn and two animation frames have passed, so the mark's time is from the
# start of the navigation to the first paint of every shape. The same page with a filter that selects no parcel is the
# baseline: page, scripts, styles and the request itself, without the shapes.

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
MAP_FULL = ""
MAP_EMPTY = "?zoning=__no-such-zoning__"
MAP_TIMEOUT_MS = 180_000


def measure_map_render(rounds: int, *, warm_up: bool = True, log: Callable[[str], None] = print) -> dict:
    """Median time to the first paint of all parcels on `/plan/` and of an empty map, in `rounds` interleaved rounds
    (after one warm-up of each, unless not `warm_up`), with the number of shapes drawn; `skipped` says why when it
    cannot run here."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "Playwright is not installed (the dev extras: pip install -e '.[dev]')."}
    chromium = os.environ.get("BENCH_CHROMIUM", CHROMIUM)
    if not os.path.exists(chromium):
        return {"skipped": f"No Chromium at {chromium} (set BENCH_CHROMIUM)."}
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test import Client
    from django.test.testcases import LiveServerThread
    from django.test.utils import override_settings

    planner = bench_users()["planner"]
    served = override_settings(
        ALLOWED_HOSTS=["127.0.0.1"],
        DEBUG=False,
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
    )
    times: dict[str, list[float]] = {"empty": [], "full": []}
    shapes: dict[str, int] = {}
    with served:
        client = Client()
        client.force_login(planner)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        close_old_connections()
        server = LiveServerThread("127.0.0.1", StaticFilesHandler)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise BenchError(f"The live server for the map benchmark did not start: {server.error}")
        root = f"http://127.0.0.1:{server.port}/"
        base = f"{root}plan/"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
                version = browser.version
                context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
                context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": root}])

                def render(query: str) -> dict:
                    page = context.new_page()
                    response = page.goto(base + query)
                    if response is None or response.status != 200 or page.url != base + query:
                        raise BenchError(
                            f"The map benchmark's page answered {response and response.status} at {page.url}."
                        )
                    page.wait_for_selector("#plan-map[data-rendered]", state="attached", timeout=MAP_TIMEOUT_MS)
                    result = page.evaluate(
                        """() => ({
                            ms: performance.getEntriesByName("innopole:parcels-rendered")[0].startTime,
                            shapes: document.querySelectorAll("#plan-map path.parcel").length,
                        })"""
                    )
                    page.close()
                    return result

                if warm_up:  # caches, the scripts compiled once
                    render(MAP_EMPTY), render(MAP_FULL)
                for number in range(rounds):
                    for name, query in (("empty", MAP_EMPTY), ("full", MAP_FULL)):
                        result = render(query)
                        times[name].append(result["ms"])
                        shapes[name] = result["shapes"]
                    log(f"  map round {number + 1}/{rounds} done")
                browser.close()
        finally:
            server.terminate()
            server.join()
            close_old_connections()
    empty, full = float(np.median(times["empty"])), float(np.median(times["full"]))
    return {
        "rounds": rounds,
        "chromium": version,
        "parcels": shapes["full"],
        "empty_shapes": shapes["empty"],
        "full_ms": round(full, 1),
        "empty_ms": round(empty, 1),
        "ratio": round(full / empty, 2) if empty else None,
        "extra_ms": round(full - empty, 1),
    }


# --- the scheduling engine ------------------------------------------------------------------------------------

SCHEDULE_PHASES = 100
SCHEDULE_ITEMS_PER_PHASE = 200  # 20,000 items in all, about 40,000 dependencies
SCHEDULE_SEED = 20270115


def schedule_networks(phases: int, items_per_phase: int, *, seed: int = SCHEDULE_SEED) -> list[dict]:
    """Synthetic phase schedules shaped like a real one: every fifth item a milestone, the others 1–90 days; each
    item after the first waits for one to three of the ten before it, lags from −5 to +10 days (a DAG, so the
    engine's cycle check passes). Deterministic for a seed."""
    from planning.schedule import Dependency, ScheduleItem

    rng = random.Random(seed)
    start = datetime.date(2027, 1, 15)
    networks = []
    for phase in range(phases):
        items = [
            ScheduleItem(id=(phase, i), duration_days=0 if i % 5 == 0 else rng.randint(1, 90))
            for i in range(items_per_phase)
        ]
        dependencies = []
        for i in range(1, items_per_phase):
            for j in sorted(rng.sample(range(max(0, i - 10), i), k=min(i, rng.randint(1, 3)))):
                dependencies.append(Dependency((phase, j), (phase, i), rng.randint(-5, 10)))
        networks.append(
            {
                "items": items,
                "dependencies": dependencies,
                "project_start": start,
                "target_completion": start + datetime.timedelta(days=3 * 365),
            }
        )
    return networks


def topological_sort(item_ids, links) -> list:
    """The baseline: a plain Kahn's sort of a graph given as item ids and (predecessor, successor) pairs (what any
    schedule pass must at least do)."""
    successors: dict = {item_id: [] for item_id in item_ids}
    waiting = dict.fromkeys(successors, 0)
    for predecessor_id, successor_id in links:
        successors[predecessor_id].append(successor_id)
        waiting[successor_id] += 1
    ready = [item_id for item_id, count in waiting.items() if count == 0]
    order = []
    while ready:
        item_id = ready.pop()
        order.append(item_id)
        for successor in successors[item_id]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                ready.append(successor)
    return order


def timed_runs(repeat: int, fn: Callable[[int], Any]) -> list[float]:
    """Wall-clock seconds of `repeat` runs of `fn(run number)`, each from a collected heap."""
    times = []
    for number in range(repeat):
        gc.collect()
        began = time.perf_counter()
        fn(number)
        times.append(time.perf_counter() - began)
    return times


def spread_pct(times: list[float]) -> float:
    """How far the slowest run is above the fastest, in per cent of the fastest (0 for a single run)."""
    return round((max(times) - min(times)) / min(times) * 100, 1) if min(times) else 0.0


def measure_schedule_engine(repeat: int, *, log: Callable[[str], None] = print) -> dict:
    """The engine (`planning.schedule.compute_schedule`) on every phase's network against a plain topological sort
    of the same graphs, best of `repeat`, at 10 % and 100 % of the phases (linear: the time per item stays flat)."""
    from planning.schedule import compute_schedule

    networks = schedule_networks(SCHEDULE_PHASES, SCHEDULE_ITEMS_PER_PHASE)
    graphs = [
        (
            [item.id for item in network["items"]],
            [(d.predecessor_id, d.successor_id) for d in network["dependencies"]],
        )
        for network in networks
    ]
    today = datetime.date(2026, 12, 1)
    levels = []
    for phases in (SCHEDULE_PHASES // 10, SCHEDULE_PHASES):
        chosen = networks[:phases]
        items = sum(len(network["items"]) for network in chosen)
        dependencies = sum(len(network["dependencies"]) for network in chosen)

        def engine(_number, chosen=chosen):
            for network in chosen:
                compute_schedule(today=today, **network)

        def plain(_number, graphs=graphs[:phases]):
            for item_ids, links in graphs:
                topological_sort(item_ids, links)

        timings = {}
        for name, run in (("engine_s", engine), ("topological_sort_s", plain)):
            timings[name] = round(min(timed_runs(repeat, run)), 4)
        levels.append(
            {
                "phases": phases,
                "items": items,
                "dependencies": dependencies,
                **timings,
                "ratio": round(timings["engine_s"] / timings["topological_sort_s"], 2),
                "engine_us_per_item": round(timings["engine_s"] / items * 1e6, 2),
            }
        )
        log(f"  schedule engine, {phases} phases ({items:,} items): {timings['engine_s'] * 1000:,.0f} ms")
    return {"repeat": repeat, "levels": levels}


# --- the stored schedule --------------------------------------------------------------------------------------
# The same kind of networks written to the database (one campus per size, phases with 20 and with 200 items), then
# timed as the nightly run recomputes them: for every phase, in its own transaction with the phase locked,
# `services.schedule_recompute` reads the items and dependencies, runs the engine and stores the results. Each run
# is a day later than the one before, so every item's results change (`scheduled_on` at least) and every item is
# written, as each night. The baseline, in the same run: the same graphs read from the database (item ids and
# dependency pairs, two queries a phase) and put in topological order — what any recompute must at least do; the
# in-memory sort alone is given too. The endpoint `GET /api/v1/phases/{id}/schedule/` is requested at both sizes.

STORED_SCHEDULE_SIZES = (20, 200)  # items per phase
STORED_SCHEDULE_FIRST_START = datetime.date(2025, 1, 6)


def stored_schedule(phases: int, items_per_phase: int, *, today: datetime.date) -> list[Phase]:
    """A campus of `phases` phases, each with a schedule of `items_per_phase` items written with `bulk_create`.

    The networks are `schedule_networks`'. Every fifth item is a milestone (the five named ones first, then "other"
    ones); each phase starts a fortnight after the one before, from January 2025, so some are done, some under way and
    some to come. The baseline is the network's own forward pass from the phase's start (the engine's, with no
    actual dates); its completion is the phase's target. Work whose predecessors are done is done in turn, up to a
    few days late, while it fits before `today`; a twentieth of the work to come has a "not before" date."""
    from planning.schedule import compute_schedule

    rng = random.Random(f"{SEED}-schedule-{items_per_phase}")
    networks = schedule_networks(phases, items_per_phase)
    campus = Campus.objects.create(
        code=f"bench-schedule-{items_per_phase}",
        name_en=f"Benchmark schedules of {items_per_phase} items",
        name_zh="基準測試進度",
        boundary=rectangle_geojson(ORIGIN[0] - 2_000, ORIGIN[1] - 2_000, ORIGIN[0] - 1_000, ORIGIN[1] - 1_000),
        land_target_ha=Decimal("100"),
        max_plot_ratio=PLOT_RATIO,
        max_site_coverage_pct=Decimal("60"),
        max_building_height_mpd=Decimal("120"),
        notes="Synthetic schedules written by manage.py bench.",
    )
    phase_rows, item_rows, link_rows = [], [], []
    for number, network in enumerate(networks, start=1):
        start = STORED_SCHEDULE_FIRST_START + datetime.timedelta(days=14 * (number - 1))
        baseline = compute_schedule(**{**network, "project_start": start, "target_completion": None, "today": start})
        phase = Phase(
            campus=campus,
            number=number,
            name_en=f"Schedule {number}",
            name_zh=f"進度{number}",
            target_area_ha=Decimal("1"),
            planned_start=start,
            planned_completion=baseline.forecast_completion,
            capex_hkd_m=Decimal("1000"),
            focus="Synthetic benchmark schedule",
        )
        phase_rows.append(phase)
        predecessors: dict = {}
        for dependency in network["dependencies"]:
            predecessors.setdefault(dependency.successor_id, []).append(dependency)
        rows: dict = {}
        finished: dict = {}  # item id → actual finish, for the work done
        for index, item in enumerate(network["items"]):
            planned = baseline.items[item.id]
            milestone = item.duration_days == 0
            if milestone:
                order = index // 5
                named = order < len(ScheduleItem.MILESTONE_CATEGORIES)
                category = ScheduleItem.MILESTONE_CATEGORIES[order] if named else ScheduleItem.Category.OTHER
                title = "" if named else f"Milestone {order + 1}"
            else:
                category = ScheduleItem.ACTIVITY_CATEGORIES[index % len(ScheduleItem.ACTIVITY_CATEGORIES)]
                title = f"Works package {index}"
            actual_start = actual_finish = not_before = None
            links = predecessors.get(item.id, [])
            if all(link.predecessor_id in finished for link in links) and rng.random() < 0.9:
                ready = max(
                    [planned.forecast_start]
                    + [finished[link.predecessor_id] + datetime.timedelta(days=link.lag_days) for link in links]
                )
                began = ready + datetime.timedelta(days=rng.randint(0, 10))
                ended = began + datetime.timedelta(days=item.duration_days + (0 if milestone else rng.randint(0, 10)))
                if began <= today:
                    actual_start = began
                    if ended <= today:
                        actual_finish = ended
                        finished[item.id] = ended
            elif rng.random() < 0.05:
                not_before = planned.forecast_start + datetime.timedelta(days=rng.randint(10, 60))
            rows[item.id] = ScheduleItem(
                phase=phase,
                kind=ScheduleItem.Kind.MILESTONE if milestone else ScheduleItem.Kind.ACTIVITY,
                category=category,
                title=title,
                duration_days=item.duration_days,
                baseline_start=planned.forecast_start,
                baseline_finish=planned.forecast_finish,
                start_not_before=not_before,
                actual_start=actual_start,
                actual_finish=actual_finish,
            )
        item_rows += rows.values()
        link_rows += [
            ScheduleDependency(predecessor=rows[d.predecessor_id], successor=rows[d.successor_id], lag_days=d.lag_days)
            for d in network["dependencies"]
        ]
    Phase.objects.bulk_create(phase_rows)
    ScheduleItem.objects.bulk_create(item_rows, batch_size=BATCH_SIZE)
    ScheduleDependency.objects.bulk_create(link_rows, batch_size=BATCH_SIZE)
    with connection.cursor() as cursor:
        for model in (Phase, ScheduleItem, ScheduleDependency):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return phase_rows


def read_schedule_graph(phase: Phase) -> tuple[list, list]:
    """The phase's network as the baseline reads it: item ids and (predecessor, successor) pairs, two queries."""
    item_ids = list(ScheduleItem.objects.filter(phase=phase).order_by("pk").values_list("pk", flat=True))
    links = list(
        ScheduleDependency.objects.filter(successor__phase=phase)
        .order_by("pk")
        .values_list("predecessor_id", "successor_id")
    )
    return item_ids, links


def recompute_stored(phase: Phase, today: datetime.date) -> None:
    """One phase's schedule recomputed as the nightly run does: its own transaction, the phase locked."""
    from django.db import transaction

    from core.services import lock_for_update

    with transaction.atomic():
        services.schedule_recompute(phase=lock_for_update(phase), today=today)


def measure_stored_schedule(
    repeat: int, rounds: int, *, phases: int = SCHEDULE_PHASES, log: Callable[[str], None] = print
) -> dict:
    """At each size of `STORED_SCHEDULE_SIZES`: the full recompute of every phase's stored schedule against reading
    and sorting the same graphs (and the sort alone), in `repeat` interleaved runs; the stored forecast checked by
    `SQL_FORECAST_CHECK`; the queries of one recompute; and the schedule endpoint's queries, size and median time
    over `rounds` requests. See the comment above. DEBUG is off, as in production: no query log is kept."""
    from django.test import Client
    from django.test.utils import override_settings

    today = timezone.localdate()
    client = Client()
    client.force_login(bench_users()["planner"])
    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False, SECURE_SSL_REDIRECT=False):
        levels = [
            _stored_schedule_level(size, phases, repeat, rounds, today, client, log) for size in STORED_SCHEDULE_SIZES
        ]
    small, large = levels[0], levels[-1]
    return {
        "repeat": repeat,
        "rounds": rounds,
        "levels": levels,
        # Time per item at the larger size over that at the smaller: about 1, or below when the few queries each
        # phase costs weigh more in the small schedules, if the recompute is linear in items + dependencies.
        "per_item_growth": round(large["recompute_us_per_item"] / small["recompute_us_per_item"], 2),
        "queries_per_recompute_constant": len({level["queries_per_recompute"] for level in levels}) == 1,
        "endpoint_queries_constant": len({level["endpoint"]["queries"] for level in levels}) == 1,
        "forecast_agrees": all(level["forecast_check"]["mismatches"] == 0 for level in levels),
    }


def _stored_schedule_level(size, phases, repeat, rounds, today, client, log) -> dict:
    from django.db import reset_queries
    from django.test.utils import CaptureQueriesContext

    began = time.perf_counter()
    chosen = stored_schedule(phases, size, today=today)
    generated = time.perf_counter() - began
    items = ScheduleItem.objects.filter(phase__in=chosen).count()
    dependencies = ScheduleDependency.objects.filter(successor__phase__in=chosen).count()
    log(f"  {len(chosen)} phases × {size} items written in {generated:.1f} s; recomputing…")
    graphs = [read_schedule_graph(phase) for phase in chosen]

    def recompute(number: int) -> None:
        # A day later at each run: every item's results change, so every item is written.
        day = today + datetime.timedelta(days=number)
        for phase in chosen:
            recompute_stored(phase, day)

    def read_and_sort(_number: int) -> None:
        for phase in chosen:
            topological_sort(*read_schedule_graph(phase))

    def sort_only(_number: int) -> None:
        for item_ids, links in graphs:
            topological_sort(item_ids, links)

    # Interleaved, so that load from elsewhere on the machine falls on the recompute and its baselines alike.
    runs: dict[str, list[float]] = {"recompute": [], "read_and_sort": [], "sort": []}
    for number in range(repeat):
        for name, run in (("recompute", recompute), ("read_and_sort", read_and_sort), ("sort", sort_only)):
            gc.collect()
            began = time.perf_counter()
            run(number)
            runs[name].append(time.perf_counter() - began)
    best = {name: min(times) for name, times in runs.items()}
    checked = forecast_mismatches()
    ids = {phase.pk for phase in chosen}
    wrong = sum(checked[pk][1] for pk in ids)
    if wrong:
        raise BenchError(
            f"{wrong} of {items:,} stored schedule items hold a forecast that is not the forward pass of their own "
            "dates and their predecessors' forecasts (innopole.bench.SQL_FORECAST_CHECK)."
        )

    reset_queries()
    with CaptureQueriesContext(connection) as recompute_queries:
        recompute_stored(chosen[0], today + datetime.timedelta(days=repeat))
    recompute_query_count = len(recompute_queries)  # read now: the log is cleared below
    url = f"/api/v1/phases/{chosen[-1].pk}/schedule/"
    client.get(url)  # warm-up
    close_old_connections()
    reset_queries()
    with CaptureQueriesContext(connection) as endpoint_queries:
        response = client.get(url)
    endpoint_query_count = len(endpoint_queries)
    close_old_connections()
    endpoint_times = []
    for _ in range(rounds):
        began = time.perf_counter()
        client.get(url)
        endpoint_times.append(time.perf_counter() - began)
        close_old_connections()
    answered = response.json() if response.status_code == 200 else {}
    log(
        f"  {items:,} items: recompute {best['recompute'] * 1000:,.0f} ms, "
        f"read and sort {best['read_and_sort'] * 1000:,.0f} ms"
    )
    return {
        "items_per_phase": size,
        "phases": len(chosen),
        "items": items,
        "dependencies": dependencies,
        "generation_s": round(generated, 2),
        # To the microsecond: sorting a small phase's items takes tens of them, which four decimals would make 0.
        "runs_s": {name: [round(t, 6) for t in times] for name, times in runs.items()},
        "recompute_s": round(best["recompute"], 6),
        "read_and_sort_s": round(best["read_and_sort"], 6),
        "sort_s": round(best["sort"], 6),
        "spread_pct": {name: spread_pct(times) for name, times in runs.items()},
        "recompute_vs_read_and_sort": round(best["recompute"] / best["read_and_sort"], 2),
        "recompute_vs_sort": round(best["recompute"] / best["sort"], 2) if best["sort"] else None,
        "recompute_us_per_item": round(best["recompute"] / items * 1e6, 2),
        "queries_per_recompute": recompute_query_count,
        "forecast_check": {
            "items": sum(checked[pk][0] for pk in ids),
            "mismatches": wrong,
        },
        "endpoint": {
            "url": url,
            "status": response.status_code,
            "items": len(answered.get("items", [])),
            "bytes": len(response.content),
            "queries": endpoint_query_count,
            "median_ms": round(float(np.median(endpoint_times)) * 1000, 1),
        },
    }
