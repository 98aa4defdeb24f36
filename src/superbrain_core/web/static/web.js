// superbrain web: progressive enhancement only; every page works without it.
// A <select data-autosubmit> submits its form when changed.
"use strict";
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
    target.form.requestSubmit();
  }
});
