// Place-order page: picking a symbol from the search-as-you-type list fills the symbol and
// its exchange; Escape or a click elsewhere closes the list.
(function () {
  "use strict";

  function setup() {
    const symbol = document.getElementById("id_symbol");
    const exchange = document.getElementById("id_exchange");
    const results = document.getElementById("symbol-results");
    if (!symbol || !results) return;

    function close() {
      results.replaceChildren();
      symbol.setAttribute("aria-expanded", "false");
    }

    results.addEventListener("click", function (event) {
      const button = event.target.closest("[data-pick-symbol]");
      if (!button) return;
      symbol.value = button.dataset.pickSymbol;
      if (exchange && button.dataset.pickExchange) exchange.value = button.dataset.pickExchange;
      close();
      symbol.focus();
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target === results) {
        symbol.setAttribute("aria-expanded", results.querySelector("[data-pick-symbol]") ? "true" : "false");
      }
    });
    symbol.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
      if (event.key === "ArrowDown") {
        const first = results.querySelector("[data-pick-symbol]");
        if (first) { event.preventDefault(); first.focus(); }
      }
    });
    document.addEventListener("click", function (event) {
      if (!results.contains(event.target) && event.target !== symbol) close();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
