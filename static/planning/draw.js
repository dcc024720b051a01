/* Drawing a new parcel and editing a parcel's shape (Leaflet-Geoman), with the area in HK1980 Grid and the overlap
   with neighbours shown live, and snapping to the neighbours' corners and edges so shared boundaries stay shared.

   Draw: the finished polygon loads the new-parcel form into the panel and fills its hidden `geometry` field; the
   panel's save answers `parcel-changed` (the map reloads) or `parcel-refused` (the messages show at the shape).
   Edit shape (drag its corners) or Move (drag the whole parcel), then save: PATCH /api/v1/parcels/<id>/ with the version it was
   based on. A refusal (400) shows at the shape and restores it; a conflict (409) says who changed the parcel
   and offers to reload it. */
(function () {
  "use strict";

  const P = window.InnopolePlan;
  if (!P || !P.map || !P.config.canEdit) return;
  const { map, strings, format } = P;
  const SNAP = { snappable: true, snapDistance: 15 };
  const SKETCH_STYLE = { color: "#a4161a", weight: 3, dashArray: "4 3", fillColor: "#ffffff", fillOpacity: 0.35 };

  function ringsOf(layer) {
    return layer.toGeoJSON(9).geometry.coordinates;
  }

  /* Area and overlaps of a shape being drawn or edited, in words. */
  function describe(rings, ownCode) {
    const area = P.area.polygonArea(rings);
    const overlap = P.showOverlaps(P.area.overlaps(rings, P.neighbours(ownCode)));
    return { area, text: `${P.fmtArea(area)} · ${overlap}` };
  }

  // --- draw a new parcel ------------------------------------------------------------------------------------------

  let sketch = null; // the drawn polygon, until the panel saves it

  function geometryField() {
    return document.getElementById("id_geometry");
  }

  function fillGeometry() {
    const field = geometryField();
    if (field && sketch) {
      field.value = JSON.stringify(sketch.toGeoJSON(9).geometry);
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function removeSketch() {
    if (sketch) {
      sketch.pm.disable();
      sketch.remove();
      sketch = null;
    }
    P.showOverlaps([]);
  }

  function sketchChanged() {
    P.status(describe(ringsOf(sketch), null).text);
    fillGeometry();
  }

  P.tools.draw = {
    start() {
      removeSketch();
      map.pm.enableDraw("Polygon", {
        ...SNAP,
        tooltips: false,
        allowSelfIntersection: false,
        templineStyle: { color: "#a4161a" },
        hintlineStyle: { color: "#a4161a", dashArray: [5, 5] },
        pathOptions: SKETCH_STYLE,
      });
      P.status(strings.drawHint);
    },
    cancel() {
      map.pm.disableDraw();
      removeSketch();
    },
  };

  map.on("pm:drawstart", ({ workingLayer, shape }) => {
    if (shape !== "Polygon" || P.mode !== "draw") return;
    workingLayer.on("pm:vertexadded", () => {
      const points = workingLayer.getLatLngs().map((point) => [point.lng, point.lat]);
      if (points.length < 3) return;
      P.status(describe([[...points, points[0]]], null).text);
    });
  });

  map.on("pm:create", ({ layer, shape }) => {
    if (shape !== "Polygon" || P.mode !== "draw") return;
    sketch = layer;
    sketch.setStyle(SKETCH_STYLE);
    sketch.pm.enable({ ...SNAP, allowSelfIntersection: false, draggable: true });
    sketch.on("pm:edit", sketchChanged);
    sketch.on("pm:markerdrag", () => P.status(describe(ringsOf(sketch), null).text));
    // The tool stays on (clicks on parcels do nothing) until the panel saves the parcel or the planner cancels.
    const { area } = describe(ringsOf(sketch), null);
    htmx.ajax("GET", P.config.newParcelUrl, { target: "#parcel-panel", swap: "innerHTML" }).then(() => {
      fillGeometry();
      P.status(`${format(strings.drawn, { area: P.fmtArea(area) })} ${describe(ringsOf(sketch), null).text}`);
    });
  });

  // --- edit an existing parcel's shape: its corners (Edit shape) or the whole of it (Move) ------------------------

  const bar = document.getElementById("edit-bar");
  const EVENTS = "pm:markerdrag pm:drag pm:dragend pm:edit";
  let editing = null; // {layer, code, id, version, original: GeoJSON geometry}

  function editChanged() {
    const { area, text } = describe(ringsOf(editing.layer), editing.code);
    bar.querySelector('[data-role="figures"]').textContent = text;
    bar.dataset.area = area.toFixed(2);
  }

  function stopEditing() {
    if (editing) {
      editing.layer.off(EVENTS, editChanged);
      editing.layer.pm.disable();
      editing.layer.pm.disableLayerDrag();
    }
    editing = null;
    bar.hidden = true;
    delete bar.dataset.area;
    P.showOverlaps([]);
  }

  /* Put the shape back as it was before the edit, and stop editing. */
  function restore() {
    if (!editing) return;
    const { layer, original } = editing;
    stopEditing();
    layer.setLatLngs(L.GeoJSON.coordsToLatLngs(original.coordinates, 1));
    P.restyle(layer);
  }

  function startEditing(layer, how) {
    const props = layer.feature.properties;
    editing = { layer, code: props.code, id: props.id, version: props.version, original: layer.toGeoJSON(9).geometry };
    // Geoman's free edition moves a whole shape in a mode of its own, apart from moving its corners.
    if (how === "move") layer.pm.enableLayerDrag();
    else layer.pm.enable({ ...SNAP, allowSelfIntersection: false });
    layer.on(EVENTS, editChanged);
    bar.hidden = false;
    bar.querySelector('[data-role="text"]').textContent = format(how === "move" ? strings.moving : strings.editing, {
      code: props.code,
    });
    editChanged();
    P.reveal(layer, bar);
  }

  for (const how of ["edit", "move"]) {
    P.tools[how] = {
      needsSelection: true,
      start: (layer) => startEditing(layer, how),
      cancel: restore,
    };
  }

  async function save() {
    if (!editing) return;
    const { layer, code, id, version } = editing;
    const geometry = layer.toGeoJSON(9).geometry;
    P.status(format(strings.saving, { code }));
    const { status, data } = await P.api("PATCH", `${P.config.parcelApi}${id}/`, { geometry, version });
    if (status === 200) {
      stopEditing();
      P.setMode("browse");
      await P.reload();
      P.select(code);
      P.status(format(strings.saved, { code, area: P.fmtArea(Number(data.computed_area_m2)) }));
      bar.dataset.savedArea = String(data.computed_area_m2);
      return;
    }
    restore();
    P.setMode("browse");
    P.writeRefused(status, data, layer, code);
  }

  bar.querySelector('[data-action="save"]').addEventListener("click", save);
  bar.querySelector('[data-action="cancel"]').addEventListener("click", () => {
    P.setMode("browse");
    P.status(strings.cancelled);
  });

  // Geoman's corner handles are Leaflet markers (role "button"): name them, and keep them out of the Tab order, as
  // shapes are drawn with a pointer (the keyboard path is the table and the panel).
  new MutationObserver(() => {
    for (const handle of map.getContainer().querySelectorAll(".marker-icon:not([aria-label])")) {
      const middle = handle.classList.contains("marker-icon-middle");
      handle.setAttribute("aria-label", middle ? strings.midpoint : strings.corner);
      handle.setAttribute("tabindex", "-1");
    }
  }).observe(map.getPanes().markerPane, { childList: true });

  // --- what the panel answers ---------------------------------------------------------------------------------------

  document.body.addEventListener("parcel-changed", () => {
    if (sketch) {
      removeSketch();
      P.setMode("browse");
    }
  });

  document.body.addEventListener("parcel-refused", (event) => {
    const messages = (event.detail && event.detail.messages) || [];
    P.showRefusal(sketch || (editing && editing.layer) || null, messages);
  });

  // A form loaded into the panel later (after a refusal, say) gets the sketch's geometry too.
  document.addEventListener("innopole:panel-loaded", fillGeometry);
})();
