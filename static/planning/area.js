/* Areas and overlaps in HK1980 Grid (EPSG:2326), computed in the browser the way the server computes them
   (planning/geometry.py): WGS84 positions projected with the one published datum transformation, EPSG:1825
   "Hong Kong 1980 to WGS 84 (1)", then the shoelace formula in metres. Overlaps use polygon-clipping on the
   projected rings. Exposed as InnopolePlan.area. */
(function () {
  "use strict";

  const HK1980 = "EPSG:2326";
  // EPSG:1825's seven parameters in PROJ's position-vector form (pyproj's pipeline is the coordinate-frame
  // inverse of the same numbers): the two agree to the micrometre across the territory.
  proj4.defs(
    HK1980,
    "+proj=tmerc +lat_0=22.3121333333333 +lon_0=114.178555555556 +k=1 +x_0=836694.05 +y_0=819069.8 " +
      "+ellps=intl +towgs84=-162.619,-276.959,-161.764,0.067753,-2.243648,-1.158828,-1.094246 +units=m +no_defs"
  );
  const toGridTransform = proj4("EPSG:4326", HK1980);
  // Slivers below this many m² come from rounding and surveying noise (the server's TOLERANCE_M2).
  const TOLERANCE_M2 = 1;

  function toGrid(lng, lat) {
    return toGridTransform.forward([lng, lat]);
  }

  function gridRings(rings) {
    return rings.map((ring) => ring.map(([lng, lat]) => toGrid(lng, lat)));
  }

  function ringArea(ring) {
    let twice = 0;
    for (let i = 0, n = ring.length; i < n; i += 1) {
      const [x1, y1] = ring[i];
      const [x2, y2] = ring[(i + 1) % n];
      twice += x1 * y2 - x2 * y1;
    }
    return Math.abs(twice) / 2;
  }

  /* Area in m² of polygon rings in grid metres: the outer ring less its holes. */
  function gridPolygonArea(rings) {
    return rings.reduce((total, ring, index) => total + (index === 0 ? 1 : -1) * ringArea(ring), 0);
  }

  /* Area in m² of a GeoJSON Polygon's coordinates (WGS84). */
  function polygonArea(rings) {
    return gridPolygonArea(gridRings(rings));
  }

  function bbox(rings) {
    const box = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [x, y] of rings[0]) {
      box[0] = Math.min(box[0], x);
      box[1] = Math.min(box[1], y);
      box[2] = Math.max(box[2], x);
      box[3] = Math.max(box[3], y);
    }
    return box;
  }

  function boxesMeet(a, b) {
    return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
  }

  /* How many m² the polygon shares with each neighbour it overlaps by more than the tolerance:
     [{code, area}] largest first. `neighbours` are [{code, rings}] in WGS84. */
  function overlaps(rings, neighbours) {
    if (!rings.length || rings[0].length < 4) return [];
    const mine = gridRings(rings);
    const box = bbox(mine);
    const found = [];
    for (const neighbour of neighbours) {
      const theirs = gridRings(neighbour.rings);
      if (!boxesMeet(box, bbox(theirs))) continue;
      let shared = 0;
      try {
        for (const polygon of polygonClipping.intersection(mine, theirs)) shared += gridPolygonArea(polygon);
      } catch (error) {
        continue; // a self-intersecting sketch: the server will say so on save
      }
      if (shared > TOLERANCE_M2) found.push({ code: neighbour.code, area: shared });
    }
    return found.sort((a, b) => b.area - a.area);
  }

  /* A position inside a simple polygon (not merely its centroid, which can fall outside an L shape): the middle of
     the widest span of the horizontal line through the middle of its height. */
  function interiorPoint(rings) {
    const ring = rings[0];
    const ys = ring.map(([, y]) => y);
    const y = (Math.min(...ys) + Math.max(...ys)) / 2;
    const crossings = [];
    for (const current of rings) {
      for (let i = 0; i < current.length - 1; i += 1) {
        const [x1, y1] = current[i];
        const [x2, y2] = current[i + 1];
        if ((y1 <= y && y < y2) || (y2 <= y && y < y1)) crossings.push(x1 + ((y - y1) / (y2 - y1)) * (x2 - x1));
      }
    }
    crossings.sort((a, b) => a - b);
    let best = null;
    for (let i = 0; i + 1 < crossings.length; i += 2) {
      if (!best || crossings[i + 1] - crossings[i] > best[1] - best[0]) best = [crossings[i], crossings[i + 1]];
    }
    return best ? [(best[0] + best[1]) / 2, y] : ring[0];
  }

  window.InnopolePlan = window.InnopolePlan || {};
  window.InnopolePlan.area = { toGrid, polygonArea, overlaps, interiorPoint, TOLERANCE_M2 };
})();
