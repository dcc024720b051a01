"""Parcels in and out as files: reading an import file's features, and the rows of the parcel export.

Import: a GeoJSON FeatureCollection of parcels, in WGS84 longitude/latitude (EPSG:4326, RFC 7946) or in HK1980 Grid
easting/northing metres (EPSG:2326, what Hong Kong surveyors deliver), named by the request or by a legacy (2008
GeoJSON) `crs` member of the file. Each feature is read on its own into an `ImportFeature`: its `code`, the parcel
fields its properties give (named as the parcel's fields; `phase` by the phase's number within the campus) and its
Polygon in WGS84, or the reasons it cannot be read. Nothing here looks at the plan: `services.parcels_import`
matches the features to the campus's parcels by code and applies them with the parcel services' steps and rules.

Export: one row per parcel, in `export_columns` order (GFA by facility type one column per type, by type code),
read in three queries whatever the number of parcels. Text cells a spreadsheet would take for a formula are
neutralised by `neutralise` (CSV here; XLSX by drf-excel, which applies the same rule).
"""

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Sum
from django.utils.translation import gettext as _

from . import geometry
from .models import Facility, FacilityType, Parcel

WGS84 = geometry.WGS84
HK1980_GRID = geometry.HK1980_GRID
CRS_CHOICES = (WGS84, HK1980_GRID)
# The names a legacy `crs` member (or a request) may give each of the two, compared without regard to case.
CRS_NAMES = {
    "epsg:4326": WGS84,
    "urn:ogc:def:crs:epsg::4326": WGS84,
    "urn:ogc:def:crs:ogc:1.3:crs84": WGS84,
    "urn:ogc:def:crs:ogc::crs84": WGS84,
    "ogc:crs84": WGS84,
    "epsg:2326": HK1980_GRID,
    "urn:ogc:def:crs:epsg::2326": HK1980_GRID,
}
# Hong Kong in HK1980 Grid metres (easting, northing): geometry.HONG_KONG_BOUNDS projected, rounded outwards.
GRID_BOUNDS = (797_000, 795_000, 870_000, 852_000)

# The optional properties a feature may carry, beside `code`. Others are ignored (an export's read-only columns,
# such as site_area_m2 or the GFA, among them), so an exported GeoJSON file imports back unchanged.
PROPERTIES = (
    "phase",
    "lot_ref",
    "zoning",
    "max_plot_ratio",
    "max_site_coverage_pct",
    "max_building_height_mpd",
    "surveyed_area_m2",
    "land_status",
    "handover_date",
)


@dataclass
class ImportFeature:
    """One feature of an import file as read: `fields` are parcel fields (with `phase_number` for the phase,
    None for the reserve, and `geometry` a WGS84 GeoJSON Polygon); `errors` are (property, message) pairs."""

    index: int
    code: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportRefusal:
    """Why a feature (`index` in the file's `features`, from 0, and its code) cannot be imported; `index` and
    `code` are None for a refusal of the file as a whole (the campus total)."""

    index: int | None
    code: str | None
    reason: str
    field: str | None = None


class ImportRefused(ValidationError):
    """An import refused: `refusals` lists every reason of every feature refused. Nothing was saved."""

    def __init__(self, refusals: list[ImportRefusal]):
        self.refusals = refusals
        super().__init__([describe(item) for item in refusals])


def refusal(index: int | None, code: str | None, field: str | None, message: str) -> ImportRefusal:
    """A refusal whose reason names the property it concerns ("max_plot_ratio: …"), except for the geometry."""
    reason = message if field in (None, "geometry") else f"{field}: {message}"
    return ImportRefusal(index=index, code=code, reason=reason, field=field)


def describe(item: ImportRefusal) -> str:
    """A refusal in one sentence, for a reader without the table: "Feature 2 (P1-X): …" (counted from 1)."""
    if item.index is None:
        return item.reason
    return _("Feature %(number)s (%(code)s): %(reason)s") % {
        "number": item.index + 1,
        "code": item.code or _("no code"),
        "reason": item.reason,
    }


# --- reading an import file -------------------------------------------------------------------------------------


def declared_crs(collection: dict) -> str | None:
    """The CRS a legacy `crs` member of the file names, as "EPSG:4326" or "EPSG:2326"; None without one."""
    member = collection.get("crs")
    if member is None:
        return None
    properties = member.get("properties") if isinstance(member, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str) or member.get("type") != "name":
        raise ValidationError(
            {
                "collection": _(
                    'The file\'s crs member is not of the form {"type": "name", "properties": {"name": "EPSG:2326"}}.'
                )
            }
        )
    crs = CRS_NAMES.get(name.strip().lower())
    if crs is None:
        raise ValidationError(
            {
                "collection": _(
                    "The file's crs member names %(name)s; only EPSG:4326 (WGS84) and EPSG:2326 (HK1980 Grid) "
                    "can be imported."
                )
                % {"name": name[:80]}
            }
        )
    return crs


def resolve_crs(requested: str | None, collection: dict) -> str:
    """The file's CRS: the one requested, or the one its legacy `crs` member names; they must agree."""
    declared = declared_crs(collection)
    chosen = CRS_NAMES.get(requested.strip().lower()) if requested else None
    if requested and chosen is None:
        raise ValidationError({"crs": _("Choose EPSG:4326 (WGS84) or EPSG:2326 (HK1980 Grid).")})
    if chosen and declared and chosen != declared:
        raise ValidationError(
            {
                "crs": _(
                    "The file says it is in %(declared)s (its crs member), but %(chosen)s was chosen. Choose "
                    "%(declared)s, or correct the file's crs member."
                )
                % {"declared": declared, "chosen": chosen}
            }
        )
    crs = chosen or declared
    if crs is None:
        raise ValidationError(
            {
                "crs": _(
                    "Say which coordinate reference system the file uses: EPSG:4326 (WGS84 longitude/latitude) or "
                    "EPSG:2326 (HK1980 Grid easting/northing)."
                )
            }
        )
    return crs


def read_collection(collection: Any, *, crs: str | None, max_features: int | None = None) -> list[ImportFeature]:
    """Every feature of an import file, each read on its own (see the module docstring).

    A file that is not a FeatureCollection, has no features or too many, or whose CRS is unknown or in conflict
    with the one requested, raises ValidationError keyed by `collection` or `crs`; a feature that cannot be read
    carries its reasons in `errors`, so every feature's problems are reported together.
    """
    if max_features is None:
        max_features = settings.PARCEL_IMPORT_MAX_FEATURES
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        found = collection.get("type") if isinstance(collection, dict) else type(collection).__name__
        raise ValidationError(
            {
                "collection": _(
                    'Expected a GeoJSON FeatureCollection (an object with "type": "FeatureCollection"), got %(found)s.'
                )
                % {"found": repr(found)[:40]}
            }
        )
    features = collection.get("features")
    if not isinstance(features, list):
        raise ValidationError({"collection": _('The FeatureCollection needs "features": a list of features.')})
    if not features:
        raise ValidationError({"collection": _("The file has no features: there is nothing to import.")})
    if len(features) > max_features:
        raise ValidationError(
            {
                "collection": _(
                    "The file has %(count)s features; at most %(max)s can be imported at once. Split it into "
                    "several files."
                )
                % {"count": f"{len(features):,}", "max": f"{max_features:,}"}
            }
        )
    crs = resolve_crs(crs, collection)
    read = [read_feature(index, raw, crs) for index, raw in enumerate(features)]
    seen: set[str] = set()
    for feature in read:
        if feature.code is None:
            continue
        if feature.code in seen:
            feature.errors.append(
                ("code", _("The code %(code)s appears more than once in the file.") % {"code": feature.code})
            )
        seen.add(feature.code)
    return read


def read_feature(index: int, raw: Any, crs: str) -> ImportFeature:
    if not isinstance(raw, dict) or raw.get("type") != "Feature":
        return ImportFeature(
            index, None, errors=[(None, _('Expected a GeoJSON Feature (an object with "type": "Feature").'))]
        )
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        return ImportFeature(index, None, errors=[(None, _("The feature's properties are not an object."))])
    feature = ImportFeature(index, _read_code(properties.get("code")))
    if feature.code is None:
        feature.errors.append(("code", _("Every feature needs a code property: the parcel's code, e.g. P1-A.")))
    elif NUL in feature.code:
        # Refused, and shown (and looked up among the campus's codes) with U+FFFD in its place: PostgreSQL refuses NUL.
        feature.code = feature.code.replace(NUL, "\ufffd")
        feature.errors.append(("code", ProhibitNullCharactersValidator.message))
    for name in PROPERTIES:
        if name not in properties:
            continue
        try:
            value = READERS[name](properties[name])
        except ValidationError as error:
            feature.errors.append((name, error.messages[0]))
            continue
        if value is not OMIT:
            feature.fields["phase_number" if name == "phase" else name] = value
    # A null or missing geometry keeps a parcel's polygon (an update of its properties only); a new parcel needs one.
    if raw.get("geometry") is not None:
        try:
            feature.fields["geometry"] = read_polygon(raw["geometry"], crs)
        except ValidationError as error:
            feature.errors.append(("geometry", error.messages[0]))
    return feature


def _read_code(value) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


NUL = "\x00"
OMIT = object()  # a null for a field that cannot be empty: taken as absent (campus default on create, kept on update)


def _text(value):
    if value is None:
        return OMIT
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValidationError(_("Expected text."))
    ProhibitNullCharactersValidator()(value)  # PostgreSQL refuses NUL in text
    return value.strip()


def _number(value, *, null=OMIT):
    if value is None:
        return null
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(_("Expected a number."))
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValidationError(_("Expected a number, got %(value)s.") % {"value": repr(value)[:40]}) from None
    if not number.is_finite():
        raise ValidationError(_("Expected a finite number."))
    return number


def _phase(value):
    if value is None:
        return None  # the reserve
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(_("Expected a phase number, e.g. 1, or null for the reserve."))
    return value


def _land_status(value):
    if value is None:
        return OMIT
    if value not in Parcel.LandStatus.values:
        raise ValidationError(
            _("Expected one of %(choices)s, got %(value)s.")
            % {"choices": ", ".join(Parcel.LandStatus.values), "value": repr(value)[:40]}
        )
    return value


def _date(value):
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(_("Expected a date as YYYY-MM-DD, got %(value)s.") % {"value": repr(value)[:40]})


READERS = {
    "phase": _phase,
    "lot_ref": _text,
    "zoning": _text,
    "max_plot_ratio": _number,
    "max_site_coverage_pct": _number,
    "max_building_height_mpd": _number,
    "surveyed_area_m2": lambda value: _number(value, null=None),
    "land_status": _land_status,
    "handover_date": _date,
}


def _looks_like(position, bounds) -> bool:
    min_x, min_y, max_x, max_y = bounds
    return (
        isinstance(position, list)
        and len(position) >= 2
        and all(isinstance(n, int | float) and not isinstance(n, bool) for n in position[:2])
        and min_x <= position[0] <= max_x
        and min_y <= position[1] <= max_y
    )


def _first_position(value: dict):
    rings = value.get("coordinates")
    if isinstance(rings, list) and rings and isinstance(rings[0], list) and rings[0]:
        return rings[0][0]
    return None


def read_polygon(value: Any, crs: str) -> dict:
    """A feature's geometry as a GeoJSON Polygon in WGS84 (converted from HK1980 Grid if need be).

    What the parcel services check (validity, the Hong Kong bounds, the vertex limit) they check again, with their
    own messages; here only what the conversion needs, with the hints a planner needs when the CRS is the wrong one.
    """
    if not isinstance(value, dict):
        raise ValidationError(_("The geometry is not a GeoJSON object."))
    kind = value.get("type")
    if kind == "MultiPolygon":
        raise ValidationError(
            _("The geometry is a MultiPolygon; a parcel is one Polygon. Give each part its own feature and code.")
        )
    if kind != "Polygon":
        raise ValidationError(_("The geometry is a %(type)s; a parcel is a Polygon.") % {"type": repr(kind)[:40]})
    first = _first_position(value)
    if crs == WGS84:
        if _looks_like(first, GRID_BOUNDS):
            raise ValidationError(
                _(
                    "Coordinates such as (%(x)s, %(y)s) are HK1980 Grid metres, not WGS84 degrees: import the file "
                    "as EPSG:2326."
                )
                % {"x": first[0], "y": first[1]}
            )
        return value
    if _looks_like(first, geometry.HONG_KONG_BOUNDS):
        raise ValidationError(
            _(
                "Coordinates such as (%(x)s, %(y)s) are WGS84 degrees, not HK1980 Grid metres: import the file as "
                "EPSG:4326."
            )
            % {"x": first[0], "y": first[1]}
        )
    return {"type": "Polygon", "coordinates": _grid_rings_to_wgs84(value.get("coordinates"))}


def _grid_rings_to_wgs84(rings) -> list:
    if not isinstance(rings, list) or not rings or not all(isinstance(ring, list) for ring in rings):
        raise ValidationError(_("A Polygon needs 'coordinates': a list of linear rings."))
    if sum(len(ring) for ring in rings) > geometry.MAX_VERTICES:
        raise ValidationError(_("A polygon may have at most %(max)s positions.") % {"max": geometry.MAX_VERTICES})
    min_x, min_y, max_x, max_y = GRID_BOUNDS
    transformer = geometry.transformer_to_wgs84()
    converted = []
    for ring_index, ring in enumerate(rings):
        eastings, northings = [], []
        for index, position in enumerate(ring):
            where = _("Position %(i)s of ring %(ring)s") % {"i": index + 1, "ring": ring_index + 1}
            if not isinstance(position, list) or len(position) < 2:
                raise ValidationError(_("%(where)s is not an [easting, northing] pair.") % {"where": where})
            x, y = position[0], position[1]
            if not all(isinstance(n, int | float) and not isinstance(n, bool) and _finite(n) for n in (x, y)):
                raise ValidationError(_("%(where)s has a coordinate that is not a finite number.") % {"where": where})
            if not (min_x <= x <= max_x and min_y <= y <= max_y):
                raise ValidationError(
                    _(
                        "%(where)s (%(x)s, %(y)s) is not an HK1980 Grid easting/northing in Hong Kong (easting "
                        "%(min_x)s–%(max_x)s m, northing %(min_y)s–%(max_y)s m; easting comes first)."
                    )
                    % {
                        "where": where,
                        "x": x,
                        "y": y,
                        "min_x": f"{min_x:,}",
                        "max_x": f"{max_x:,}",
                        "min_y": f"{min_y:,}",
                        "max_y": f"{max_y:,}",
                    }
                )
            eastings.append(float(x))
            northings.append(float(y))
        longitudes, latitudes = transformer.transform(eastings, northings)
        converted.append([[lon, lat] for lon, lat in zip(longitudes, latitudes, strict=True)])
    return converted


def _finite(number) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


# --- the export -------------------------------------------------------------------------------------------------

# Areas and GFA in m², to the centimetre; the controls as stored.
TEXT_COLUMNS = frozenset({"campus", "code", "lot_ref", "zoning", "land_status"})
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def gfa_column(type_code: str) -> str:
    return f"gfa_{type_code}_m2"


def export_columns(type_codes: list[str]) -> list[str]:
    return [
        "campus",
        "code",
        "phase",
        "lot_ref",
        "zoning",
        "max_plot_ratio",
        "max_site_coverage_pct",
        "max_building_height_mpd",
        "site_area_m2",
        *(gfa_column(code) for code in type_codes),
        "gfa_m2",
        "gfa_cap_m2",
        "land_status",
        "handover_date",
    ]


@dataclass
class ExportTable:
    columns: list[str]
    rows: list[dict[str, Any]]
    geometries: list[dict] | None = None  # in the rows' order, when asked for


VALUES = (
    "pk",
    "campus__code",
    "code",
    "phase__number",
    "lot_ref",
    "zoning",
    "max_plot_ratio",
    "max_site_coverage_pct",
    "max_building_height_mpd",
    "surveyed_area_m2",
    "computed_area_m2",
    "land_status",
    "handover_date",
)


def export_table(parcels, *, with_geometry: bool = False) -> ExportTable:
    """The export's rows for a queryset of parcels (already scoped and filtered), in its order: three queries.

    Numbers are Decimals (areas and GFA to the centimetre), dates `datetime.date`, the phase its number (None for
    the reserve); every facility type has its GFA column, 0 where the parcel has none of it.
    """
    type_codes = list(FacilityType.objects.order_by("code").values_list("code", flat=True))
    gfa: dict[int, dict[str, Decimal]] = defaultdict(dict)
    totals = (
        Facility.objects.filter(parcel__in=parcels.values("pk"))
        .values_list("parcel_id", "facility_type__code")
        .annotate(total=Sum("gfa_m2"))
        .order_by()
    )
    for parcel_id, type_code, total in totals:
        gfa[parcel_id][type_code] = total
    zero = Decimal("0.00")
    rows, geometries = [], []
    for row in parcels.values(*VALUES, *(["geometry"] if with_geometry else [])):
        parcel = Parcel(
            max_plot_ratio=row["max_plot_ratio"],
            surveyed_area_m2=row["surveyed_area_m2"],
            computed_area_m2=row["computed_area_m2"],
        )
        by_type = gfa.get(row["pk"], {})
        rows.append(
            {
                "campus": row["campus__code"],
                "code": row["code"],
                "phase": row["phase__number"],
                "lot_ref": row["lot_ref"],
                "zoning": row["zoning"],
                "max_plot_ratio": row["max_plot_ratio"],
                "max_site_coverage_pct": row["max_site_coverage_pct"],
                "max_building_height_mpd": row["max_building_height_mpd"],
                "site_area_m2": parcel.site_area_m2,
                **{gfa_column(code): by_type.get(code, zero) for code in type_codes},
                "gfa_m2": sum(by_type.values(), zero),
                "gfa_cap_m2": parcel.gfa_cap_m2,
                "land_status": row["land_status"],
                "handover_date": row["handover_date"],
            }
        )
        if with_geometry:
            geometries.append(row["geometry"])
    return ExportTable(export_columns(type_codes), rows, geometries if with_geometry else None)


def export_features(table: ExportTable) -> dict:
    """The export as an RFC 7946 FeatureCollection (WGS84): the rows as the features' properties."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": shape, "properties": row}
            for row, shape in zip(table.rows, table.geometries or [], strict=True)
        ],
    }


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet would read as a formula (=, +, -, @, tab, CR, LF first), prefixed with '."""
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value) -> str:
    """A value as CSV text: numbers plain (a point, no grouping), dates ISO, text neutralised, None empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))
