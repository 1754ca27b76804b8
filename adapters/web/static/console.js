// A little help where it clearly helps; every page works without it.
// Choosing from a filter's drop-down applies the filter at once (the Filter button still works).
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.requestSubmit();
  }
});
