/* The parcel panel beside the map and the page's history: a parcel opens in the panel (htmx) and its URL,
   /plan/parcels/<code>/ with the page's filters, is pushed, so it can be shared and reloaded and back and forward
   move between parcels. htmx keeps no snapshot of this page (hx-history="false"): restoring one would replace the
   live map, so this module answers back and forward itself. The table's rows show their parcel on the map while
   focused or hovered, and the panel's changes (the `parcel-changed` event) reload the map and the tables. */
(function () {
  "use strict";

  const P = window.InnopolePlan;
  if (!P || !P.map) return;
  const panel = document.getElementById("parcel-panel");
  const hint = panel.innerHTML;
  const prefix = P.config.parcelUrl.split("__code__")[0];

  function codeFromPath(path) {
    if (!path.startsWith(prefix)) return null;
    const rest = path.slice(prefix.length).replace(/\/$/, "");
    if (!rest || rest.includes("/") || rest === "new") return null;
    return decodeURIComponent(rest);
  }

  let opening = ""; // the status line's "Opening …", cleared once the panel is there

  function urlOf(code) {
    return P.config.parcelUrl.replace("__code__", encodeURIComponent(code)) + window.location.search;
  }

  /* Open a parcel in the panel; `push` adds a history entry (not when answering back or forward). */
  function openParcel(code, { push = true } = {}) {
    P.select(code);
    const url = urlOf(code);
    if (push) window.history.pushState({ innopolePlan: code }, "", url);
    opening = P.format(P.strings.opening, { code });
    P.status(opening);
    return htmx.ajax("GET", url, { target: "#parcel-panel", swap: "innerHTML" });
  }

  function showHint() {
    P.select(null);
    panel.innerHTML = hint;
  }

  window.addEventListener("popstate", () => {
    const code = codeFromPath(window.location.pathname);
    if (code) openParcel(code, { push: false });
    else showHint();
  });

  // The table's "Open" links push their URL through htmx; the entry is made ours so that back and forward come here.
  document.body.addEventListener("htmx:pushedIntoHistory", (event) => {
    const code = codeFromPath(new URL(event.detail.path, window.location.href).pathname);
    window.history.replaceState({ innopolePlan: code }, "", window.location.href);
    if (code) P.select(code);
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== panel) return;
    if (opening && document.getElementById("plan-status").textContent === opening) P.status("");
    opening = "";
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    // Opened from the keyboard path (the table): take the reader to what opened.
    if (source && source.classList && source.classList.contains("parcel-open")) panel.focus();
    document.dispatchEvent(new CustomEvent("innopole:panel-loaded"));
  });

  document.body.addEventListener("htmx:responseError", (event) => {
    if (event.detail.target !== panel) return;
    const code = codeFromPath(new URL(event.detail.pathInfo.requestPath, window.location.href).pathname) || "";
    P.status(P.format(P.strings.openFailed, { code, status: event.detail.xhr.status }));
  });

  // The panel's saves: reload what the map and the tables show.
  document.body.addEventListener("parcel-changed", (event) => {
    const code = (event.detail && event.detail.code) || "";
    P.reload().then(() => {
      if (code) P.select(code);
      P.status(P.format(P.strings.changed, { code }));
    });
  });

  // The table's rows show their parcel on the map while focused or hovered.
  function rowCode(target) {
    const row = target.closest && target.closest("tr[data-code]");
    return row ? row.dataset.code : null;
  }
  for (const [on, off] of [
    ["focusin", "focusout"],
    ["mouseover", "mouseout"],
  ]) {
    document.addEventListener(on, (event) => {
      const code = rowCode(event.target);
      if (code) P.peek(code, true);
    });
    document.addEventListener(off, (event) => {
      const code = rowCode(event.target);
      if (code && !(event.relatedTarget && rowCode(event.relatedTarget) === code)) P.peek(code, false);
    });
  }

  P.openParcel = openParcel;
  P.panelCode = () => codeFromPath(window.location.pathname);
  P.showHint = showHint;
  P.panel = panel;

  // Opened at a parcel's URL: select it once the parcels are drawn.
  const initial = codeFromPath(window.location.pathname);
  if (initial) {
    window.history.replaceState({ innopolePlan: initial }, "", window.location.href);
    P.select(initial);
  }
})();
