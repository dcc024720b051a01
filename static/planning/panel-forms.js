/* The parcel panel's forms (planning/views/parcel.py). A refused save (422), an edit conflict (409) or a row that
   is gone meanwhile (404) answers with what to show in place, so htmx swaps those answers too when they come from
   inside the panel; and each field's live error (swapped in as the planner types) keeps the field's aria-invalid
   and aria-describedby in step with it, as a full render sets them, so the error is announced with the field. */
(function () {
  "use strict";

  const SHOWN_IN_PLACE = [404, 409, 422];

  document.addEventListener("htmx:beforeSwap", (event) => {
    const elt = event.detail.elt;
    if (!SHOWN_IN_PLACE.includes(event.detail.xhr.status) || !elt || !elt.closest) return;
    if (elt.closest("#parcel-panel")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function sync(container) {
    const field = document.getElementById(container.dataset.errorFor);
    if (!field) return;
    const hasError = container.textContent.trim() !== "";
    const ids = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter((id) => id && id !== container.id);
    if (hasError) {
      ids.push(container.id);
      field.setAttribute("aria-invalid", "true");
    } else {
      field.removeAttribute("aria-invalid");
    }
    if (ids.length) field.setAttribute("aria-describedby", ids.join(" "));
    else field.removeAttribute("aria-describedby");
    const wrapper = container.closest(".field");
    if (wrapper) wrapper.classList.toggle("field-invalid", hasError);
  }

  document.addEventListener("htmx:oobAfterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (target && target.dataset && target.dataset.errorFor) sync(target);
  });
})();
