// Basket builder: legs are added and removed here, kept as JSON in the form's hidden
// "legs" field, and sent as one basket; the server validates every leg again.
(function () {
  "use strict";

  function setup() {
    const form = document.getElementById("basket-form");
    const hidden = document.getElementById("id_legs");
    const body = document.querySelector("#basket-legs tbody");
    if (!form || !hidden || !body) return;
    const $ = function (id) { return document.getElementById(id); };
    const count = $("leg-count");
    const empty = $("basket-empty");
    const problem = $("leg-problem");
    let legs = [];
    try {
      const saved = JSON.parse(hidden.value || "[]");
      if (Array.isArray(saved)) legs = saved.filter(function (leg) { return leg && typeof leg === "object"; });
    } catch (error) { legs = []; }

    function cell(text, right) {
      const td = document.createElement("td");
      td.textContent = text == null ? "" : String(text);
      if (right) td.className = "text-right num";
      return td;
    }

    function render() {
      body.replaceChildren();
      legs.forEach(function (leg, index) {
        const tr = document.createElement("tr");
        tr.dataset.testid = "basket-leg";
        tr.append(cell(leg.action), cell(leg.symbol), cell(leg.exchange), cell(leg.quantity, true),
                  cell(leg.product), cell(leg.pricetype), cell(leg.price, true), cell(leg.trigger_price, true));
        const td = document.createElement("td");
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "btn btn-xs btn-ghost";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove leg " + (index + 1));
        remove.addEventListener("click", function () { legs.splice(index, 1); render(); });
        td.append(remove);
        tr.append(td);
        body.append(tr);
      });
      hidden.value = JSON.stringify(legs);
      if (count) count.textContent = String(legs.length);
      if (empty) empty.classList.toggle("hidden", legs.length > 0);
    }

    function say(text) {
      if (!problem) return;
      problem.textContent = text;
      problem.classList.toggle("hidden", !text);
    }

    $("add-leg").addEventListener("click", function () {
      const leg = {
        symbol: $("leg-symbol").value.trim().toUpperCase(),
        exchange: $("leg-exchange").value,
        action: $("leg-action").value,
        quantity: $("leg-quantity").value.trim(),
        product: $("leg-product").value,
        pricetype: $("leg-pricetype").value,
        price: $("leg-price").value.trim() || "0",
        trigger_price: $("leg-trigger").value.trim() || "0",
        disclosed_quantity: 0,
      };
      if (!leg.symbol) { say("Enter a symbol."); return; }
      if (!(Number(leg.quantity) > 0)) { say("Quantity must be a positive number."); return; }
      say("");
      legs.push(leg);
      render();
      $("leg-symbol").value = "";
      $("leg-symbol").focus();
    });

    form.addEventListener("submit", function (event) {
      hidden.value = JSON.stringify(legs);
      if (!legs.length) { event.preventDefault(); say("Add at least one leg to the basket."); }
    });
    render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
