/* The campus map of the plan workspace: the campus boundary and every parcel the filters select, from one request to
   the GeoJSON endpoint; colouring with its legend, labels, tooltips, the pointer in HK1980 Grid and a scale bar.
   It is the hub the other widgets use (InnopolePlan): the map, the parcels by code, the selection, the current
   tool, the API helper and the status line. Texts come from the page (json_script), numbers are formatted per
   the page's language. */
(function () {
  "use strict";

  const P = (window.InnopolePlan = window.InnopolePlan || {});
  const element = document.getElementById("plan-map");
  if (!element) return;
  const config = JSON.parse(document.getElementById("plan-map-config").textContent);
  const strings = JSON.parse(document.getElementById("plan-strings").textContent);
  const lang = document.documentElement.lang || "en";
  const integer = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  const hectares = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const metres = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const statusLine = document.getElementById("plan-status");

  // Colour-blind-safe categories (Okabe and Ito); the reserve is hatched with a dashed outline in every colouring.
  const PHASE_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999933"];
  const LAND_COLOURS = {
    not_transferred: "#9e9e9e",
    handover_scheduled: "#E69F00",
    transferred: "#56B4E9",
    site_formation: "#0072B2",
    site_ready: "#009E73",
  };
  const READINESS_COLOURS = { ready: "#1a9850", at_risk: "#fdae61", blocked: "#d73027" };
  const NONE_COLOUR = "#d9d9d9";
  const RESERVE_FILL = "url(#reserve-hatch)";
  const LABEL_LIMIT = 400; // more labels than this in view would be unreadable clutter (and slow)

  function format(template, params) {
    return template.replace(/%\((\w+)\)s/g, (match, name) => (name in params ? String(params[name]) : match));
  }
  const fmtM2 = (value) => format(strings.m2, { value: integer.format(value) });
  const fmtHa = (m2) => format(strings.ha, { value: hectares.format(m2 / 10000) });
  const fmtArea = (m2) => format(strings.area, { m2: fmtM2(m2), ha: fmtHa(m2) });
  const fmtM2Ha = (m2) => `${fmtM2(m2)} (${fmtHa(m2)})`;

  function status(text) {
    statusLine.textContent = text;
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (error) {
      const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
      return match ? decodeURIComponent(match[1]) : "";
    }
  }

  /* A JSON request to the API: resolves to {status, data} whatever the status (network failures: status 0). */
  async function api(method, url, body) {
    try {
      const response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      return { status: response.status, data };
    } catch (error) {
      return { status: 0, data: null };
    }
  }

  /* The messages of a 400 body ({field: [messages]} or {detail}) as one list. */
  function messagesOf(data) {
    if (!data) return [];
    if (typeof data.detail === "string") return [data.detail];
    const found = [];
    for (const value of Object.values(data)) {
      if (Array.isArray(value)) found.push(...value.filter((item) => typeof item === "string"));
      else if (typeof value === "string") found.push(value);
    }
    return found;
  }

  // --- the map ------------------------------------------------------------------------------------------------

  const map = L.map(element, {
    zoomControl: false,
    attributionControl: Boolean(config.basemap),
    keyboard: true,
    zoomSnap: 0.25,
    maxZoom: 22,
    fadeAnimation: false, // popups (refusals) appear at once, fully legible
    boxZoom: false,
  });
  L.control.zoom({ zoomInTitle: strings.zoomIn, zoomOutTitle: strings.zoomOut }).addTo(map);
  L.control.scale({ metric: true, imperial: false, maxWidth: 160 }).addTo(map);
  if (config.basemap) {
    L.tileLayer(config.basemap.url, {
      attribution: config.basemap.attribution,
      maxNativeZoom: 19,
      maxZoom: 22,
      pmIgnore: true,
    }).addTo(map);
  }
  map.pm.setGlobalOptions({ snappable: true, snapDistance: 15, allowSelfIntersection: false });

  const campusLayer = L.geoJSON(
    config.campuses.map((campus) => ({ type: "Feature", geometry: campus.boundary, properties: { code: campus.code } })),
    {
      style: { color: "#1b1f24", weight: 2, dashArray: "8 6", fill: false, interactive: false },
      interactive: false,
      pmIgnore: true,
    }
  ).addTo(map);
  if (campusLayer.getLayers().length) map.fitBounds(campusLayer.getBounds(), { padding: [12, 12] });
  else map.setView([22.35, 114.1], 11);

  const phaseIndex = new Map(config.phases.map((phase, index) => [phase.id, index]));
  const phaseNames = new Map(config.phases.map((phase) => [phase.id, phase.name]));
  const phaseReadiness = new Map(config.phases.map((phase) => [phase.id, phase.readiness]));
  const landLabels = new Map(config.landStatuses);
  const readinessLabels = new Map(config.readinessStates);
  let colouring = config.colour;

  function fillFor(props) {
    if (colouring === "land_status") return LAND_COLOURS[props.land_status] || NONE_COLOUR;
    if (colouring === "readiness") return READINESS_COLOURS[phaseReadiness.get(props.phase_id)] || NONE_COLOUR;
    if (props.phase_id === null) return RESERVE_FILL;
    return PHASE_COLOURS[(phaseIndex.get(props.phase_id) || 0) % PHASE_COLOURS.length];
  }

  /* Leaflet sets a path's class once: the selection and the reserve are kept on it here. */
  function restyle(layer) {
    layer.setStyle(styleFor(layer.feature));
    const path = layer.getElement && layer.getElement();
    if (path) path.classList.toggle("parcel-selected", layer.feature.properties.code === P.selectedCode);
  }

  function restyleAll() {
    parcelsLayer.eachLayer(restyle);
  }

  function styleFor(feature) {
    const props = feature.properties;
    const reserve = props.phase_id === null;
    const selected = props.code === P.selectedCode;
    const overlapping = P.overlapping && P.overlapping.has(props.code);
    return {
      className: `parcel${reserve ? " parcel-reserve" : ""}${selected ? " parcel-selected" : ""}`,
      color: overlapping ? "#a4161a" : selected ? "#00507a" : "#1b1f24",
      weight: overlapping || selected ? 4 : 1.5,
      dashArray: reserve ? "6 4" : null,
      fillColor: fillFor(props),
      fillOpacity: reserve && colouring === "phase" ? 1 : 0.6,
    };
  }

  function tooltipFor(props) {
    const box = document.createElement("div");
    box.className = "parcel-tooltip-body";
    const title = document.createElement("strong");
    title.textContent = props.code;
    box.append(title);
    const rows = [
      [strings.phase, props.phase_id === null ? strings.reserve : phaseNames.get(props.phase_id) || String(props.phase)],
      [strings.siteArea, fmtM2Ha(props.site_area_m2)],
      [strings.gfaCap, `${integer.format(props.gfa_m2)} / ${fmtM2(props.gfa_cap_m2)}`],
      [strings.landStatus, landLabels.get(props.land_status) || props.land_status],
    ];
    if (props.phase_id !== null) {
      rows.push([strings.readiness, readinessLabels.get(phaseReadiness.get(props.phase_id)) || strings.notComputed]);
    }
    const types = props.facility_types.map((code) => config.facilityTypes[code] || code);
    rows.push([strings.facilityTypes, types.length ? types.join(", ") : strings.noFacilities]);
    const list = document.createElement("dl");
    for (const [term, value] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      list.append(dt, dd);
    }
    box.append(list);
    return box;
  }

  const byCode = new Map();
  const labelLayer = L.layerGroup([], { pmIgnore: true }).addTo(map);

  const parcelsLayer = L.geoJSON(null, {
    style: styleFor,
    onEachFeature(feature, layer) {
      byCode.set(feature.properties.code, layer);
      layer.bindTooltip(() => tooltipFor(layer.feature.properties), {
        sticky: true,
        direction: "top",
        opacity: 1,
        className: "parcel-tooltip",
      });
      // Not stopped: while a tool draws, the same click places a corner on the map (Geoman listens there).
      layer.on("click", () => {
        const tool = P.tools[P.mode];
        if (tool && tool.pick) tool.pick(layer);
        else if (P.mode === "browse") P.openParcel(layer.feature.properties.code);
      });
    },
  }).addTo(map);

  /* "P1-C 0.40 ha" on two lines (code, then area), so that narrow parcels keep their labels. */
  function labelFor(props) {
    const label = document.createElement("span");
    label.className = "parcel-label";
    const text = format(strings.label, { code: "\u0000", area: "\u0001" });
    for (const part of text.split(/(\u0000|\u0001)/)) {
      if (part === "\u0000" || part === "\u0001") {
        const line = document.createElement("span");
        line.className = part === "\u0000" ? "parcel-label-code" : "parcel-label-area";
        line.textContent = part === "\u0000" ? props.code : fmtHa(props.site_area_m2);
        label.append(line);
      } else if (part) {
        label.append(document.createTextNode(part));
      }
    }
    return label;
  }

  /* Labels only where they can be read: parcels in view, large enough on screen for their text. */
  function updateLabels() {
    labelLayer.clearLayers();
    const view = map.getBounds();
    const visible = parcelsLayer.getLayers().filter((layer) => view.intersects(layer.getBounds()));
    if (visible.length > LABEL_LIMIT) return;
    for (const layer of visible) {
      const bounds = layer.getBounds();
      const a = map.latLngToContainerPoint(bounds.getSouthWest());
      const b = map.latLngToContainerPoint(bounds.getNorthEast());
      const label = labelFor(layer.feature.properties);
      // About 7 px a character at the label's size: a label larger than its parcel would hide its neighbours'.
      const longest = Math.max(...Array.from(label.children, (line) => line.textContent.length));
      if (Math.abs(b.x - a.x) < longest * 7 + 10 || Math.abs(b.y - a.y) < 34) continue;
      const icon = L.divIcon({ className: "parcel-label-icon", html: label, iconSize: null });
      L.marker(layer.getCenter(), { icon, interactive: false, keyboard: false, pmIgnore: true, snapIgnore: true }).addTo(
        labelLayer
      );
    }
  }
  map.on("zoomend moveend", updateLabels);

  // --- legend ---------------------------------------------------------------------------------------------------

  const legend = document.getElementById("map-legend");

  function legendEntries() {
    if (colouring === "land_status") {
      return config.landStatuses.map(([value, label]) => ({ colour: LAND_COLOURS[value], label }));
    }
    if (colouring === "readiness") {
      return [
        ...config.readinessStates.map(([value, label]) => ({ colour: READINESS_COLOURS[value], label })),
        { colour: NONE_COLOUR, label: strings.notComputed },
      ];
    }
    return config.phases.map((phase, index) => ({ colour: PHASE_COLOURS[index % PHASE_COLOURS.length], label: phase.name }));
  }

  function renderLegend() {
    const title = document.createElement("h3");
    title.className = "legend-title";
    title.textContent = format(strings.legendTitle, { colouring: config.colourings[colouring] });
    const list = document.createElement("ul");
    for (const entry of [...legendEntries(), { reserve: true, label: strings.reserve }]) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = entry.reserve ? "swatch swatch-reserve" : "swatch";
      if (!entry.reserve) swatch.style.backgroundColor = entry.colour;
      swatch.setAttribute("aria-hidden", "true");
      item.append(swatch, document.createTextNode(entry.label));
      list.append(item);
    }
    legend.replaceChildren(title, list);
    legend.dataset.colouring = colouring;
  }

  function setColouring(value) {
    colouring = value in config.colourings ? value : "phase";
    restyleAll();
    renderLegend();
    const url = new URL(window.location.href);
    if (colouring === "phase") url.searchParams.delete("colour");
    else url.searchParams.set("colour", colouring);
    window.history.replaceState(window.history.state, "", url);
  }
  const colourSelect = document.getElementById("filter-colour");
  if (colourSelect) colourSelect.addEventListener("change", () => setColouring(colourSelect.value));

  // The filters' URL carries only what narrows: empty choices and the default colouring are left out.
  const filterForm = document.querySelector(".plan-filters");
  if (filterForm) {
    filterForm.addEventListener("submit", () => {
      for (const field of filterForm.elements) {
        if (field.name && (!field.value || (field.name === "colour" && field.value === "phase"))) field.disabled = true;
      }
    });
    window.addEventListener("pageshow", () => {
      for (const field of filterForm.elements) field.disabled = false;
    });
  }

  // --- the pointer in HK1980 Grid -------------------------------------------------------------------------------

  const pointer = document.getElementById("map-pointer");
  function showGrid(latlng, template) {
    const [easting, northing] = P.area.toGrid(latlng.lng, latlng.lat);
    pointer.textContent = format(template, { e: metres.format(easting), n: metres.format(northing) });
    Object.assign(pointer.dataset, {
      easting: easting.toFixed(3),
      northing: northing.toFixed(3),
      lng: String(latlng.lng),
      lat: String(latlng.lat),
    });
  }
  map.on("mousemove", (event) => showGrid(event.latlng, strings.pointer));
  map.on("mouseout", () => showGrid(map.getCenter(), strings.centre));
  map.on("moveend", () => {
    if (!element.matches(":hover")) showGrid(map.getCenter(), strings.centre);
  });
  showGrid(map.getCenter(), strings.centre);

  // --- loading ----------------------------------------------------------------------------------------------------

  let loads = 0;

  /* Fetch the parcels (one request) and draw them; resolves when the shapes are painted. */
  async function load() {
    element.setAttribute("aria-busy", "true");
    let response;
    try {
      response = await fetch(config.geojsonUrl, { credentials: "same-origin", headers: { Accept: "application/geo+json" } });
    } catch (error) {
      response = { ok: false, status: 0 };
    }
    if (!response.ok) {
      element.removeAttribute("aria-busy");
      status(format(strings.loadFailed, { status: response.status }));
      return;
    }
    const data = await response.json();
    byCode.clear();
    parcelsLayer.clearLayers();
    parcelsLayer.addData(data);
    P.features = data.features;
    updateLabels();
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    loads += 1;
    element.removeAttribute("aria-busy");
    element.dataset.parcels = String(data.features.length);
    element.dataset.loads = String(loads);
    if (loads === 1) {
      performance.mark("innopole:parcels-rendered");
      element.dataset.rendered = String(data.features.length);
    }
    if (!data.features.length) status(strings.noParcels);
    document.dispatchEvent(new CustomEvent("innopole:parcels-loaded", { detail: { count: data.features.length } }));
  }

  /* The tables below the map (parcels, phases) as the server renders them now, with the page's filters. */
  function reloadTables() {
    const target = document.getElementById("plan-tables");
    if (!target || !window.htmx) return Promise.resolve();
    return htmx.ajax("GET", config.planUrl + window.location.search, {
      target: "#plan-tables",
      select: "#plan-tables",
      swap: "outerHTML",
    });
  }

  /* After any change: the map's data and the tables again. */
  function reload() {
    return Promise.all([load(), reloadTables()]);
  }

  // --- selection ----------------------------------------------------------------------------------------------------

  function select(code) {
    P.selectedCode = code || null;
    restyleAll();
    const layer = code && byCode.get(code);
    if (layer) layer.bringToFront();
  }

  /* Show a parcel's tooltip and outline without selecting it (the table's rows on focus and hover). */
  function peek(code, on) {
    const layer = byCode.get(code);
    if (!layer) return;
    if (on) {
      layer.openTooltip(layer.getCenter());
      layer.setStyle({ weight: 4, color: "#00507a" });
      layer.bringToFront();
    } else {
      layer.closeTooltip();
      restyle(layer);
    }
  }

  function neighbours(exceptCode) {
    return (P.features || [])
      .filter((feature) => feature.properties.code !== exceptCode)
      .map((feature) => ({ code: feature.properties.code, rings: feature.geometry.coordinates }));
  }

  /* Outline the parcels a sketch overlaps, and say by how much. */
  function showOverlaps(found) {
    P.overlapping = new Set(found.map((item) => item.code));
    restyleAll();
    if (!found.length) return strings.noOverlap;
    return found.map((item) => format(strings.overlaps, { code: item.code, area: fmtM2(item.area) })).join("; ");
  }

  /* A refusal at the shape: a popup anchored on it (and the same words in the status line). */
  function showRefusal(layer, messages) {
    const box = document.createElement("div");
    box.className = "refusal";
    const title = document.createElement("strong");
    title.textContent = strings.refusedTitle;
    const list = document.createElement("ul");
    for (const message of messages) {
      const item = document.createElement("li");
      item.textContent = message;
      list.append(item);
    }
    box.append(title, list);
    const where = layer && layer.getBounds ? layer.getBounds().getCenter() : map.getCenter();
    L.popup({ className: "refusal-popup", maxWidth: 320, autoPan: true }).setLatLng(where).setContent(box).openOn(map);
    status(format(strings.refused, { messages: messages.join(" ") }));
  }

  /* A 409, with a button that loads the current version. */
  function showConflict(data, onReload) {
    const box = document.getElementById("plan-conflict");
    // The server's sentence names who changed it, when and what (the body's `changes` in words).
    box.querySelector('[data-role="text"]').textContent = (data && data.detail) || strings.conflict;
    const button = box.querySelector('[data-action="reload"]');
    button.onclick = async () => {
      box.hidden = true;
      await onReload();
    };
    box.hidden = false;
    button.focus();
  }

  /* A tool's bar lies over the top of the map: pan the parcel being worked on out from under it (no animation, so
     the corners are where the planner sees them at once). */
  function reveal(layer, bar) {
    if (!layer || !bar || bar.hidden) return;
    const clear = bar.offsetTop + bar.offsetHeight + 12 - element.offsetTop;
    const bounds = layer.getBounds();
    const size = map.getSize();
    const nw = map.latLngToContainerPoint(bounds.getNorthWest());
    const se = map.latLngToContainerPoint(bounds.getSouthEast());
    if (nw.y >= clear && nw.x >= 12 && se.y <= size.y - 12 && se.x <= size.x - 12) return;
    map.fitBounds(bounds, {
      paddingTopLeft: [24, clear],
      paddingBottomRight: [24, 24],
      maxZoom: map.getZoom(), // out if it must, never in
      animate: false,
    });
  }

  /* After a change to a parcel: the map and the tables read again, the parcel selected, its panel refreshed if it
     is open. */
  async function refocus(code) {
    await reload();
    select(code);
    if (P.panelCode && P.panelCode() === code) P.openParcel(code, { push: false });
  }

  /* A tool's write the server did not take: a 400 shows its reasons at the shape, a 409 who changed the parcel
     (with a button that loads the current version), anything else the status. */
  function writeRefused(answer, data, layer, code) {
    if (answer === 400) {
      showRefusal(layer, messagesOf(data));
    } else if (answer === 409) {
      setMode("browse");
      status(strings.conflict);
      showConflict(data, async () => {
        await refocus(code);
        status(format(strings.reloaded, { code }));
      });
    } else {
      status(format(strings.failed, { status: answer }));
    }
  }

  function hideConflict() {
    const box = document.getElementById("plan-conflict");
    if (box) box.hidden = true;
  }

  // --- tools ------------------------------------------------------------------------------------------------------

  P.tools = {};
  P.mode = "browse";

  /* Switch tools: the current one is cancelled first (its sketch removed, its shape restored). */
  function setMode(mode) {
    const current = P.tools[P.mode];
    if (current && P.mode !== mode && current.cancel) current.cancel();
    P.mode = mode;
    element.dataset.mode = mode;
    for (const button of document.querySelectorAll(".plan-tools [data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === mode));
    }
    if (mode === "browse") {
      P.overlapping = new Set();
      restyleAll();
    }
  }

  for (const button of document.querySelectorAll(".plan-tools [data-tool]")) {
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      const name = button.dataset.tool;
      if (P.mode === name) {
        setMode("browse");
        return;
      }
      const tool = P.tools[name];
      if (!tool) return;
      if (tool.needsSelection && !byCode.get(P.selectedCode)) {
        status(strings.selectFirst);
        return;
      }
      setMode(name);
      tool.start(byCode.get(P.selectedCode));
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && P.mode !== "browse") {
      setMode("browse");
      status(strings.cancelled);
    }
  });

  Object.assign(P, {
    map,
    config,
    strings,
    format,
    fmtM2,
    fmtHa,
    fmtArea,
    fmtM2Ha,
    status,
    api,
    messagesOf,
    layer: (code) => byCode.get(code),
    parcelsLayer,
    select,
    peek,
    load,
    reload,
    reloadTables,
    neighbours,
    showOverlaps,
    showRefusal,
    showConflict,
    hideConflict,
    refocus,
    writeRefused,
    reveal,
    setMode,
    styleFor,
    restyle,
    selectedCode: null,
    overlapping: new Set(),
  });

  renderLegend();
  load();
})();
