"""Normalise the polygons stored before writes were normalised: RFC 7946 winding (exterior counter-clockwise, holes
clockwise), 9 decimals, closed rings without repeated positions. The shapes do not change, so no history is written.

Self-contained on purpose: a migration must keep working whatever later happens to planning.geometry.
"""

from django.db import migrations
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

DECIMALS = 9


def _ring(points):
    ring = []
    for x, y, *_rest in points:
        point = [round(x, DECIMALS), round(y, DECIMALS)]
        if not ring or point != ring[-1]:
            ring.append(point)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    return [*ring, ring[0]] if ring else ring


def _normalised(value):
    try:
        rings = value["coordinates"]
        polygon = orient(Polygon(rings[0], rings[1:]), sign=1.0)
    except (KeyError, IndexError, TypeError, ValueError):
        return value  # not a polygon we can read: left for a planner to correct through the services
    if polygon.is_empty or not polygon.is_valid:
        return value
    coordinates = [_ring(polygon.exterior.coords), *(_ring(hole.coords) for hole in polygon.interiors)]
    return {"type": "Polygon", "coordinates": coordinates}


def normalise(apps, schema_editor):
    for model_name, field in (("Parcel", "geometry"), ("Campus", "boundary")):
        model = apps.get_model("planning", model_name)
        for row in model.objects.only("pk", field).iterator(chunk_size=500):
            value = getattr(row, field)
            if not value:
                continue
            normalised = _normalised(value)
            if normalised != value:
                model.objects.filter(pk=row.pk).update(**{field: normalised})


class Migration(migrations.Migration):
    dependencies = [
        ("planning", "0004_readiness_targets"),
    ]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop, elidable=True)]
