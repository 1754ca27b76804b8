// Keeps sandbox pages current: when the bot posts (an escalation comes due, a claim is redrawn),
// the parts marked data-live are replaced with the server's fresh copy. Pages work without it.
(function () {
  "use strict";
  var known = document.body.getAttribute("data-version");
  var busy = false;
  function typing() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA") && el.value;
  }
  function refresh() {
    if (busy || typing()) { return; }
    busy = true;
    fetch("/sandbox/version", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (String(data.version) === known) { return null; }
        return fetch(location.href, { cache: "no-store", credentials: "same-origin" })
          .then(function (r) { return r.text(); })
          .then(function (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html");
            document.querySelectorAll("[data-live]").forEach(function (el) {
              var twin = el.id && fresh.getElementById(el.id);
              if (twin) { el.replaceWith(document.importNode(twin, true)); }
            });
            known = String(data.version);
            document.body.setAttribute("data-version", known);
          });
      })
      .catch(function () { /* the server restarted or stopped: try again later */ })
      .then(function () { busy = false; });
  }
  setInterval(refresh, 1500);
}());
