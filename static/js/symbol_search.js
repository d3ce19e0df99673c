// Symbol search as you type (htmx fetches the list into the element named by the input's
// data-results). Picking a row fills the symbol and the exchange select named by
// data-exchange-field. The list closes on Escape, on a pick, when focus leaves the field,
// and never opens late over the rest of the form once the trader has moved on.
(function () {
  "use strict";

  function bind(input) {
    const results = document.querySelector(input.dataset.results);
    const exchange = input.dataset.exchangeField ? document.querySelector(input.dataset.exchangeField) : null;
    if (!results) return;

    function close() {
      results.replaceChildren();
      input.setAttribute("aria-expanded", "false");
    }
    function focusedHere() {
      const active = document.activeElement;
      return active === input || results.contains(active);
    }

    results.addEventListener("click", function (event) {
      const button = event.target.closest("[data-pick-symbol]");
      if (!button) return;
      input.value = button.dataset.pickSymbol;
      if (exchange && button.dataset.pickExchange) exchange.value = button.dataset.pickExchange;
      close();
      input.focus();
    });
    results.addEventListener("htmx:afterSwap", function () {
      if (!focusedHere()) { close(); return; }
      input.setAttribute("aria-expanded", results.querySelector("[data-pick-symbol]") ? "true" : "false");
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
      if (event.key === "ArrowDown") {
        const first = results.querySelector("[data-pick-symbol]");
        if (first) { event.preventDefault(); first.focus(); }
      }
    });
    results.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { close(); input.focus(); }
    });
    // Focus moving elsewhere closes it (a click on a row focuses the row first, so it still picks).
    [input, results].forEach(function (element) {
      element.addEventListener("focusout", function () {
        setTimeout(function () { if (!focusedHere()) close(); }, 200);
      });
    });
  }

  function setup() {
    document.querySelectorAll("input[data-symbol-search]").forEach(bind);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
