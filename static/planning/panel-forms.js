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

  /* A field's live check never cuts a save short. The checks sync on their form with "replace" (a newer check
     replaces one still running), which would also abort the form's own request: a check that came due while a slow
     save was in flight aborted it in the browser after the server had made it, then, checked against the version
     the form was opened on, answered a conflict with the planner's own save. So no check is sent while the form's
     save is in flight; the save's answer replaces the form and its fields. */
  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (!elt || !elt.closest || !elt.closest("#parcel-panel")) return;
    if (elt.tagName === "FORM") {
      elt.dataset.saving = "true";
    } else if (elt.form && elt.form.dataset.saving) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.elt;
    if (elt && elt.tagName === "FORM") delete elt.dataset.saving;
  });

  document.addEventListener("htmx:oobAfterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (target && target.dataset && target.dataset.errorFor) sync(target);
  });
})();
