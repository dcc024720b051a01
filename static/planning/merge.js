/* Merge two adjacent parcels of the same phase (owner of the rules: the API, POST /api/v1/parcels/<id>/merge/).
   The planner picks the other parcel on the map or in the list; ?dry_run=true previews the merged shape and its
   area, and a confirmation sends it for real. Every refusal shows the server's messages. */
(function () {
  "use strict";

  const P = window.InnopolePlan;
  if (!P || !P.map || !P.config.canEdit) return;
  const { map, strings, format } = P;
  const bar = document.getElementById("merge-bar");
  const select = document.getElementById("merge-other");
  const confirmButton = bar.querySelector('[data-action="confirm"]');
  let state = null; // {layer, code, id, version, other, preview}

  function text(value) {
    bar.querySelector('[data-role="text"]').textContent = value;
  }

  function clearPreview() {
    if (state && state.preview) state.preview.remove();
    if (state) state.preview = null;
    confirmButton.hidden = true;
  }

  function otherLayer() {
    return P.layer(select.value);
  }

  async function preview() {
    clearPreview();
    const other = otherLayer();
    if (!other) return;
    const props = other.feature.properties;
    const body = { version: state.version, other: props.id, other_version: props.version };
    const { status, data } = await P.api("POST", `${P.config.parcelApi}${state.id}/merge/?dry_run=true`, body);
    if (!state) return;
    if (status === 200) {
      state.other = props;
      state.preview = L.geoJSON(data.geometry, {
        style: { color: "#a4161a", weight: 4, fillColor: "#ffffff", fillOpacity: 0.4, className: "merge-preview" },
        pmIgnore: true,
        snapIgnore: true,
        interactive: false,
      }).addTo(map);
      const message = format(strings.mergePreview, {
        code: state.code,
        other: props.code,
        area: P.fmtM2Ha(data.site_area_m2),
      });
      text(message);
      P.status(message);
      confirmButton.hidden = false;
      confirmButton.focus();
    } else {
      P.writeRefused(status, data, state.layer, state.code);
    }
  }

  confirmButton.addEventListener("click", async () => {
    if (!state || !state.other) return;
    const body = { version: state.version, other: state.other.id, other_version: state.other.version };
    const { status, data } = await P.api("POST", `${P.config.parcelApi}${state.id}/merge/`, body);
    if (status === 200) {
      const code = data.code;
      const other = state.other.code;
      P.setMode("browse");
      await P.refocus(code);
      P.status(format(strings.mergeDone, { code, other }));
    } else {
      P.writeRefused(status, data, state.layer, state.code);
    }
  });

  P.tools.merge = {
    needsSelection: true,
    start(layer) {
      const props = layer.feature.properties;
      state = { layer, code: props.code, id: props.id, version: props.version, other: null, preview: null };
      const candidates = (P.features || [])
        .map((feature) => feature.properties)
        .filter((other) => other.code !== props.code && other.phase_id === props.phase_id)
        .sort((a, b) => a.code.localeCompare(b.code));
      select.replaceChildren(
        new Option(strings.chooseParcel, ""),
        ...candidates.map((other) => new Option(other.code, other.code))
      );
      bar.hidden = false;
      const hint = format(strings.mergeHint, { code: props.code });
      text(hint);
      P.status(hint);
      P.reveal(layer, bar);
    },
    pick(layer) {
      if (!state || layer === state.layer) return;
      select.value = layer.feature.properties.code;
      preview();
    },
    cancel() {
      clearPreview();
      state = null;
      bar.hidden = true;
    },
  };

  bar.querySelector('[data-action="preview"]').addEventListener("click", preview);
  bar.querySelector('[data-action="cancel"]').addEventListener("click", () => {
    P.setMode("browse");
    P.status(strings.cancelled);
  });
})();
