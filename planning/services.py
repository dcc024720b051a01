"""Every write to planning data. One function per change, keyword-only, in one transaction.

Each service validates the row (`full_clean`, which includes the named database constraints) and the domain rules
of DESIGN §3 that span rows or need geometry, saves only what changed, and records who changed it (the history
row). Rules that look at several rows (overlaps, totals, GFA caps) run while the row they hang on is locked
(`select_for_update`), so two planners saving at once cannot together break a rule each would pass alone. Before
a phase, parcel, facility, facility type or utility capacity is changed or deleted, the rules other apps hold on it
(`planning.guards`: allocations, commitments, EOIs) are asked under the same lock.

Every service writes its steps out, in this order, with the helpers of `core.services`: lock
(`lock_for_update`, parents first), `apply_changes`, `full_clean`, the domain checks and the guards,
`save_audited`/`delete_audited`, then `readiness_mark_stale` for the phases whose readiness inputs changed.

A refusal is a `django.core.exceptions.ValidationError` keyed by field, whose message names the rule and the
numbers; an edit based on a stale version raises `core.services.ConflictError`.
"""

import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import freshness
from core.db import update_rows
from core.services import apply_changes, delete_audited, lock_for_update, save_audited
from core.units import fmt_m2, fmt_ratio, ha_to_m2

from . import exchange, geometry, guards, schedule
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

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser

# (`fmt_m2` lives in `core.units`; partners and tenants still import it from here until the shared core.)

# The campus's parcels may exceed its land target by this share at most (survey tolerance).
CAMPUS_TOTAL_TOLERANCE = Decimal("0.01")


# --- campus -----------------------------------------------------------------------------------------------------

# The fields each service takes, in the order the API shows them: the serializers list these (planning.api).
CAMPUS_FIELDS = (
    "code",
    "name_en",
    "name_zh",
    "boundary",
    "land_target_ha",
    "zoning_default",
    "max_plot_ratio",
    "max_site_coverage_pct",
    "max_building_height_mpd",
    "talent_housing_units_cap",
    "notes",
)


def _check_campus(campus: Campus) -> None:
    try:
        boundary = geometry.parse_polygon(campus.boundary)
    except ValidationError as error:
        raise ValidationError({"boundary": error.messages}) from None
    campus.boundary = geometry.to_geojson(boundary)  # stored normalised (winding, precision, closed rings)
    if campus.pk is None:
        return
    errors: dict[str, list[str]] = {}
    outside = [
        parcel.code
        for parcel in campus.parcels.only("code", "geometry")
        if geometry.area_outside_m2(geometry.parse_polygon(parcel.geometry), boundary) > geometry.TOLERANCE_M2
    ]
    if outside:
        errors["boundary"] = [
            _("The new boundary leaves parcels outside it: %(codes)s.") % {"codes": ", ".join(sorted(outside))}
        ]
    total = campus.parcels.total_site_area_m2()
    limit = ha_to_m2(campus.land_target_ha) * (1 + CAMPUS_TOTAL_TOLERANCE)
    if total > limit:
        errors["land_target_ha"] = [
            _("The campus's parcels total %(total)s, more than this land target + 1 %% (%(limit)s).")
            % {"total": fmt_m2(total), "limit": fmt_m2(limit)}
        ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def campus_create(*, actor: "User | None", **fields: Any) -> Campus:
    campus = Campus()
    apply_changes(campus, fields, editable=CAMPUS_FIELDS)
    campus.full_clean()
    _check_campus(campus)
    save_audited(campus, actor=actor)
    return campus


@transaction.atomic
def campus_update(
    *, campus: Campus, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> Campus:
    campus = lock_for_update(campus, expected_version=expected_version)
    changed = apply_changes(campus, changes, editable=CAMPUS_FIELDS)
    if not changed:
        return campus
    campus.full_clean()
    _check_campus(campus)  # its parcels' phases keep their readiness: no readiness input is a campus field
    save_audited(campus, actor=actor, update_fields=changed)
    return campus


# --- phase ------------------------------------------------------------------------------------------------------

PHASE_FIELDS = (
    "campus",
    "number",
    "name_en",
    "name_zh",
    "target_area_ha",
    "planned_start",
    "planned_completion",
    "capex_hkd_m",
    "focus",
    "status",
)


@transaction.atomic
def phase_create(*, actor: "User | None", **fields: Any) -> Phase:
    phase = Phase()
    apply_changes(phase, fields, editable=PHASE_FIELDS)
    phase.full_clean()
    save_audited(phase, actor=actor)
    readiness_mark_stale(phase_ids=[phase.pk])
    return phase


@transaction.atomic
def phase_update(*, phase: Phase, actor: "User | None", expected_version: int | None = None, **changes: Any) -> Phase:
    phase = lock_for_update(phase, expected_version=expected_version)
    if "campus" in changes and changes["campus"] != phase.campus and phase.parcels.exists():
        raise ValidationError({"campus": _("A phase with parcels cannot move to another campus.")})
    old, new = guards.changes_of(phase, changes)
    changed = apply_changes(phase, changes, editable=PHASE_FIELDS)
    if not changed:
        return phase
    phase.full_clean()
    guards.enforce(guards.PHASE_CHANGE, row=phase, old=old, new=new)
    save_audited(phase, actor=actor, update_fields=changed)
    if {"planned_start", "planned_completion"} & set(changed):
        schedule_recompute(phase=phase)  # the schedule starts at the phase's start and aims at its completion
    readiness_mark_stale(phase_ids=[phase.pk])
    return phase


@transaction.atomic
def phase_delete(*, phase: Phase, actor: "User | None") -> None:
    """Remove a phase that has no parcels, with its utility capacity and schedule (each row with a history row).

    Utility capacity and the schedule belong to the phase and go with it, but explicitly and audited, not by a
    silent database cascade; the guards are asked for the phase and for each utility. (Dependencies link items of
    one phase, so no other phase's schedule waits for this one.)
    """
    phase = lock_for_update(phase)
    refusals = []
    count = phase.parcels.count()
    if count:
        refusals.append(
            guards.Refusal(
                ngettext(
                    "%(phase)s still has %(count)s parcel; move it to another phase or to the reserve first.",
                    "%(phase)s still has %(count)s parcels; move them to another phase or to the reserve first.",
                    count,
                )
                % {"phase": phase.name, "count": count}
            )
        )
    refusals += guards.check(guards.PHASE_DELETE, row=phase)
    utilities = list(UtilityCapacity.objects.select_for_update().filter(phase=phase).order_by("pk"))
    for utility in utilities:
        refusals += guards.check(guards.UTILITY_DELETE, row=utility)
    if refusals:
        raise guards.as_error(refusals)
    reason = _("Phase %(phase)s deleted") % {"phase": phase.name}
    for utility in utilities:
        delete_audited(utility, actor=actor, reason=reason)
    links = ScheduleDependency.objects.select_for_update().filter(successor__phase=phase).order_by("pk")
    for link in links:
        delete_audited(link, actor=actor, reason=reason)
    ScheduleItem.objects.filter(phase=phase).update(driving_predecessor=None)
    for item in ScheduleItem.objects.select_for_update().filter(phase=phase).order_by("pk"):
        delete_audited(item, actor=actor, reason=reason)
    delete_audited(phase, actor=actor)


# --- parcel -----------------------------------------------------------------------------------------------------

PARCEL_FIELDS = (
    "campus",
    "phase",
    "code",
    "lot_ref",
    "geometry",
    "surveyed_area_m2",
    "zoning",
    "max_plot_ratio",
    "max_site_coverage_pct",
    "max_building_height_mpd",
    "land_status",
    "handover_date",
)
# Controls a new parcel takes from its campus when none are given.
CAMPUS_DEFAULTS = {
    "zoning": "zoning_default",
    "max_plot_ratio": "max_plot_ratio",
    "max_site_coverage_pct": "max_site_coverage_pct",
    "max_building_height_mpd": "max_building_height_mpd",
}


def refresh_computed_area(parcel: Parcel):
    """Validate the parcel's geometry, refresh `computed_area_m2` from it (not saved) and return the polygon."""
    try:
        polygon = geometry.parse_polygon(parcel.geometry)
    except ValidationError as error:
        raise ValidationError({"geometry": error.messages}) from None
    parcel.geometry = geometry.to_geojson(polygon)  # stored normalised (winding, precision, closed rings)
    parcel.computed_area_m2 = geometry.area_m2(polygon)
    return polygon


def _check_parcel_in_plan(parcel: Parcel, polygon) -> None:
    """The rules that compare a parcel with its campus and the other parcels. The campus row is locked."""
    campus = parcel.campus
    errors: dict[str, list[str]] = {}
    if parcel.phase_id is not None and parcel.phase.campus_id != campus.pk:
        errors["phase"] = [_("This phase belongs to another campus.")]

    boundary = geometry.parse_polygon(campus.boundary)
    outside = geometry.area_outside_m2(polygon, boundary)
    if outside > geometry.TOLERANCE_M2:
        errors.setdefault("geometry", []).append(
            _("The parcel extends %(area)s beyond the boundary of %(campus)s.")
            % {"area": fmt_m2(outside), "campus": campus.name}
        )

    others = Parcel.objects.filter(campus=campus).exclude(pk=parcel.pk).only("code", "geometry")
    for other in others:
        other_polygon = geometry.parse_polygon(other.geometry)
        if not polygon.intersects(other_polygon):
            continue
        shared = geometry.overlap_m2(polygon, other_polygon)
        if shared > geometry.TOLERANCE_M2:
            errors.setdefault("geometry", []).append(
                _("The parcel overlaps parcel %(code)s by %(area)s.") % {"code": other.code, "area": fmt_m2(shared)}
            )

    total = others.total_site_area_m2() + parcel.site_area_m2
    target = ha_to_m2(campus.land_target_ha)
    limit = target * (1 + CAMPUS_TOTAL_TOLERANCE)
    if total > limit:
        field = "surveyed_area_m2" if parcel.surveyed_area_m2 is not None else "geometry"
        errors.setdefault(field, []).append(
            _("The campus's parcels would total %(total)s, more than its land target of %(target)s + 1 %% (%(limit)s).")
            % {"total": fmt_m2(total), "target": fmt_m2(target), "limit": fmt_m2(limit)}
        )

    if parcel.pk is not None:
        gfa = parcel.facilities.total_gfa_m2()
        if gfa > parcel.gfa_cap_m2:
            errors.setdefault("max_plot_ratio", []).append(gfa_cap_message(parcel, gfa))
    if errors:
        raise ValidationError(errors)


def gfa_cap_message(parcel: Parcel, gfa: Decimal) -> str:
    return _("GFA %(gfa)s exceeds the cap of %(cap)s (plot ratio %(ratio)s × %(area)s).") % {
        "gfa": fmt_m2(gfa),
        "cap": fmt_m2(parcel.gfa_cap_m2),
        "ratio": fmt_ratio(parcel.max_plot_ratio),
        "area": fmt_m2(parcel.site_area_m2),
    }


@transaction.atomic
def parcel_create(*, actor: "User | None", campus: Campus, **fields: Any) -> Parcel:
    """Add a parcel to a campus. Controls not given are taken from the campus defaults."""
    campus = lock_for_update(campus)
    parcel = Parcel(campus=campus)
    for field, default in CAMPUS_DEFAULTS.items():
        if fields.get(field) is None:
            fields[field] = getattr(campus, default)
    apply_changes(parcel, fields, editable=set(PARCEL_FIELDS) - {"campus"})
    polygon = refresh_computed_area(parcel)
    parcel.full_clean()
    _check_parcel_in_plan(parcel, polygon)
    save_audited(parcel, actor=actor)
    readiness_mark_stale(phase_ids=[parcel.phase_id])
    return parcel


@transaction.atomic
def parcel_update(
    *, parcel: Parcel, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> Parcel:
    if "campus" in changes and changes["campus"] != parcel.campus:
        raise ValidationError({"campus": _("A parcel cannot move to another campus; create it there instead.")})
    changes.pop("campus", None)
    lock_for_update(parcel.campus)
    parcel = lock_for_update(parcel, expected_version=expected_version)
    _parcel_apply(parcel, changes, actor=actor)
    return parcel


def _parcel_apply(parcel: Parcel, changes: dict[str, Any], *, actor: "User | None", reason: str = "") -> list[str]:
    """Apply and save changes to a locked parcel (its campus locked too) after its rules and the guards."""
    old_phase_id = parcel.phase_id
    old, new = guards.changes_of(parcel, changes)
    changed = apply_changes(parcel, changes, editable=PARCEL_FIELDS)
    if not changed:
        return changed
    polygon = refresh_computed_area(parcel)
    if "geometry" in changed:
        changed.append("computed_area_m2")
    parcel.full_clean()
    _check_parcel_in_plan(parcel, polygon)
    guards.enforce(guards.PARCEL_CHANGE, row=parcel, old=old, new=new)
    save_audited(parcel, actor=actor, update_fields=changed, reason=reason)
    readiness_mark_stale(phase_ids=[old_phase_id, parcel.phase_id])
    return changed


@transaction.atomic
def parcel_delete(*, parcel: Parcel, actor: "User | None", expected_version: int | None = None) -> None:
    """Remove a parcel and the facilities planned on it; the guards are asked for the parcel and each facility."""
    parcel = lock_for_update(parcel, expected_version=expected_version)
    facilities = list(Facility.objects.select_for_update().filter(parcel=parcel).order_by("pk"))
    refusals = guards.check(guards.PARCEL_DELETE, row=parcel)
    for facility in facilities:
        refusals += guards.check(guards.FACILITY_DELETE, row=facility)
    if refusals:
        raise guards.as_error(refusals)
    for facility in facilities:
        delete_audited(facility, actor=actor, reason=_("Parcel %(code)s deleted") % {"code": parcel.code})
    delete_audited(parcel, actor=actor)
    readiness_mark_stale(phase_ids=[parcel.phase_id])


# --- split and merge --------------------------------------------------------------------------------------------


# What the new parcel of a split takes from the parcel it is cut from (besides campus and phase).
SPLIT_COPIED_FIELDS = (
    "zoning",
    "max_plot_ratio",
    "max_site_coverage_pct",
    "max_building_height_mpd",
    "land_status",
    "handover_date",
)


@dataclasses.dataclass(frozen=True)
class SplitPart:
    """One of the two parts a line cuts a parcel into: its polygon as it would be stored (WGS84, normalised), its
    area, and whether it is the part that stays the original parcel (None when no point to keep was given)."""

    polygon: Any
    site_area_m2: Decimal
    keeps: bool | None

    @property
    def geometry(self) -> dict:
        return geometry.to_geojson(self.polygon)


@dataclasses.dataclass(frozen=True)
class Split:
    """What `parcel_split` did: the original parcel, now the kept part, and the parcel made of the other part."""

    kept: Parcel
    created: Parcel


def _lock_parcel(parcel: Parcel, *, expected_version: int | None, field: str = NON_FIELD_ERRORS) -> Parcel:
    """`lock_for_update`, with the refusal of a parcel that another split, merge or delete removed while this one
    waited for the campus lock keyed on `field`."""
    try:
        return lock_for_update(parcel, expected_version=expected_version)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None


def _split_parts(parcel: Parcel, *, line: Any, keep_at: Any = None) -> list[SplitPart]:
    """The two parts `line` cuts the parcel into, largest first, and which one `keep_at` lies in.

    Both are checked as GeoJSON first (both reported at once); then the line must cut the parcel into exactly two
    parts, neither a sliver under `geometry.TOLERANCE_M2`, and the point must lie inside one of them, not on the
    line. Refusals are keyed `line` and `keep_at`.
    """
    errors: dict[str, list[str]] = {}
    cut = point = None
    try:
        cut = geometry.parse_line(line)
    except ValidationError as error:
        errors["line"] = error.messages
    if keep_at is not None:
        try:
            point = geometry.parse_point(keep_at)
        except ValidationError as error:
            errors["keep_at"] = error.messages
    if errors:
        raise ValidationError(errors)
    code = parcel.code
    polygon = geometry.parse_polygon(parcel.geometry)
    if not cut.intersects(polygon):
        raise ValidationError(
            {
                "line": _(
                    "The line does not reach parcel %(code)s (it passes %(distance)s m from it). Draw it across the "
                    "parcel, from outside one edge to outside another."
                )
                % {"code": code, "distance": f"{geometry.distance_m(cut, polygon):,.1f}"}
            }
        )
    pieces = geometry.split_polygon(polygon, cut)
    if len(pieces) == 1:
        raise ValidationError(
            {
                "line": _(
                    "The line does not cut parcel %(code)s through, so it leaves 1 part. It must cross the parcel "
                    "completely, from outside one edge to outside another."
                )
                % {"code": code}
            }
        )
    if len(pieces) > 2:
        raise ValidationError(
            {
                "line": ngettext(
                    "The line cuts parcel %(code)s into %(count)s part; a split makes exactly two.",
                    "The line cuts parcel %(code)s into %(count)s parts; a split makes exactly two. Draw a line "
                    "that crosses the parcel once.",
                    len(pieces),
                )
                % {"code": code, "count": len(pieces)}
            }
        )
    if min(geometry.to_grid(piece).area for piece in pieces) < geometry.TOLERANCE_M2:
        raise ValidationError(
            {
                "line": _(
                    "The line cuts a sliver of less than %(area)s off parcel %(code)s. Move it so that both parts "
                    "are sites."
                )
                % {"area": fmt_m2(geometry.TOLERANCE_M2), "code": code}
            }
        )
    polygons = []
    for piece in pieces:
        try:  # what would be stored, checked as any parcel's polygon is
            polygons.append(geometry.parse_polygon(geometry.to_geojson(piece)))
        except ValidationError as error:
            raise ValidationError({"line": error.messages}) from None
    keeps: list[bool | None] = [None, None]
    if point is not None:
        keeps = [part.covers(point) for part in polygons]
        on_line = polygon.covers(point) and geometry.distance_m(point, cut) < geometry.SNAP_M
        if on_line or all(keeps):
            raise ValidationError(
                {
                    "keep_at": _(
                        "The point to keep lies on the line. Put it inside the part that stays parcel %(code)s."
                    )
                    % {"code": code}
                }
            )
        if not any(keeps):
            raise ValidationError(
                {
                    "keep_at": _(
                        "The point to keep is not inside parcel %(code)s (it is %(distance)s m away). Put it inside "
                        "the part that stays parcel %(code)s."
                    )
                    % {"code": code, "distance": f"{geometry.distance_m(point, polygon):,.1f}"}
                }
            )
    return [
        SplitPart(polygon=part, site_area_m2=geometry.area_m2(part), keeps=keep)
        for part, keep in zip(polygons, keeps, strict=True)
    ]


@transaction.atomic
def parcel_split_preview(
    *, parcel: Parcel, expected_version: int | None = None, line: Any, keep_at: Any = None
) -> list[SplitPart]:
    """The parts `parcel_split` would cut, largest first, after the same checks of the line and the point to keep
    (and of the version); saves nothing. The dry run of a split without the new code or the point."""
    parcel = _lock_parcel(parcel, expected_version=expected_version)
    return _split_parts(parcel, line=line, keep_at=keep_at)


@transaction.atomic
def parcel_split(
    *, parcel: Parcel, actor: "User | None", expected_version: int | None = None, line: Any, new_code: str, keep_at: Any
) -> Split:
    """Cut a parcel along a line (GeoJSON LineString, WGS84) into two parcels.

    The line must cross the parcel completely and cut it into exactly two parts. The part containing `keep_at`
    (a GeoJSON Point) stays the original parcel: the same id, code, facilities and history, its new geometry, and
    its surveyed area cleared, because the survey measured the whole parcel (record the new survey when there is
    one). The other part becomes a new parcel `new_code` in the same campus and phase, with the same zoning,
    controls, land status and handover date and no lot reference.

    Both results are checked by the rules of `parcel_create` and `parcel_update`: containment, overlap, the campus
    total, and the GFA cap of the kept part, which keeps every facility; the guards are asked about the shrinking
    parcel. Refusals are keyed `line`, `keep_at`, `new_code` or the field of the rule; all or nothing.
    """
    if keep_at is None:
        raise ValidationError(
            {"keep_at": _("Give a point inside the part that stays parcel %(code)s.") % {"code": parcel.code}}
        )
    lock_for_update(parcel.campus)
    parcel = _lock_parcel(parcel, expected_version=expected_version)
    kept, other = sorted(_split_parts(parcel, line=line, keep_at=keep_at), key=lambda part: not part.keeps)
    created = Parcel(
        campus=parcel.campus,
        phase=parcel.phase,
        code=new_code,
        lot_ref="",
        geometry=other.geometry,
        **{name: getattr(parcel, name) for name in SPLIT_COPIED_FIELDS},
    )
    created_polygon = refresh_computed_area(created)
    errors: dict[str, list[str]] = {}
    try:
        created.full_clean()
    except ValidationError as error:
        # Its code is the only value not copied from a valid parcel (the code's unique constraint is not keyed).
        for name, messages in error.message_dict.items():
            errors.setdefault("new_code" if name in ("code", NON_FIELD_ERRORS) else name, []).extend(messages)
    try:
        _parcel_apply(
            parcel,
            {"geometry": kept.geometry, "surveyed_area_m2": None},
            actor=actor,
            reason=_("Split into %(code)s and %(new_code)s") % {"code": parcel.code, "new_code": new_code},
        )
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)  # the transaction rolls back the kept part, if it was saved
    _check_parcel_in_plan(created, created_polygon)  # beside the kept part, now saved
    save_audited(created, actor=actor, reason=_("Split from %(code)s") % {"code": parcel.code})
    readiness_mark_stale(phase_ids=[created.phase_id])
    return Split(kept=parcel, created=created)


def _merge_refusal(parcel: Parcel, other: Parcel, polygon, other_polygon) -> ValidationError:
    gap = geometry.distance_m(polygon, other_polygon)
    if gap > geometry.SNAP_M:
        message = _(
            "Parcels %(code)s and %(other)s do not touch: they are %(gap)s m apart. Only parcels that share an edge "
            "can be merged."
        ) % {"code": parcel.code, "other": other.code, "gap": f"{gap:,.2f}"}
    else:
        message = _(
            "Parcels %(code)s and %(other)s only touch at a corner. Only parcels that share an edge can be merged."
        ) % {"code": parcel.code, "other": other.code}
    return ValidationError({"other": message})


@transaction.atomic
def parcel_merge(
    *,
    parcel: Parcel,
    other: Parcel,
    actor: "User | None",
    expected_version: int | None = None,
    other_expected_version: int | None = None,
) -> Parcel:
    """Merge `other` into `parcel`: `parcel` takes the union of the two polygons and `other`'s facilities, and
    `other` is deleted.

    Both parcels belong to the same campus and phase (two reserve parcels count as one phase) and share an edge
    (`geometry.union_along_edge`: touching at a corner is not enough). `parcel` keeps its id, code, controls and
    history; its surveyed area is cleared (the survey measured a smaller parcel). Each facility moves with its own
    history row, the guards of a facility moving and of `other` being deleted are asked (every refusal reported,
    under `other`), and the merged parcel is checked by the rules of `parcel_update`, the GFA cap included. Both
    versions are checked (a stale one raises ConflictError); all or nothing.
    """
    if other.pk == parcel.pk:
        raise ValidationError({"other": _("Parcel %(code)s cannot be merged with itself.") % {"code": parcel.code}})
    if other.campus_id != parcel.campus_id:
        raise ValidationError(
            {
                "other": _(
                    "Parcel %(other)s belongs to another campus than %(code)s; only parcels of the same campus can be "
                    "merged."
                )
                % {"other": other.code, "code": parcel.code}
            }
        )
    lock_for_update(parcel.campus)
    # Both parcels in id order (as facility_update locks two parcels), so two merges of one pair cannot deadlock.
    locked = {
        row.pk: _lock_parcel(row, expected_version=version, field=field)
        for row, version, field in sorted(
            [(parcel, expected_version, NON_FIELD_ERRORS), (other, other_expected_version, "other")],
            key=lambda row_version_field: row_version_field[0].pk,
        )
    }
    parcel, other = locked[parcel.pk], locked[other.pk]
    if other.phase_id != parcel.phase_id:
        reserve = _("the reserve")
        raise ValidationError(
            {
                "other": _(
                    "Parcel %(code)s is in %(phase)s and parcel %(other)s in %(other_phase)s; only parcels of the "
                    "same phase can be merged."
                )
                % {
                    "code": parcel.code,
                    "phase": parcel.phase.name if parcel.phase else reserve,
                    "other": other.code,
                    "other_phase": other.phase.name if other.phase else reserve,
                }
            }
        )
    polygon, other_polygon = geometry.parse_polygon(parcel.geometry), geometry.parse_polygon(other.geometry)
    merged = geometry.union_along_edge(polygon, other_polygon)
    if merged is None:
        raise _merge_refusal(parcel, other, polygon, other_polygon)

    facilities = list(Facility.objects.select_for_update().filter(parcel=other).order_by("pk"))
    refusals = guards.check(guards.PARCEL_DELETE, row=other)
    for facility in facilities:
        old, new = guards.changes_of(facility, {"parcel": parcel})
        apply_changes(facility, {"parcel": parcel}, editable={"parcel"})
        refusals += guards.check(guards.FACILITY_CHANGE, row=facility, old=old, new=new)
    if refusals:
        raise ValidationError({"other": [refusal.message for refusal in refusals]})
    names = {"code": parcel.code, "other": other.code}
    for facility in facilities:
        reason = _("Moved from parcel %(other)s when it was merged into %(code)s") % names
        save_audited(facility, actor=actor, update_fields=["parcel"], reason=reason)
    delete_audited(other, actor=actor, reason=_("Merged into %(code)s") % names)
    _parcel_apply(
        parcel,
        {"geometry": geometry.to_geojson(merged), "surveyed_area_m2": None},
        actor=actor,
        reason=_("Merged with %(other)s") % names,
    )
    return parcel


# --- facility type ----------------------------------------------------------------------------------------------

FACILITY_TYPE_FIELDS = (
    "code",
    "name_en",
    "name_zh",
    "lettable",
    "core",
    "capacity_unit",
    "gfa_per_capacity_m2",
    "power_kva_per_m2",
    "pue",
    "water_m3_day_per_1000m2",
    "counts_against_housing_cap",
)


@transaction.atomic
def facility_type_create(*, actor: "User | None", **fields: Any) -> FacilityType:
    facility_type = FacilityType()
    apply_changes(facility_type, fields, editable=FACILITY_TYPE_FIELDS)
    facility_type.full_clean()
    save_audited(facility_type, actor=actor)
    return facility_type  # no facility uses it yet: no phase's readiness changes


@transaction.atomic
def facility_type_update(
    *, facility_type: FacilityType, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> FacilityType:
    facility_type = lock_for_update(facility_type, expected_version=expected_version)
    old, new = guards.changes_of(facility_type, changes)
    changed = apply_changes(facility_type, changes, editable=FACILITY_TYPE_FIELDS)
    if not changed:
        return facility_type
    facility_type.full_clean()
    guards.enforce(guards.FACILITY_TYPE_CHANGE, row=facility_type, old=old, new=new)
    save_audited(facility_type, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=phases_using_type(facility_type))
    return facility_type


@transaction.atomic
def facility_type_delete(*, facility_type: FacilityType, actor: "User | None") -> None:
    facility_type = lock_for_update(facility_type)
    refusals = []
    count = facility_type.facilities.count()
    if count:
        refusals.append(
            guards.Refusal(
                ngettext(
                    "%(type)s is used by %(count)s facility; change its type first.",
                    "%(type)s is used by %(count)s facilities; change their type first.",
                    count,
                )
                % {"type": facility_type.name, "count": count}
            )
        )
    refusals += guards.check(guards.FACILITY_TYPE_DELETE, row=facility_type)
    if refusals:
        raise guards.as_error(refusals)
    delete_audited(facility_type, actor=actor)


# --- facility ---------------------------------------------------------------------------------------------------

FACILITY_FIELDS = (
    "parcel",
    "facility_type",
    "name",
    "gfa_m2",
    "capacity",
    "status",
    "planned_completion",
    "delivery_model",
)


def _check_gfa_cap(facility: Facility) -> None:
    """The parcel's facilities, this one included, stay within max plot ratio × site area. Parcel is locked."""
    parcel = facility.parcel
    others = parcel.facilities.exclude(pk=facility.pk).total_gfa_m2()
    total = others + facility.gfa_m2
    if total > parcel.gfa_cap_m2:
        raise ValidationError(
            {
                "gfa_m2": _("Parcel %(code)s: %(message)s")
                % {"code": parcel.code, "message": gfa_cap_message(parcel, total)}
            }
        )


@transaction.atomic
def facility_create(*, actor: "User | None", parcel: Parcel, **fields: Any) -> Facility:
    parcel = lock_for_update(parcel)
    facility = Facility(parcel=parcel)
    apply_changes(facility, fields, editable=set(FACILITY_FIELDS) - {"parcel"})
    facility.full_clean()
    _check_gfa_cap(facility)
    save_audited(facility, actor=actor)
    readiness_mark_stale(phase_ids=[parcel.phase_id])
    return facility


@transaction.atomic
def facility_update(
    *, facility: Facility, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> Facility:
    # Lock every parcel the facility touches (old and new), in id order so two moves cannot deadlock.
    parcel_ids = sorted({facility.parcel_id, getattr(changes.get("parcel"), "pk", facility.parcel_id)})
    list(Parcel.objects.select_for_update().filter(pk__in=parcel_ids).order_by("pk").values_list("pk", flat=True))
    # The facility's row lock is the one allocation writes take (tenants.services), so the guards see every
    # allocation committed before and none can be signed against the old GFA until this change commits.
    facility = lock_for_update(facility, expected_version=expected_version)
    old_phase_id = facility.parcel.phase_id
    old, new = guards.changes_of(facility, changes)
    changed = apply_changes(facility, changes, editable=FACILITY_FIELDS)
    if not changed:
        return facility
    facility.full_clean()
    _check_gfa_cap(facility)
    guards.enforce(guards.FACILITY_CHANGE, row=facility, old=old, new=new)
    save_audited(facility, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=[old_phase_id, facility.parcel.phase_id])
    return facility


@transaction.atomic
def facility_delete(*, facility: Facility, actor: "User | None", expected_version: int | None = None) -> None:
    facility = lock_for_update(facility, expected_version=expected_version)
    guards.enforce(guards.FACILITY_DELETE, row=facility)
    delete_audited(facility, actor=actor)
    readiness_mark_stale(phase_ids=[facility.parcel.phase_id])


@dataclasses.dataclass
class Programme:
    """What `parcel_programme_update` did: the parcel, and the facilities created, changed (with the fields) and
    deleted."""

    parcel: Parcel
    created: list[Facility] = dataclasses.field(default_factory=list)
    changed: list[tuple[Facility, list[str]]] = dataclasses.field(default_factory=list)
    deleted: list[Facility] = dataclasses.field(default_factory=list)


def _named(facility: Facility, error: ValidationError) -> list[str]:
    return [_("%(facility)s: %(message)s") % {"facility": facility.name or "—", "message": m} for m in error.messages]


@transaction.atomic
def parcel_programme_update(
    *,
    parcel: Parcel,
    actor: "User | None",
    expected_version: int | None = None,
    create: Iterable[Mapping[str, Any]] = (),
    update: Iterable[tuple[Facility, Mapping[str, Any]]] = (),
    delete: Iterable[Facility] = (),
) -> Programme:
    """Change a parcel's programme (its facilities) as one change set.

    `create` holds the fields of new facilities, `update` (facility, changes) pairs, `delete` facilities, all on
    this parcel (a facility moves to another parcel with `facility_update`). Everything is applied under the
    parcel's lock and the locks of the facilities changed or deleted (the lock allocation writes take); the guards
    are asked for every facility changed or deleted; the GFA cap is checked once, on the result. So swapping two
    facilities' GFA on a parcel at its cap is one valid change, whichever comes first. Every refusal found is
    raised in one ValidationError, and then nothing is saved.
    """
    lock_for_update(parcel.campus)
    parcel = lock_for_update(parcel, expected_version=expected_version)
    update = [(facility, dict(changes)) for facility, changes in update]
    delete = list(delete)
    ids = [facility.pk for facility, _changes in update] + [facility.pk for facility in delete]
    if len(set(ids)) != len(ids):
        raise ValidationError(_("A change set may change or delete each facility only once."))
    locked = {f.pk: f for f in Facility.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    strangers = sorted(
        str(facility)
        for facility in [*(facility for facility, _changes in update), *delete]
        if facility.pk not in locked or locked[facility.pk].parcel_id != parcel.pk
    )
    if strangers:
        raise ValidationError(
            _("These facilities are not on parcel %(code)s: %(names)s.")
            % {"code": parcel.code, "names": ", ".join(strangers)}
        )

    problems: list[str] = []
    refusals: list[guards.Refusal] = []
    programme = Programme(parcel=parcel)
    for facility in delete:
        row = locked[facility.pk]
        refusals += guards.check(guards.FACILITY_DELETE, row=row)
        programme.deleted.append(row)
    for facility, changes in update:
        row = locked[facility.pk]
        old, new = guards.changes_of(row, changes)
        try:
            changed = apply_changes(row, changes, editable=set(FACILITY_FIELDS) - {"parcel"})
            if changed:
                row.full_clean()
        except ValidationError as error:
            problems += _named(row, error)
            continue
        if changed:
            refusals += guards.check(guards.FACILITY_CHANGE, row=row, old=old, new=new)
            programme.changed.append((row, changed))
    for fields in create:
        row = Facility(parcel=parcel)
        try:
            apply_changes(row, fields, editable=set(FACILITY_FIELDS) - {"parcel"})
            row.full_clean()
        except ValidationError as error:
            problems += _named(row, error)
            continue
        programme.created.append(row)
    if problems or refusals:
        errors: dict[str, list[str]] = {NON_FIELD_ERRORS: problems} if problems else {}
        for refusal in refusals:
            errors.setdefault(refusal.field or NON_FIELD_ERRORS, []).append(refusal.message)
        raise ValidationError(errors)

    for row in programme.deleted:
        delete_audited(row, actor=actor)
    for row, changed in programme.changed:
        save_audited(row, actor=actor, update_fields=changed)
    for row in programme.created:
        save_audited(row, actor=actor)
    gfa = parcel.facilities.total_gfa_m2()
    if gfa > parcel.gfa_cap_m2:
        raise ValidationError(
            _("Parcel %(code)s: %(message)s") % {"code": parcel.code, "message": gfa_cap_message(parcel, gfa)}
        )
    readiness_mark_stale(phase_ids=[parcel.phase_id])
    return programme


# --- utility capacity -------------------------------------------------------------------------------------------

UTILITY_FIELDS = (
    "phase",
    "kind",
    "capacity",
    "available_from",
    "status",
    "responsible",
)


@transaction.atomic
def utility_capacity_create(*, actor: "User | None", **fields: Any) -> UtilityCapacity:
    utility = UtilityCapacity()
    apply_changes(utility, fields, editable=UTILITY_FIELDS)
    utility.full_clean()
    save_audited(utility, actor=actor)
    readiness_mark_stale(phase_ids=[utility.phase_id])
    return utility


@transaction.atomic
def utility_capacity_update(
    *, utility: UtilityCapacity, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> UtilityCapacity:
    utility = lock_for_update(utility, expected_version=expected_version)
    old_phase_id = utility.phase_id
    old, new = guards.changes_of(utility, changes)
    changed = apply_changes(utility, changes, editable=UTILITY_FIELDS)
    if not changed:
        return utility
    utility.full_clean()
    guards.enforce(guards.UTILITY_CHANGE, row=utility, old=old, new=new)
    save_audited(utility, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=[old_phase_id, utility.phase_id])
    return utility


@transaction.atomic
def utility_capacity_delete(*, utility: UtilityCapacity, actor: "User | None") -> None:
    utility = lock_for_update(utility)
    guards.enforce(guards.UTILITY_DELETE, row=utility)
    delete_audited(utility, actor=actor)
    readiness_mark_stale(phase_ids=[utility.phase_id])


# --- schedule ---------------------------------------------------------------------------------------------------

SCHEDULE_ITEM_FIELDS = (
    "phase",
    "kind",
    "category",
    "title",
    "duration_days",
    "baseline_start",
    "baseline_finish",
    "start_not_before",
    "actual_start",
    "actual_finish",
    "facility",
    "utility",
    "responsible",
)
# The fields whose change moves the schedule; the workspace asks for a reason when one changes.
SCHEDULE_DATE_FIELDS = (
    "duration_days",
    "baseline_start",
    "baseline_finish",
    "start_not_before",
    "actual_start",
    "actual_finish",
)
SCHEDULE_DEPENDENCY_FIELDS = ("predecessor", "successor", "lag_days")
# What the engine writes on each item (never edited, not in the history).
SCHEDULE_RESULT_FIELDS = ScheduleItem.RESULT_FIELDS


def schedule_recompute(*, phase: Phase, today: datetime.date | None = None) -> schedule.ScheduleResult:
    """Run the scheduling engine over the phase's items and dependencies and store its results on the items.

    Called by every schedule edit (and a phase's change of dates) inside its transaction, after the phase is
    locked, and by `schedule_refresh` when the readiness sweeps find it computed on another day (the nightly
    `tasks.recompute_all_readiness` reaches every phase), because "today" moves the forecast of work not done.
    Writes only the items whose results changed, with one statement a thousand rows (`core.db.update_rows`): results
    are not edits, so neither the version nor the history moves."""
    today = today or timezone.localdate()
    items = list(ScheduleItem.objects.filter(phase=phase).order_by("pk"))
    links = list(
        ScheduleDependency.objects.filter(successor__phase=phase)
        .order_by("pk")
        .values_list("predecessor_id", "successor_id", "lag_days")
    )
    try:
        result = schedule.compute_from_rows(
            items=items,
            dependencies=[schedule.Dependency(*link) for link in links],
            planned_start=phase.planned_start,
            target_completion=phase.planned_completion,
            today=today,
        )
    except OverflowError:
        raise ValidationError(
            _("The schedule would run past the end of the calendar; shorten the durations or lags of %(phase)s.")
            % {"phase": phase.name}
        ) from None
    changed = []
    for item in items:
        computed = result.items[item.pk]
        values = {
            "forecast_start": computed.forecast_start,
            "forecast_finish": computed.forecast_finish,
            "late_finish": computed.late_finish,
            "total_float_days": computed.total_float_days,
            "critical": computed.critical,
            "driving_predecessor_id": computed.driving_predecessor,
            "scheduled_on": today,
        }
        if any(getattr(item, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(item, name, value)
            changed.append(item)
    if changed:
        update_rows(ScheduleItem, changed, SCHEDULE_RESULT_FIELDS)
    return result


def schedule_refresh(*, phase: Phase, today: datetime.date | None = None) -> bool:
    """Recompute the phase's schedule if it was last computed on another day (or never, as after the migration of
    the milestones): the forecast of work not done moves with today. Called by the readiness sweeps before they
    read the schedule. Whether it recomputed."""
    today = today or timezone.localdate()
    if (
        not ScheduleItem.objects.filter(phase=phase)
        .filter(Q(scheduled_on__isnull=True) | ~Q(scheduled_on=today))
        .exists()
    ):
        return False
    with transaction.atomic():
        schedule_recompute(phase=lock_for_update(phase), today=today)
    return True


def _normalise_item(item: ScheduleItem, changed: Iterable[str]) -> None:
    """A milestone happens on one day: the actual (or baseline) date the edit gave sets the other one too. An
    activity's baseline given by its start alone finishes `duration_days` later."""
    changed = set(changed)
    pairs = (("actual_start", "actual_finish"), ("baseline_start", "baseline_finish"))
    if item.kind == ScheduleItem.Kind.MILESTONE:
        for start, finish in pairs:
            if start in changed and finish not in changed:
                setattr(item, finish, getattr(item, start))
            elif finish in changed and start not in changed:
                setattr(item, start, getattr(item, finish))
            elif getattr(item, start) is None or getattr(item, finish) is None:
                value = getattr(item, start) or getattr(item, finish)
                setattr(item, start, value)
                setattr(item, finish, value)
    elif item.baseline_start is not None and item.baseline_finish is None:
        item.baseline_finish = item.baseline_start + datetime.timedelta(days=item.duration_days or 0)


def _clean_item(item: ScheduleItem, given: Iterable[str]) -> None:
    """`full_clean`, with the error on a milestone's date reported once, on the field the caller gave: the other
    date of the pair was only copied from it (`_normalise_item`), so its error would name a field nobody sent."""
    try:
        item.full_clean()
    except ValidationError as error:
        if item.kind == ScheduleItem.Kind.MILESTONE and hasattr(error, "error_dict"):
            given = set(given)
            for start, finish in (("actual_start", "actual_finish"), ("baseline_start", "baseline_finish")):
                for sent, copied in ((start, finish), (finish, start)):
                    if sent in given and copied not in given and sent in error.error_dict:
                        error.error_dict.pop(copied, None)
        raise


def _check_item(item: ScheduleItem) -> None:
    """What the item delivers belongs to its phase; a milestone is one day, so its two dates agree."""
    errors: dict[str, list[str]] = {}
    if item.facility_id is not None and item.facility.parcel.phase_id != item.phase_id:
        errors["facility"] = [
            _("%(facility)s is on parcel %(parcel)s, which is not in %(phase)s.")
            % {"facility": item.facility.name, "parcel": item.facility.parcel.code, "phase": item.phase.name}
        ]
    if item.utility_id is not None and item.utility.phase_id != item.phase_id:
        errors["utility"] = [_("That utility capacity belongs to another phase.")]
    if item.kind == ScheduleItem.Kind.MILESTONE:
        if item.baseline_start != item.baseline_finish:
            errors["baseline_finish"] = [_("A milestone's baseline finish is its baseline start.")]
        if item.actual_start != item.actual_finish:
            errors["actual_finish"] = [_("A milestone's actual finish is its actual start.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def schedule_item_create(*, actor: "User | None", reason: str = "", **fields: Any) -> ScheduleItem:
    item = ScheduleItem()
    given = apply_changes(item, fields, editable=SCHEDULE_ITEM_FIELDS)
    _normalise_item(item, given)
    _clean_item(item, given)
    lock_for_update(item.phase)
    _check_item(item)
    save_audited(item, actor=actor, reason=reason)
    schedule_recompute(phase=item.phase)
    readiness_mark_stale(phase_ids=[item.phase_id])
    item.refresh_from_db()
    return item


@transaction.atomic
def schedule_item_update(
    *,
    item: ScheduleItem,
    actor: "User | None",
    expected_version: int | None = None,
    reason: str = "",
    **changes: Any,
) -> ScheduleItem:
    """Change an item; the schedule is recomputed at once. `reason` (why a date moved) is kept in the history."""
    # The phase lock serialises the phase's schedule edits: the network a cycle check or a recompute reads is
    # the one that is saved.
    lock_for_update(item.phase)
    item = lock_for_update(item, expected_version=expected_version)
    if "phase" in changes and changes["phase"] != item.phase:
        raise ValidationError({"phase": _("An item stays in its phase; add a new one to the other phase instead.")})
    changed = apply_changes(item, changes, editable=SCHEDULE_ITEM_FIELDS)
    if not changed:
        return item
    before = {name: getattr(item, name) for name in SCHEDULE_DATE_FIELDS}
    given = list(changed)
    _normalise_item(item, changed)
    changed += [name for name, value in before.items() if getattr(item, name) != value and name not in changed]
    _clean_item(item, given)
    _check_item(item)
    save_audited(item, actor=actor, update_fields=changed, reason=reason)
    schedule_recompute(phase=item.phase)
    readiness_mark_stale(phase_ids=[item.phase_id])
    item.refresh_from_db()
    return item


@transaction.atomic
def schedule_item_delete(*, item: ScheduleItem, actor: "User | None", reason: str = "") -> None:
    """Remove an item with its dependencies (each with a history row); the rest of the phase is rescheduled."""
    phase = lock_for_update(item.phase)
    item = lock_for_update(item)
    links = ScheduleDependency.objects.select_for_update().filter(Q(predecessor=item) | Q(successor=item))
    why = reason or _("%(item)s deleted") % {"item": item.name}
    for link in links.order_by("pk"):
        delete_audited(link, actor=actor, reason=why)
    ScheduleItem.objects.filter(driving_predecessor=item).update(driving_predecessor=None)
    delete_audited(item, actor=actor, reason=reason)
    schedule_recompute(phase=phase)
    readiness_mark_stale(phase_ids=[phase.pk])


def _check_dependency(link: ScheduleDependency) -> None:
    """Both ends in one phase, and the link closes no cycle (named in order when it would)."""
    predecessor, successor = link.predecessor, link.successor
    if predecessor.phase_id != successor.phase_id:
        raise ValidationError(
            {
                "predecessor": _(
                    "%(predecessor)s is in %(other)s and %(successor)s in %(phase)s: a dependency links items of "
                    "one phase (give %(successor)s a 'start not before' date instead)."
                )
                % {
                    "predecessor": predecessor.name,
                    "other": predecessor.phase.name,
                    "successor": successor.name,
                    "phase": successor.phase.name,
                }
            }
        )
    others = ScheduleDependency.objects.filter(successor__phase_id=successor.phase_id)
    if link.pk is not None:
        others = others.exclude(pk=link.pk)
    cycle = schedule.cycle_if_added(
        dependencies=[schedule.Dependency(p, s) for p, s in others.values_list("predecessor_id", "successor_id")],
        predecessor_id=predecessor.pk,
        successor_id=successor.pk,
    )
    if cycle:
        labels = {item.pk: item.name for item in ScheduleItem.objects.filter(pk__in=cycle)}
        raise ValidationError(
            {
                "predecessor": _(
                    "This dependency would close a cycle: %(path)s (each must finish before the next starts)."
                )
                % {"path": " → ".join(labels[pk] for pk in cycle)}
            }
        )


@transaction.atomic
def schedule_dependency_create(*, actor: "User | None", reason: str = "", **fields: Any) -> ScheduleDependency:
    link = ScheduleDependency()
    apply_changes(link, fields, editable=SCHEDULE_DEPENDENCY_FIELDS)
    link.full_clean()
    phase = lock_for_update(link.successor.phase)
    _check_dependency(link)
    save_audited(link, actor=actor, reason=reason)
    schedule_recompute(phase=phase)
    readiness_mark_stale(phase_ids=[phase.pk])
    return link


@transaction.atomic
def schedule_dependency_update(
    *,
    link: ScheduleDependency,
    actor: "User | None",
    expected_version: int | None = None,
    reason: str = "",
    **changes: Any,
) -> ScheduleDependency:
    phase = lock_for_update(link.successor.phase)
    link = lock_for_update(link, expected_version=expected_version)
    changed = apply_changes(link, changes, editable=SCHEDULE_DEPENDENCY_FIELDS)
    if not changed:
        return link
    if link.successor.phase_id != phase.pk:
        raise ValidationError({"successor": _("A dependency stays in its phase; add a new one to the other phase.")})
    link.full_clean()
    _check_dependency(link)
    save_audited(link, actor=actor, update_fields=changed, reason=reason)
    schedule_recompute(phase=phase)
    readiness_mark_stale(phase_ids=[phase.pk])
    return link


@transaction.atomic
def schedule_dependency_delete(*, link: ScheduleDependency, actor: "User | None", reason: str = "") -> None:
    phase = lock_for_update(link.successor.phase)
    link = lock_for_update(link)
    delete_audited(link, actor=actor, reason=reason)
    schedule_recompute(phase=phase)
    readiness_mark_stale(phase_ids=[phase.pk])


# --- readiness --------------------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)
# While a recompute of a phase is queued, further changes do not queue another (coalescing); the key expires so a
# lost task never blocks the phase for long, and the periodic sweep catches up anyway.
PENDING_KEY = "readiness:pending:{}"
PENDING_SECONDS = 300


def _enqueue(phase_id: int) -> None:
    """Queue a recompute of the phase unless one is queued already (an on-commit callback, one per phase marked).

    `cache.add` is the coalescing: it succeeds for the first caller only, across transactions and processes, until
    the task starts (`readiness_unqueue`) or the key expires. So a phase marked stale many times, in one transaction
    or in many, gets one task while that task waits in the queue.
    """
    from .tasks import recompute_phase_readiness

    key = PENDING_KEY.format(phase_id)
    # The cache may be the broker's Redis (docker-compose.yml): when that is down, so is the cache.
    try:
        if not cache.add(key, 1, PENDING_SECONDS):
            return  # one is already queued
        recompute_phase_readiness.delay(phase_id)
    except Exception:  # broker or cache down: the sweep will catch up; never fail the user's edit for it
        with contextlib.suppress(Exception):
            cache.delete(key)
        logger.warning("Could not queue the readiness recompute of phase %s; the sweep will.", phase_id, exc_info=True)


def readiness_mark_stale(*, phase_ids: Iterable[int | None]) -> None:
    """Mark phases stale in the current transaction and queue one recompute per phase once it commits.

    One `transaction.on_commit` callback per phase: a rolled-back savepoint drops its own callbacks (Django's
    public contract), and the pending key in the cache keeps a phase marked several times to one queued task. If
    the broker cannot take the task, the change still commits: the phase stays stale, shows as stale, and the
    periodic sweep recomputes it.
    """
    ids = {pk for pk in phase_ids if pk is not None}
    if not ids:
        return
    now = timezone.now()
    Phase.objects.filter(pk__in=ids, readiness_stale=False).update(readiness_stale=True, readiness_stale_since=now)
    Phase.objects.filter(pk__in=ids, readiness_stale_since__isnull=True).update(readiness_stale_since=now)
    freshness.changed()  # the updates above send no signal; the stale marker is a figure the dashboard shows
    for pk in sorted(ids):
        transaction.on_commit(partial(_enqueue, pk))


def readiness_unqueue(*, phase_id: int) -> None:
    """A queued recompute has started: later changes may queue another (if the cache is down, the key expires)."""
    with contextlib.suppress(Exception):
        cache.delete(PENDING_KEY.format(phase_id))


def phases_using_type(facility_type: FacilityType) -> list[int]:
    return list(
        Facility.objects.filter(facility_type=facility_type).values_list("parcel__phase_id", flat=True).distinct()
    )


@transaction.atomic
def readiness_recompute(*, phase: Phase, today=None) -> ReadinessSnapshot:
    """Compute a phase's readiness and store a snapshot, unless the inputs are those of the latest one.

    The phase row stays locked until commit: a change marking it stale meanwhile waits, then marks it stale again,
    so a recompute never hides a newer change.
    """
    from . import readiness

    phase = Phase.objects.select_for_update().get(pk=phase.pk)
    result = readiness.evaluate([phase], today=today)[phase.pk]
    latest = phase.readiness_snapshots.order_by("-computed_at", "-id").first()
    if latest is None or latest.fingerprint != result.fingerprint:
        latest = ReadinessSnapshot.objects.create(
            phase=phase,
            computed_at=timezone.now(),
            score=Decimal(str(result.score)),
            state=result.state,
            criteria=result.criteria,
            fingerprint=result.fingerprint,
        )
    Phase.objects.filter(pk=phase.pk).update(readiness_stale=False, readiness_stale_since=None)
    freshness.changed()
    return latest


def readiness_sweep(*, kind: str, on_progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the stale phases (`kind="stale"`) or every phase (`"all"`), each in its own transaction.

    Records when the sweep finished. `on_progress(done, total)` is called after each phase (for progress bars).
    """
    phases = Phase.objects.order_by("pk")
    if kind == ReadinessSweep.Kind.STALE:
        phases = phases.filter(readiness_stale=True)
    ids = list(phases.values_list("pk", flat=True))
    for done, pk in enumerate(ids, start=1):
        phase = Phase.objects.filter(pk=pk).first()
        if phase is not None:
            schedule_refresh(phase=phase)
            readiness_recompute(phase=phase)
        if on_progress:
            on_progress(done, len(ids))
    ReadinessSweep.objects.update_or_create(kind=kind, defaults={"finished_at": timezone.now(), "phases": len(ids)})
    return len(ids)


SETTING_FIELDS = {"enabled", "weight", "is_gate", "pass_threshold", "at_risk_threshold", "targets"}


def _clean_targets(code: str, targets: Any) -> dict[str, str]:
    """A criterion's targets checked against what it declares, stored as text decimals (exact in JSON)."""
    from . import readiness

    criterion = readiness.REGISTRY.get(code)
    declared = criterion.targets if criterion else {}
    if not isinstance(targets, dict):
        raise ValidationError({"targets": _('Targets are given by name, for example {"occupancy_pct": "30"}.')})
    unknown = sorted(set(targets) - set(declared))
    if unknown:
        raise ValidationError(
            {
                "targets": _("Criterion %(code)s has no target %(names)s; its targets are: %(known)s.")
                % {"code": code, "names": ", ".join(unknown), "known": ", ".join(declared) or "—"}
            }
        )
    cleaned = {}
    for name, value in targets.items():
        target = declared[name]
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            number = None
        if number is None or not number.is_finite() or not target.minimum <= number <= target.maximum:
            raise ValidationError(
                {
                    "targets": _("The target “%(label)s” must be a number from %(minimum)s to %(maximum)s.")
                    % {"label": target.label, "minimum": target.minimum, "maximum": target.maximum}
                }
            )
        cleaned[name] = format(number.normalize(), "f")  # "30", "27.5": not "3E+1"
    return cleaned


@transaction.atomic
def readiness_setting_update(
    *, setting: ReadinessCriterionSetting, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> ReadinessCriterionSetting:
    """Change a criterion's weight, gate, thresholds or targets; every phase's readiness is then stale.

    The new setting is part of every phase's fingerprint, so the recompute the staleness queues stores a new
    snapshot with the new score.
    """
    setting = lock_for_update(setting, expected_version=expected_version)
    if "targets" in changes:
        changes["targets"] = _clean_targets(setting.code, changes["targets"])
    changed = apply_changes(setting, changes, editable=SETTING_FIELDS)
    if not changed:
        return setting
    setting.full_clean()
    save_audited(setting, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=Phase.objects.values_list("pk", flat=True))
    return setting


@transaction.atomic
def readiness_policy_update(
    *, policy: ReadinessPolicy, actor: "User | None", expected_version: int | None = None, **changes: Any
) -> ReadinessPolicy:
    """Change the overall readiness policy; every phase's readiness is then stale (the policy is in the fingerprint)."""
    policy = lock_for_update(policy, expected_version=expected_version)
    changed = apply_changes(policy, changes, editable={"ready_score"})
    if not changed:
        return policy
    policy.full_clean()
    save_audited(policy, actor=actor, update_fields=changed)
    readiness_mark_stale(phase_ids=Phase.objects.values_list("pk", flat=True))
    return policy


def readiness_defaults_ensure() -> None:
    """A settings row for every registered criterion (with its defaults) and the policy row; existing rows kept."""
    from . import readiness

    for code, criterion in readiness.REGISTRY.items():
        ReadinessCriterionSetting.objects.get_or_create(
            code=code,
            defaults={
                "weight": criterion.default_weight,
                "is_gate": criterion.default_gate,
                "pass_threshold": criterion.default_pass,
                "at_risk_threshold": criterion.default_at_risk,
            },
        )
    if not ReadinessPolicy.objects.exists():
        ReadinessPolicy.objects.create()


# --- import -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImportChange:
    """A field an import sets: its value before (None for a new parcel) and after (a phase by its number)."""

    field: str
    old: Any
    new: Any


@dataclasses.dataclass(frozen=True)
class ImportedFeature:
    """What an import does, or in a dry run would do, with one feature: `action` is created, updated or unchanged.

    `changes` are the fields set, without the geometry (`geometry_changed`, and the site areas before and after);
    `version` is the parcel's version before the import (None for a new one), which a later import can be held to.
    """

    index: int
    code: str
    action: str
    changes: list[ImportChange]
    geometry_changed: bool
    site_area_m2: Decimal
    previous_site_area_m2: Decimal | None
    version: int | None


@dataclasses.dataclass(frozen=True)
class ImportOutcome:
    features: list[ImportedFeature]
    dry_run: bool

    def codes(self, action: str) -> list[str]:
        return [feature.code for feature in self.features if feature.action == action]


IMPORT_CREATED, IMPORT_UPDATED, IMPORT_UNCHANGED = "created", "updated", "unchanged"


@transaction.atomic
def parcels_import(
    *,
    campus: Campus,
    actor: "User | None",
    features: list[exchange.ImportFeature],
    dry_run: bool = False,
    expected_versions: Mapping[str, int] | None = None,
) -> ImportOutcome:
    """Create or update a campus's parcels from the features of an import file (`exchange.read_collection`),
    matched to the campus's parcels by code: every feature applied, or none.

    Each feature goes through the steps of `parcel_create` or `parcel_update` (campus defaults for a new parcel,
    `apply_changes`, `refresh_computed_area`, `full_clean`, the guards, `save_audited`) on its own, so one bad
    feature does not hide another's problems. Then, with every feature of the file in place, the plan's rules are
    checked once for the whole layout (`_check_import_layout`): a feature may move into the space another one
    leaves, and two features of the file may not overlap each other. If any feature is refused, `ImportRefused`
    lists every reason of every feature and nothing is saved. A dry run takes the same steps and is rolled back,
    so it answers exactly what the import would do.

    `expected_versions` (code → version, from a dry run) holds the import to the parcels as they were then: a
    parcel changed, added or deleted since is refused, so a preview is never applied to a plan it did not show.
    """
    campus = lock_for_update(campus)
    codes = [feature.code for feature in features if feature.code]
    existing = {
        parcel.code: parcel
        for parcel in Parcel.objects.select_for_update(of=("self",))
        .filter(campus=campus, code__in=codes)
        .select_related("phase")
        .order_by("pk")
    }
    phases = {phase.number: phase for phase in campus.phases.all()}
    refusals: list[exchange.ImportRefusal] = []
    outcomes: list[ImportedFeature] = []
    placed: list[tuple[exchange.ImportFeature, Parcel]] = []
    stale: set[int | None] = set()
    for feature in features:
        errors = list(feature.errors) or _import_version_errors(feature.code, existing, expected_versions)
        if not errors:
            try:
                outcome, parcel, phase_ids = _import_feature(
                    feature, campus=campus, parcel=existing.get(feature.code), phases=phases, actor=actor
                )
            except ValidationError as error:
                errors = _error_pairs(error)
            else:
                outcomes.append(outcome)
                if outcome.action != IMPORT_UNCHANGED:
                    placed.append((feature, parcel))
                    stale.update(phase_ids)
        refusals += [exchange.refusal(feature.index, feature.code, name, message) for name, message in errors]
    refusals += _check_import_layout(campus, placed)
    if refusals:
        raise exchange.ImportRefused(sorted(refusals, key=lambda r: (r.index is None, r.index or 0)))
    if dry_run:
        transaction.set_rollback(True)  # the history rows and saves of the dry run go too
    else:
        readiness_mark_stale(phase_ids=stale)
    return ImportOutcome(features=outcomes, dry_run=dry_run)


def _error_pairs(error: ValidationError) -> list[tuple[str | None, str]]:
    if not hasattr(error, "error_dict"):
        return [(None, message) for message in error.messages]
    return [
        (None if name == NON_FIELD_ERRORS else name, message)
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def _import_version_errors(code, existing, expected_versions) -> list[tuple[str | None, str]]:
    if expected_versions is None:
        return []
    parcel = existing.get(code)
    if parcel is not None and code not in expected_versions:
        return [(None, _("Parcel %(code)s was added by someone else since the preview.") % {"code": code})]
    if parcel is None and code in expected_versions:
        return [(None, _("Parcel %(code)s was deleted by someone else since the preview.") % {"code": code})]
    if parcel is not None and parcel.version != expected_versions[code]:
        return [
            (
                None,
                _("Parcel %(code)s was changed by someone else since the preview (version %(then)s, now %(now)s).")
                % {"code": code, "then": expected_versions[code], "now": parcel.version},
            )
        ]
    return []


def _plain(value):
    return value.number if isinstance(value, Phase) else value


def _import_feature(feature, *, campus: Campus, parcel: Parcel | None, phases: dict, actor) -> tuple:
    """Apply one feature to its parcel (new when `parcel` is None) with the steps of parcel_create/parcel_update,
    except the plan's rules (`_check_import_layout`, once the whole file is in place). Returns the outcome, the
    saved parcel and the phases whose readiness it touches; raises ValidationError keyed by field."""
    changes = dict(feature.fields)
    if "phase_number" in changes:
        number = changes.pop("phase_number")
        changes["phase"] = None if number is None else phases.get(number)
        if number is not None and changes["phase"] is None:
            raise ValidationError(
                {
                    "phase": _("%(campus)s has no phase %(number)s (its phases: %(numbers)s).")
                    % {
                        "campus": campus.name,
                        "number": number,
                        "numbers": ", ".join(str(n) for n in sorted(phases)) or "—",
                    }
                }
            )
    if "geometry" in changes:
        try:  # normalised first, so that a polygon already stored counts as unchanged
            changes["geometry"] = geometry.to_geojson(geometry.parse_polygon(changes["geometry"]))
        except ValidationError as error:
            raise ValidationError({"geometry": error.messages}) from None

    if parcel is None:
        if "geometry" not in changes:
            raise ValidationError({"geometry": _("A new parcel needs a geometry: a Polygon.")})
        parcel = Parcel(campus=campus)
        for name, default in CAMPUS_DEFAULTS.items():
            if changes.get(name) is None:
                changes[name] = getattr(campus, default)
        apply_changes(parcel, {"code": feature.code, **changes}, editable=set(PARCEL_FIELDS) - {"campus"})
        refresh_computed_area(parcel)
        parcel.full_clean()
        save_audited(parcel, actor=actor)
        set_fields = [
            ImportChange(name, None, _plain(changes[name]))
            for name in PARCEL_FIELDS
            if name in changes and name != "geometry"
        ]
        outcome = ImportedFeature(
            feature.index, feature.code, IMPORT_CREATED, set_fields, True, parcel.site_area_m2, None, None
        )
        return outcome, parcel, [parcel.phase_id]

    version, old_phase_id, old_area = parcel.version, parcel.phase_id, parcel.site_area_m2
    before = {name: _plain(getattr(parcel, name)) for name in changes}
    old, new = guards.changes_of(parcel, changes)
    changed = apply_changes(parcel, changes, editable=PARCEL_FIELDS)
    if changed:
        refresh_computed_area(parcel)
        if "geometry" in changed:
            changed.append("computed_area_m2")
        parcel.full_clean()
        guards.enforce(guards.PARCEL_CHANGE, row=parcel, old=old, new=new)
        save_audited(parcel, actor=actor, update_fields=changed)
    outcome = ImportedFeature(
        feature.index,
        feature.code,
        IMPORT_UPDATED if changed else IMPORT_UNCHANGED,
        [
            ImportChange(name, before[name], _plain(getattr(parcel, name)))
            for name in changed
            if name in before and name != "geometry"
        ],
        "geometry" in changed,
        parcel.site_area_m2,
        old_area,
        version,
    )
    return outcome, parcel, [old_phase_id, parcel.phase_id]


def _check_import_layout(campus: Campus, placed: list) -> list[exchange.ImportRefusal]:
    """The rules of `_check_parcel_in_plan` with every feature of an import in place, in one pass.

    Each parcel the import creates or changes lies inside the campus boundary, overlaps no other parcel (the
    file's own included) and keeps its facilities' GFA within its cap; the campus total is checked once, for the
    whole file (a refusal of the file, not of one feature). The same rules and messages as for one parcel, but the
    layout is projected once and overlaps found with a spatial index: checking 2,000 features one by one against
    every other parcel would take minutes.
    """
    from django.db.models import Sum
    from shapely import STRtree
    from shapely.geometry import shape

    if not placed:
        return []
    refusals = []
    boundary = geometry.to_grid(geometry.parse_polygon(campus.boundary))
    rows = list(Parcel.objects.filter(campus=campus).order_by("pk").values_list("pk", "code", "geometry"))
    grids = [geometry.to_grid(shape(stored)) for _pk, _code, stored in rows]
    position = {pk: index for index, (pk, _code, _stored) in enumerate(rows)}
    tree = STRtree(grids)
    gfa = dict(
        Facility.objects.filter(parcel__in=[parcel.pk for _feature, parcel in placed])
        .values_list("parcel_id")
        .annotate(total=Sum("gfa_m2"))
        .order_by()
    )
    for feature, parcel in placed:
        mine = position[parcel.pk]
        polygon = grids[mine]
        outside = polygon.difference(boundary).area
        if outside > geometry.TOLERANCE_M2:
            message = _("The parcel extends %(area)s beyond the boundary of %(campus)s.") % {
                "area": fmt_m2(outside),
                "campus": campus.name,
            }
            refusals.append(exchange.refusal(feature.index, feature.code, "geometry", message))
        for other in sorted(tree.query(polygon, predicate="intersects")):
            shared = polygon.intersection(grids[other]).area if other != mine else 0
            if shared > geometry.TOLERANCE_M2:
                message = _("The parcel overlaps parcel %(code)s by %(area)s.") % {
                    "code": rows[other][1],
                    "area": fmt_m2(shared),
                }
                refusals.append(exchange.refusal(feature.index, feature.code, "geometry", message))
        total_gfa = gfa.get(parcel.pk, Decimal(0))
        if total_gfa > parcel.gfa_cap_m2:
            refusals.append(
                exchange.refusal(feature.index, feature.code, "max_plot_ratio", gfa_cap_message(parcel, total_gfa))
            )
    total = Parcel.objects.filter(campus=campus).total_site_area_m2()
    target = ha_to_m2(campus.land_target_ha)
    limit = target * (1 + CAMPUS_TOTAL_TOLERANCE)
    if total > limit:
        message = _(
            "The campus's parcels would total %(total)s, more than its land target of %(target)s + 1 %% (%(limit)s)."
        ) % {"total": fmt_m2(total), "target": fmt_m2(target), "limit": fmt_m2(limit)}
        refusals.append(exchange.refusal(None, None, None, message))
    return refusals
