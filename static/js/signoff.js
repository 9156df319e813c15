// Live progress on the request page: while a step runs in the worker, fetch the steps partial
// every two seconds and swap it in. The server answers with the partial when it sees the
// HX-Request header (django-htmx); once nothing runs, the partial stops asking, and the page
// reloads so that decision buttons and the timeline reflect the new state.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function poll(element) {
    var url = element.getAttribute("data-live-url");
    if (!url) return;
    window.setTimeout(function () {
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.firstElementChild;
          element.replaceWith(fresh);
          if (fresh.getAttribute("data-live-url")) poll(fresh);
          else window.location.reload();
        })
        .catch(function () { poll(element); });
    }, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url]").forEach(poll);
  });
})();

// Decisions that are hard to undo (Deploy, Reject, rollback) ask first: a button or form with
// data-confirm="…" submits only after the person confirms the sentence.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && button.form && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
  });
})();
