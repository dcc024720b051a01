/* Split a parcel along a drawn line (owner of the rules: the API, POST /api/v1/parcels/<id>/split/). The line is
   sent with ?dry_run=true first: the two parts come back with their areas and are shown on the map; the planner
   picks the part that stays the parcel (its code, facilities and history) — on the map or in the form — and types
   the code of the other part, then the split is sent for real. Every refusal shows the server's messages. */
(function () {
  "use strict";

  const P = window.InnopolePlan;
  if (!P || !P.map || !P.config.canEdit) return;
  const { map, strings, format } = P;
  const bar = document.getElementById("split-bar");
  const form = bar.querySelector('[data-role="form"]');
  const partsBox = bar.querySelector('[data-role="parts"]');
  const codeInput = bar.querySelector('input[name="new_code"]');
  const PART_COLOURS = ["#0072B2", "#CC79A7"];
  let state = null; // {layer, code, id, version, line, parts, partsLayer}

  function text(value) {
    bar.querySelector('[data-role="text"]').textContent = value;
  }

  function drawLine() {
    map.pm.enableDraw("Line", {
      snappable: true,
      snapDistance: 15,
      tooltips: false,
      templineStyle: { color: "#a4161a" },
      hintlineStyle: { color: "#a4161a", dashArray: [5, 5] },
    });
  }

  function clearPreview() {
    if (state && state.partsLayer) state.partsLayer.remove();
    if (state) state.partsLayer = null;
    partsBox.replaceChildren();
    form.hidden = true;
  }

  function choose(index) {
    const radio = partsBox.querySelector(`input[value="${index}"]`);
    if (radio) radio.checked = true;
    state.partsLayer.eachLayer((layer) => {
      layer.setStyle({ weight: layer.partIndex === index ? 5 : 2 });
    });
  }

  function showParts(parts) {
    state.parts = parts;
    state.partsLayer = L.geoJSON(null, { pmIgnore: true, snapIgnore: true }).addTo(map);
    parts.forEach((part, index) => {
      const layer = L.geoJSON(part.geometry, {
        style: { color: "#1b1f24", weight: 2, fillColor: PART_COLOURS[index % 2], fillOpacity: 0.55, className: "split-part" },
        pmIgnore: true,
        snapIgnore: true,
      }).getLayers()[0];
      layer.partIndex = index;
      layer.on("click", () => choose(index));
      const words = format(strings.splitPart, { n: index + 1, area: P.fmtM2Ha(part.site_area_m2) });
      const tip = document.createElement("span");
      tip.textContent = words;
      layer.bindTooltip(tip, {
        permanent: true,
        direction: "center",
        className: "split-part-label",
      });
      state.partsLayer.addLayer(layer);
      const label = document.createElement("label");
      label.className = "choice";
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "keep";
      radio.value = String(index);
      radio.addEventListener("change", () => choose(index));
      label.append(radio, document.createTextNode(` ${words}`));
      partsBox.append(label);
    });
    const keeps = parts.findIndex((part) => part.keeps === true);
    if (keeps >= 0) choose(keeps);
    form.hidden = false;
    text(format(strings.splitPreview, { code: state.code }));
    P.status(format(strings.splitPreview, { code: state.code }));
    P.reveal(state.layer, bar);
    const first = partsBox.querySelector("input");
    if (first) first.focus();
  }

  async function preview(line) {
    state.line = line;
    const url = `${P.config.parcelApi}${state.id}/split/?dry_run=true`;
    const { status, data } = await P.api("POST", url, { version: state.version, line });
    if (!state) return;
    if (status === 200) {
      showParts(data.parts);
    } else {
      P.writeRefused(status, data, state.layer, state.code);
      if (status !== 409) drawLine(); // draw another line
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = partsBox.querySelector("input:checked");
    const newCode = codeInput.value.trim();
    if (!chosen) {
      P.status(strings.chooseKeep);
      partsBox.querySelector("input").focus();
      return;
    }
    if (!newCode) {
      P.status(strings.needCode);
      codeInput.focus();
      return;
    }
    const part = state.parts[Number(chosen.value)];
    const keepAt = { type: "Point", coordinates: P.area.interiorPoint(part.geometry.coordinates) };
    const body = { version: state.version, line: state.line, new_code: newCode, keep_at: keepAt };
    const { status, data } = await P.api("POST", `${P.config.parcelApi}${state.id}/split/`, body);
    if (status === 200) {
      const code = data.kept.code;
      const created = data.created.code;
      P.setMode("browse");
      await P.refocus(code);
      P.status(format(strings.splitDone, { code, new: created }));
    } else {
      P.writeRefused(status, data, state.layer, state.code);
    }
  });

  P.tools.split = {
    needsSelection: true,
    start(layer) {
      const props = layer.feature.properties;
      state = { layer, code: props.code, id: props.id, version: props.version, partsLayer: null };
      codeInput.value = "";
      bar.hidden = false;
      text(format(strings.splitHint, { code: props.code }));
      P.status(format(strings.splitHint, { code: props.code }));
      P.reveal(layer, bar);
      drawLine();
    },
    pick() {}, // clicks on parcels place the line's points
    cancel() {
      map.pm.disableDraw();
      clearPreview();
      state = null;
      bar.hidden = true;
    },
  };

  map.on("pm:create", ({ layer, shape }) => {
    if (shape !== "Line" || P.mode !== "split" || !state) return;
    const line = layer.toGeoJSON(9).geometry;
    layer.remove();
    clearPreview();
    preview(line);
  });

  bar.querySelector('[data-action="cancel"]').addEventListener("click", () => {
    P.setMode("browse");
    P.status(strings.cancelled);
  });
})();
