"""Parcel and campus polygons: GeoJSON in, validated and normalised shapely geometry out, areas in HK1980 Grid.

Geometry is stored as GeoJSON (RFC 7946, WGS84 longitude/latitude), normalised on every write: exterior ring
counter-clockwise, holes clockwise, coordinates rounded to 9 decimals, consecutive repeated positions dropped and
every ring closed. Areas and overlaps are measured after projecting to HK1980 Grid (EPSG:2326), never in degrees,
through the one published datum transformation (EPSG:1825), checked at start-up. Every refusal is a
ValidationError whose message says what is wrong.
"""

import math
from decimal import Decimal
from functools import lru_cache

import shapely
import shapely.ops
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import formats
from django.utils.translation import gettext as _
from pyproj import Transformer
from pyproj.exceptions import ProjError
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

WGS84 = "EPSG:4326"
HK1980_GRID = "EPSG:2326"
# "Hong Kong 1980 to WGS 84 (1)": the Survey and Mapping Office's published 7-parameter transformation. Without the
# PROJ database PROJ would fall back to a "ballpark" shift that moves Hong Kong coordinates by about 300 m.
HK1980_TO_WGS84 = "EPSG:1825"

# Hong Kong SAR, generously (land and waters): longitude 113.8–114.5 E, latitude 22.1–22.6 N.
HONG_KONG_BOUNDS = (113.8, 22.1, 114.5, 22.6)

# Stored precision: 9 decimals of a degree is about 0.1 mm, so even a 10 m square keeps its area within 0.01 %.
DECIMALS = 9
# Slivers below this size come from rounding and surveying noise, and are not real overlaps.
TOLERANCE_M2 = 1.0
MAX_VERTICES = 10_000


def datum_transformations(transformer: Transformer) -> list[str]:
    """The datum transformations a transformer applies, as "EPSG:<code>" (or the step's name when it has none)."""
    operation = transformer.to_json_dict()
    found = []
    for step in operation.get("steps", [operation]):
        if step.get("type") != "Transformation" and "Ballpark" not in step.get("name", ""):
            continue  # conversions (axis order, map projection) do not change the datum
        ident = step.get("id") or {}
        if ident.get("authority") in ("EPSG", "INVERSE(EPSG)"):
            found.append(f"EPSG:{ident['code']}")
        else:
            found.append(step.get("name", "?"))
    return found


def pinned_transformer(source: str, target: str) -> Transformer:
    """A WGS84 ↔ HK1980 Grid transformer that applies EPSG:1825 and nothing else, or ImproperlyConfigured."""
    try:
        transformer = Transformer.from_crs(source, target, always_xy=True, allow_ballpark=False, only_best=True)
    except ProjError as error:
        raise ImproperlyConfigured(
            f"No transformation {source} → {target} without a ballpark datum shift ({error}). "
            f"Install pyproj with its PROJ database: {HK1980_TO_WGS84} is needed."
        ) from error
    return ensure_pinned(transformer)


def ensure_pinned(transformer: Transformer) -> Transformer:
    """The transformer itself when its only datum transformation is EPSG:1825, else ImproperlyConfigured."""
    found = datum_transformations(transformer)
    if found != [HK1980_TO_WGS84]:
        raise ImproperlyConfigured(
            f"The WGS84 ↔ HK1980 Grid transformation in use is {found or 'none'} "
            f"({transformer.description}), not {HK1980_TO_WGS84}: another or a ballpark transformation can move "
            "coordinates by up to about 300 m. Use pyproj's own PROJ database (PROJ_DATA), which holds EPSG:1825."
        )
    return transformer


@lru_cache(maxsize=1)
def transformer_to_grid() -> Transformer:
    return pinned_transformer(WGS84, HK1980_GRID)


@lru_cache(maxsize=1)
def transformer_to_wgs84() -> Transformer:
    return pinned_transformer(HK1980_GRID, WGS84)


def check_transformation(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """System check (registered by planning's AppConfig): the pinned transformation is available."""
    try:
        transformer_to_grid()
        transformer_to_wgs84()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="planning.E001")]
    return []


def to_grid(geometry):
    """Project a WGS84 geometry to HK1980 Grid metres."""
    return shapely.transform(geometry, lambda x, y: transformer_to_grid().transform(x, y), interleaved=False)


def from_grid(geometry):
    """Project an HK1980 Grid geometry back to WGS84 longitude/latitude."""
    return shapely.transform(geometry, lambda x, y: transformer_to_wgs84().transform(x, y), interleaved=False)


def rectangle_geojson(min_x: float, min_y: float, max_x: float, max_y: float) -> dict:
    """A GeoJSON Polygon (WGS84) of a rectangle given in HK1980 Grid metres; handy for surveys and tests."""
    grid = Polygon([(min_x, min_y), (max_x, min_y), (max_x, max_y), (min_x, max_y)])
    return to_geojson(from_grid(grid))


def _normal_ring(points) -> list[tuple[float, float]]:
    """A ring at the stored precision, without consecutive repeated positions, closed."""
    ring: list[tuple[float, float]] = []
    for x, y in points:
        point = (round(x, DECIMALS), round(y, DECIMALS))
        if not ring or point != ring[-1]:
            ring.append(point)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    return [*ring, ring[0]] if ring else ring


def to_geojson(polygon) -> dict:
    """GeoJSON of a polygon, normalised: the stored precision, exterior ring counter-clockwise and holes clockwise
    (RFC 7946), closed rings without repeated positions."""
    oriented = orient(polygon, sign=1.0)
    rings = [oriented.exterior.coords, *(hole.coords for hole in oriented.interiors)]
    return {"type": "Polygon", "coordinates": [[list(point) for point in _normal_ring(ring)] for ring in rings]}


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float (JSON allows any length) is as unusable as infinity
        return False


def _position(value, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValidationError(_("%(where)s is not a [longitude, latitude] pair.") % {"where": where})
    lon, lat = value[0], value[1]
    for number in (lon, lat):
        if isinstance(number, bool) or not isinstance(number, int | float) or not _finite(number):
            raise ValidationError(_("%(where)s has a coordinate that is not a finite number.") % {"where": where})
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(
            _("%(where)s (%(lon)s, %(lat)s) is not a WGS84 longitude/latitude (longitude comes first).")
            % {"where": where, "lon": lon, "lat": lat}
        )
    return float(lon), float(lat)


def parse_polygon(value) -> Polygon:
    """Check a GeoJSON Polygon in WGS84 and return it as a normalised shapely Polygon (see `to_geojson`).

    Coordinates are rounded to the stored precision, repeated positions dropped and open rings closed before the
    checks, so what is checked is what is stored. Refused: anything that is not a Polygon object, a ring of fewer
    than three different positions, coordinates that are not numbers or not WGS84, a self-intersecting or otherwise
    invalid ring, and a polygon that is not wholly inside Hong Kong.
    """
    if not isinstance(value, dict):
        raise ValidationError(_("Expected a GeoJSON object of type Polygon."))
    if value.get("type") != "Polygon":
        raise ValidationError(
            _("Expected a GeoJSON Polygon, got type %(type)s.") % {"type": repr(value.get("type"))[:40]}
        )
    rings = value.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise ValidationError(_("A Polygon needs 'coordinates': a list of linear rings."))
    if sum(len(ring) if isinstance(ring, list) else 0 for ring in rings) > MAX_VERTICES:
        raise ValidationError(_("A polygon may have at most %(max)s positions.") % {"max": MAX_VERTICES})
    parsed = []
    for index, ring in enumerate(rings):
        label = _("the outer ring") if index == 0 else _("hole %(n)s") % {"n": index}
        if not isinstance(ring, list):
            raise ValidationError(_("%(ring)s is not a list of positions.") % {"ring": label})
        points = _normal_ring(
            _position(pt, _("Position %(i)s of %(ring)s") % {"i": i + 1, "ring": label}) for i, pt in enumerate(ring)
        )
        if len(points) < 4:
            raise ValidationError(
                _("%(ring)s needs at least three different positions (a triangle or more).") % {"ring": label}
            )
        parsed.append(points)
    polygon = Polygon(parsed[0], parsed[1:])
    if not polygon.is_valid:
        reason = explain_validity(polygon)
        if shapely.make_valid(polygon).area == 0:
            raise ValidationError(_("The polygon has no area (its positions lie on one line)."))
        if "Self-intersection" in reason:
            raise ValidationError(_("The polygon's edges cross each other (%(detail)s).") % {"detail": reason})
        raise ValidationError(_("The polygon is not valid (%(detail)s).") % {"detail": reason})
    if polygon.is_empty or polygon.area == 0:
        raise ValidationError(_("The polygon has no area."))
    if to_grid(polygon).area < TOLERANCE_M2:
        # Positions on one line in the grid come back from WGS84's rounding as a sliver of a few square centimetres.
        raise ValidationError(
            _("The polygon has no real area (under %(min)s m², its positions almost on one line).")
            % {"min": formats.number_format(TOLERANCE_M2, 0)}
        )
    min_lon, min_lat, max_lon, max_lat = HONG_KONG_BOUNDS
    bounds = polygon.bounds
    if bounds[0] < min_lon or bounds[1] < min_lat or bounds[2] > max_lon or bounds[3] > max_lat:
        raise ValidationError(
            _(
                "The polygon lies outside Hong Kong (longitude %(min_lon)s–%(max_lon)s E, "
                "latitude %(min_lat)s–%(max_lat)s N)."
            )
            % {"min_lon": min_lon, "max_lon": max_lon, "min_lat": min_lat, "max_lat": max_lat}
        )
    return orient(polygon, sign=1.0)


def area_m2(polygon: Polygon) -> Decimal:
    """Area of a WGS84 polygon in square metres, measured in HK1980 Grid, to the centimetre."""
    return Decimal(str(round(to_grid(polygon).area, 2)))


def area_outside_m2(inner: Polygon, outer: Polygon) -> float:
    """How many m² of `inner` lie outside `outer`."""
    return to_grid(inner).difference(to_grid(outer)).area


def overlap_m2(a: Polygon, b: Polygon) -> float:
    """How many m² two polygons share (0 when they only touch)."""
    if not a.intersects(b):
        return 0.0
    return to_grid(a).intersection(to_grid(b)).area


# --- split lines and merges (planning.services.parcel_split / parcel_merge) -------------------------------------

# Boundaries closer than this are one boundary: stored positions are rounded (9 decimals, about 0.1 mm) and shared
# edges drawn by snapping or surveyed separately differ by a few centimetres.
SNAP_M = 0.05
# Two parcels are merged only when they share at least this much boundary; less is a touch at a corner.
MIN_SHARED_EDGE_M = 1.0
# A vertex this close to the straight line between its neighbours is no corner (a straight edge in the grid bends
# by about 1 mm in 500 m in WGS84, where edges are straight).
STRAIGHT_M = 0.001
# Cuts and unions are made in WGS84, on the stored positions, so every vertex that is not cut keeps its stored
# position exactly and edges shared with neighbours stay shared (a round trip through the grid moves a position by
# up to about 0.5 mm). Lengths and areas are still measured in the grid. A snapping tolerance in metres becomes
# degrees with the shorter degree in Hong Kong (of longitude: about 102.8 km at 22.6° N), so it is at least as long
# on the ground in every direction.
METRES_PER_DEGREE = 102_000


def _inside_hong_kong(geometry) -> bool:
    min_lon, min_lat, max_lon, max_lat = HONG_KONG_BOUNDS
    bounds = geometry.bounds
    return min_lon <= bounds[0] and min_lat <= bounds[1] and bounds[2] <= max_lon and bounds[3] <= max_lat


def _bounds() -> dict[str, float]:
    min_lon, min_lat, max_lon, max_lat = HONG_KONG_BOUNDS
    return {"min_lon": min_lon, "max_lon": max_lon, "min_lat": min_lat, "max_lat": max_lat}


def parse_line(value) -> LineString:
    """Check a GeoJSON LineString in WGS84 and return it as a shapely LineString at the stored precision.

    Refused: anything that is not a LineString object, fewer than two different positions, coordinates that are
    not numbers or not WGS84, and a line that is not wholly inside Hong Kong.
    """
    if not isinstance(value, dict):
        raise ValidationError(_("Expected a GeoJSON object of type LineString."))
    if value.get("type") != "LineString":
        raise ValidationError(
            _("Expected a GeoJSON LineString, got type %(type)s.") % {"type": repr(value.get("type"))[:40]}
        )
    positions = value.get("coordinates")
    if not isinstance(positions, list):
        raise ValidationError(_("A LineString needs 'coordinates': a list of positions."))
    if len(positions) > MAX_VERTICES:
        raise ValidationError(_("A line may have at most %(max)s positions.") % {"max": MAX_VERTICES})
    points: list[tuple[float, float]] = []
    for index, position in enumerate(positions):
        lon, lat = _position(position, _("Position %(i)s of the line") % {"i": index + 1})
        point = (round(lon, DECIMALS), round(lat, DECIMALS))
        if not points or point != points[-1]:
            points.append(point)
    if len(points) < 2:
        raise ValidationError(_("A line needs at least two different positions."))
    line = LineString(points)
    if not _inside_hong_kong(line):
        raise ValidationError(
            _(
                "The line lies outside Hong Kong (longitude %(min_lon)s–%(max_lon)s E, "
                "latitude %(min_lat)s–%(max_lat)s N)."
            )
            % _bounds()
        )
    return line


def parse_point(value) -> Point:
    """Check a GeoJSON Point in WGS84 inside Hong Kong and return it as a shapely Point."""
    if not isinstance(value, dict):
        raise ValidationError(_("Expected a GeoJSON object of type Point."))
    if value.get("type") != "Point":
        raise ValidationError(
            _("Expected a GeoJSON Point, got type %(type)s.") % {"type": repr(value.get("type"))[:40]}
        )
    point = Point(_position(value.get("coordinates"), _("The point")))
    if not _inside_hong_kong(point):
        raise ValidationError(
            _(
                "The point lies outside Hong Kong (longitude %(min_lon)s–%(max_lon)s E, "
                "latitude %(min_lat)s–%(max_lat)s N)."
            )
            % _bounds()
        )
    return point


def split_polygon(polygon: Polygon, line: LineString) -> list[Polygon]:
    """The pieces `line` cuts `polygon` into, largest first: one piece when the line does not cut it through."""
    pieces = [piece for piece in shapely.ops.split(polygon, line).geoms if isinstance(piece, Polygon)]
    return sorted(pieces, key=lambda piece: piece.area, reverse=True)


def distance_m(a, b) -> float:
    """The shortest distance between two geometries on the ground, in metres (0 when they touch or overlap)."""
    return to_grid(a).distance(to_grid(b))


def shared_edge_m(a: Polygon, b: Polygon) -> float:
    """How many metres of `a`'s boundary run along `b`'s (within SNAP_M): 0 apart, about 0 at a corner."""
    return to_grid(a).boundary.intersection(to_grid(b).boundary.buffer(SNAP_M)).length


def union_along_edge(a: Polygon, b: Polygon) -> Polygon | None:
    """Two polygons that share an edge as one polygon, or None when they share less than MIN_SHARED_EDGE_M of
    boundary (they touch at a corner, or not at all).

    `b` is first snapped to `a` within SNAP_M, so an edge the two share up to rounding becomes one edge; holes that
    rounding still leaves along it (slivers under TOLERANCE_M2) are filled, and vertices left on straight edges
    dropped. A real hole stays a hole.
    """
    if shared_edge_m(a, b) < MIN_SHARED_EDGE_M:
        return None
    snapped = shapely.snap(b, a, SNAP_M / METRES_PER_DEGREE)
    if not snapped.is_valid:
        snapped = shapely.make_valid(snapped)
    union = shapely.unary_union([a, snapped])
    if not isinstance(union, Polygon):
        return None
    holes = [hole for hole in union.interiors if to_grid(Polygon(hole)).area >= TOLERANCE_M2]
    # Where the edge they shared met the outline, the outline keeps a vertex on a straight edge: drop it.
    merged = Polygon(union.exterior, holes).simplify(STRAIGHT_M / METRES_PER_DEGREE, preserve_topology=True)
    return orient(merged, sign=1.0)
