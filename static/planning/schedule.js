/* The delivery schedule's editor (planning/views/schedule.py). A refused save (422), an edit conflict (409) or a row
   gone meanwhile (404) answers with what to show in the editor, so htmx swaps those answers there too; the item open
   in the editor is marked in the charts and the tables (which are swapped in afresh after every change). */
(function () {
  "use strict";

  const SHOWN_IN_PLACE = [404, 409, 422];
  const editor = document.getElementById("schedule-editor");
  if (!editor) return;

  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!SHOWN_IN_PLACE.includes(event.detail.xhr.status)) return;
    if (event.detail.target === editor || editor.contains(event.detail.target)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function markOpen() {
    const body = editor.querySelector("[data-item]");
    const open = body ? body.dataset.item : "";
    document.querySelectorAll(".gantt-row[data-item], .schedule-table tr[data-item]").forEach((row) => {
      row.classList.toggle("is-selected", row.dataset.item === open);
    });
  }

  document.body.addEventListener("htmx:afterSettle", markOpen);
  markOpen();
})();
