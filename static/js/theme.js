// The light/dark theme, kept in localStorage. Loaded in <head> without defer so the page
// is painted in the chosen theme from the start (no flash of the other one).
(function () {
  "use strict";
  var KEY = "openalgo.theme";
  var root = document.documentElement;
  function preferred() {
    try {
      var saved = window.localStorage.getItem(KEY);
      if (saved === "light" || saved === "dark") { return saved; }
    } catch (e) { /* storage disabled: follow the system */ }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  root.setAttribute("data-theme", preferred());
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("[data-theme-toggle]")) { return; }
    var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { window.localStorage.setItem(KEY, next); } catch (e) { /* not kept, still switched */ }
    document.dispatchEvent(new CustomEvent("oa:theme", { detail: { theme: next } }));
  });
})();
