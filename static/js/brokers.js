// The Broker page: when a broker session ends (logout elsewhere, the daily expiry, the
// broker refusing the token) the server pushes `broker_session` {broker, live: false};
// show a "reconnect" prompt pointing at that broker's login. The tables themselves
// re-fetch through htmx (hx-trigger on oa:broker_session / oa:master_contract_progress).
(function () {
  "use strict";
  var prompt = document.getElementById("reconnect-prompt");
  if (!prompt) { return; }
  document.addEventListener("oa:broker_session", function (event) {
    var detail = event.detail || {};
    if (typeof detail.broker !== "string") { return; }
    if (detail.live) { prompt.classList.add("hidden"); return; }
    var name = prompt.querySelector("[data-reconnect-broker]");
    var link = prompt.querySelector("[data-reconnect-link]");
    if (name) { name.textContent = detail.broker; }
    if (link) { link.setAttribute("href", "/broker/" + encodeURIComponent(detail.broker) + "/login/"); }
    prompt.classList.remove("hidden");
  });
}());
