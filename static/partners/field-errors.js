// Live field errors on the EOI form. htmx swaps each field's error text into its container
// (`data-error-for` names the field's id); this keeps `aria-invalid` and `aria-describedby` in step with it,
// as Django renders them on a full page load, so the error is announced as the field's description.
(function () {
  "use strict";

  function sync(container) {
    var field = document.getElementById(container.dataset.errorFor);
    if (!field) {
      return;
    }
    var hasError = container.textContent.trim() !== "";
    var ids = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && id !== container.id;
    });
    if (hasError) {
      ids.push(container.id);
      field.setAttribute("aria-invalid", "true");
    } else {
      field.removeAttribute("aria-invalid");
    }
    if (ids.length) {
      field.setAttribute("aria-describedby", ids.join(" "));
    } else {
      field.removeAttribute("aria-describedby");
    }
    var wrapper = container.closest(".field");
    if (wrapper) {
      wrapper.classList.toggle("field-invalid", hasError);
    }
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.dataset && target.dataset.errorFor) {
      sync(target);
    }
  });
})();
