// The option chain: every visible option (and the underlying) is subscribed on the browser
// channel, and each tick (oa:market_data, websocket.md §5) rewrites that instrument's LTP,
// OI and volume cells. The table itself is re-fetched by htmx every few seconds for fresh
// IV and greeks; after each swap the subscriptions follow the strikes now shown.
(function () {
  "use strict";
  var subscribed = {};  // "EXCHANGE:SYMBOL" -> true

  function split(key) {
    var at = key.indexOf(":");
    return { exchange: key.slice(0, at), symbol: key.slice(at + 1) };
  }

  function follow() {
    var live = window.OpenAlgo && window.OpenAlgo.live;
    if (!live) { return; }
    var shown = {};
    document.querySelectorAll("#option-chain [data-live]").forEach(function (cell) { shown[cell.dataset.live] = true; });
    var added = Object.keys(shown).filter(function (key) { return !subscribed[key]; });
    var gone = Object.keys(subscribed).filter(function (key) { return !shown[key]; });
    if (gone.length) { live.unsubscribe(gone.map(split)); }
    if (added.length) { live.subscribe(added.map(split), 2); }
    subscribed = shown;
  }

  function text(field, value) {
    if (field === "ltp") { return Number(value).toFixed(2); }
    return String(Math.round(Number(value)));
  }

  document.addEventListener("oa:market_data", function (event) {
    var frame = event.detail || {};
    if (!frame.data) { return; }
    var key = frame.exchange + ":" + frame.symbol;
    if (!subscribed[key]) { return; }
    document.querySelectorAll("#option-chain [data-live]").forEach(function (cell) {
      if (cell.dataset.live !== key) { return; }
      var value = frame.data[cell.dataset.liveField];
      if (value === undefined || value === null || !isFinite(Number(value))) { return; }
      cell.textContent = text(cell.dataset.liveField, value);
    });
  });

  // The expiries listed are the current underlying's: once the underlying or its exchange
  // changes, the form asks for the new one's nearest expiry instead (a disabled field is not sent).
  var form = document.querySelector('[data-testid="chain-form"]');
  if (form) {
    form.addEventListener("change", function (event) {
      var name = event.target && event.target.name;
      if (name === "underlying" || name === "exchange") { form.querySelector('select[name="expiry"]').disabled = true; }
    });
  }

  document.addEventListener("htmx:afterSettle", follow);
  follow();
})();
