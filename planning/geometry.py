"""Parcel and campus polygons: GeoJSON in, validated shapely geometry out, areas in HK1980 Grid (EPSG:2326).

Geometry is stored as GeoJSON (RFC 7946, WGS84 longitude/latitude). Areas and overlaps are measured after
projecting to HK1980 Grid, never in degrees. Every refusal is a ValidationError whose message says what is wrong.
"""

import math
from decimal import Decimal
from functools import lru_cache

import shapely
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pyproj import Transformer
from shapely.geometry import Polygon, mapping
from shapely.validation import explain_validity

WGS84 = "EPSG:4326"
HK1980_GRID = "EPSG:2326"

# Hong Kong SAR, generously (land and waters): longitude 113.8–114.5 E, latitude 22.1–22.6 N.
HONG_KONG_BOUNDS = (113.8, 22.1, 114.5, 22.6)

# Slivers below this size come from rounding coordinates to 7 decimals (about 1 cm) and are not real overlaps.
TOLERANCE_M2 = 1.0
MAX_VERTICES = 10_000


@lru_cache(maxsize=1)
def _to_grid() -> Transformer:
    return Transformer.from_crs(WGS84, HK1980_GRID, always_xy=True)


@lru_cache(maxsize=1)
def _to_wgs84() -> Transformer:
    return Transformer.from_crs(HK1980_GRID, WGS84, always_xy=True)


def to_grid(geometry):
    """Project a WGS84 geometry to HK1980 Grid metres."""
    return shapely.transform(geometry, lambda x, y: _to_grid().transform(x, y), interleaved=False)


def from_grid(geometry):
    """Project an HK1980 Grid geometry back to WGS84 longitude/latitude."""
    return shapely.transform(geometry, lambda x, y: _to_wgs84().transform(x, y), interleaved=False)


def rectangle_geojson(min_x: float, min_y: float, max_x: float, max_y: float) -> dict:
    """A GeoJSON Polygon (WGS84) of a rectangle given in HK1980 Grid metres; handy for surveys and tests."""
    grid = Polygon([(min_x, min_y), (max_x, min_y), (max_x, max_y), (min_x, max_y)])
    return to_geojson(from_grid(grid))


def to_geojson(polygon) -> dict:
    """GeoJSON of a polygon, exterior ring counter-clockwise as RFC 7946 recommends.

    Coordinates keep 9 decimals (0.1 mm), so even a 10 m square keeps its area within 0.01 %.
    """
    oriented = shapely.geometry.polygon.orient(polygon, sign=1.0)
    data = mapping(shapely.set_precision(oriented, 1e-9))
    return {"type": "Polygon", "coordinates": [[list(pt) for pt in ring] for ring in data["coordinates"]]}


def _position(value, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValidationError(_("%(where)s is not a [longitude, latitude] pair.") % {"where": where})
    lon, lat = value[0], value[1]
    for number in (lon, lat):
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise ValidationError(_("%(where)s has a coordinate that is not a finite number.") % {"where": where})
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(
            _("%(where)s (%(lon)s, %(lat)s) is not a WGS84 longitude/latitude (longitude comes first).")
            % {"where": where, "lon": lon, "lat": lat}
        )
    return float(lon), float(lat)


def parse_polygon(value) -> Polygon:
    """Check a GeoJSON Polygon in WGS84 and return it as a shapely Polygon.

    Refused: anything that is not a Polygon object, rings that are not closed or have fewer than four positions,
    coordinates that are not numbers or not WGS84, a self-intersecting or otherwise invalid ring, and a polygon
    that is not wholly inside Hong Kong.
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
        if not isinstance(ring, list) or len(ring) < 4:
            raise ValidationError(
                _("%(ring)s needs at least four positions (a closed triangle or more).") % {"ring": label}
            )
        points = [
            _position(pt, _("Position %(i)s of %(ring)s") % {"i": i + 1, "ring": label}) for i, pt in enumerate(ring)
        ]
        if points[0] != points[-1]:
            raise ValidationError(
                _("%(ring)s is not closed: its last position must repeat its first.") % {"ring": label}
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
    return polygon


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
