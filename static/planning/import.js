// The import page: a file larger than the import limit is refused beside the field before it is sent (the
// server says the same for one that gets through); after a preview, the result is focused so it is read first.
// Its message comes from the template (#import-strings), in the reader's language.
(function () {
  "use strict";

  var strings = JSON.parse(document.getElementById("import-strings").textContent);
  var input = document.getElementById("id_file");
  var error = document.getElementById("id_file_error");

  function tooBig() {
    var max = Number(input.dataset.maxBytes);
    return input.files.length > 0 && input.files[0].size > max;
  }

  function show(message) {
    error.textContent = "";
    if (message) {
      var line = document.createElement("p");
      line.textContent = message;
      error.appendChild(line);
    }
    var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && id !== error.id;
    });
    if (message) {
      ids.push(error.id);
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    input.setAttribute("aria-describedby", ids.join(" "));
    input.closest(".field").classList.toggle("field-invalid", Boolean(message));
  }

  if (input && error) {
    input.addEventListener("change", function () {
      show(tooBig() ? strings.too_big : "");
    });
    input.form.addEventListener("submit", function (event) {
      if (tooBig()) {
        event.preventDefault();
        show(strings.too_big);
        input.focus();
      }
    });
  }

  var result = document.getElementById("import-result");
  if (result) {
    result.focus();
  }
})();
