// The Sessions page reloads itself when the number of sessions changes in another tab or
// browser (the browser channel's active_sessions_update event).
(function () {
  "use strict";
  document.addEventListener("oa:active_sessions_update", function (event) {
    var page = document.getElementById("sessions-page");
    if (!page || !event.detail || typeof event.detail.count !== "number") { return; }
    if (String(event.detail.count) !== page.getAttribute("data-count")) { window.location.reload(); }
  });
})();
