// The quote page: a lightweight-charts 5 chart of the symbol's candles (from the page's
// history endpoint, the same service as /api/v1/history), kept live by the browser
// channel's ticks (oa:market_data, websocket.md §5): each tick moves the last candle or
// opens the next one. The quote figures follow the ticks too. The interval and chart type
// are saved in the trader's chart preferences (the store /api/v1/chart serves).
(function () {
  "use strict";
  var box = document.getElementById("chart");
  if (!box || !window.LightweightCharts) { return; }
  var LC = window.LightweightCharts;
  var symbol = box.dataset.symbol;
  var exchange = box.dataset.exchange;
  var IST = 19800;  // intraday times are drawn in IST: the chart shows times as UTC
  var STEPS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "D": 86400 };
  var prefsNode = document.getElementById("chart-preferences");
  var prefs = prefsNode ? JSON.parse(prefsNode.textContent) : {};
  var interval = STEPS[prefs.interval] ? prefs.interval : "1m";
  var chartType = prefs.chart_type === "line" ? "line" : "candles";
  var statusNode = document.querySelector("[data-chart-status]");
  var bars = [];        // {time, open, high, low, close} in chart time
  var loading = 0;      // the generation of the history request in flight
  var pending = [];     // ticks that came while history was loading
  var ticksDrawn = 0;

  function palette() {
    var dark = document.documentElement.getAttribute("data-theme") === "dark";
    return dark
      ? { background: "#1d232a", text: "#a6adbb", grid: "#2a323c", up: "#22c55e", down: "#ef4444", line: "#60a5fa" }
      : { background: "#ffffff", text: "#1f2937", grid: "#eef0f3", up: "#16a34a", down: "#dc2626", line: "#2563eb" };
  }

  var colours = palette();
  // The logo is an inline <style> and a data: image, which the CSP refuses; the page
  // credits TradingView with a link under the chart instead (the library's licence asks for it).
  var chart = LC.createChart(box, {
    autoSize: true,
    layout: { background: { type: "solid", color: colours.background }, textColor: colours.text,
              attributionLogo: false },
    grid: { vertLines: { color: colours.grid }, horzLines: { color: colours.grid } },
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { borderVisible: false }
  });
  var series = null;

  function seriesOptions() {
    return chartType === "line"
      ? { color: colours.line, lineWidth: 2 }
      : { upColor: colours.up, downColor: colours.down, borderVisible: false, wickUpColor: colours.up,
          wickDownColor: colours.down };
  }

  function point(bar) {
    return chartType === "line" ? { time: bar.time, value: bar.close } : bar;
  }

  function makeSeries() {
    if (series) { chart.removeSeries(series); }
    series = chart.addSeries(chartType === "line" ? LC.LineSeries : LC.CandlestickSeries, seriesOptions());
    series.setData(bars.map(point));
  }

  function applyTheme() {
    colours = palette();
    chart.applyOptions({
      layout: { background: { type: "solid", color: colours.background }, textColor: colours.text },
      grid: { vertLines: { color: colours.grid }, horzLines: { color: colours.grid } }
    });
    if (series) { series.applyOptions(seriesOptions()); }
  }

  function setStatus(text) { if (statusNode) { statusNode.textContent = text; } }

  function chartTime(epochSeconds) {
    return interval === "D" ? epochSeconds : epochSeconds + IST;
  }

  function load() {
    var generation = ++loading;
    var url = box.dataset.historyUrl + "?" + new URLSearchParams({ symbol: symbol, exchange: exchange, interval: interval });
    setStatus("Loading " + interval + " candles…");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
      .then(function (result) {
        if (generation !== loading) { return; }
        var body = result[1];
        if (!result[0]) { bars = []; setStatus(body.message || "No candles."); }
        else {
          bars = body.data.map(function (c) {
            return { time: chartTime(c.timestamp), open: c.open, high: c.high, low: c.low, close: c.close };
          });
          setStatus(bars.length ? "" : "No candles yet: live ticks will draw them.");
        }
        makeSeries();
        chart.timeScale().fitContent();
        loading = 0;
        var waiting = pending;
        pending = [];
        waiting.forEach(drawTick);
      })
      .catch(function () {
        if (generation !== loading) { return; }
        loading = 0;
        setStatus("Could not load the candles.");
        makeSeries();
      });
  }

  // Which bar a tick at `when` (chart time) belongs to: the last one, or a later one on the
  // same grid as the last (brokers start intraday bars at the session open, e.g. 09:15).
  function barTime(when) {
    var step = STEPS[interval];
    if (!bars.length) { return Math.floor(when / step) * step; }
    var last = bars[bars.length - 1].time;
    if (when < last + step) { return last; }
    return last + Math.floor((when - last) / step) * step;
  }

  function drawTick(data) {
    var price = Number(data.ltp);
    if (!isFinite(price) || price <= 0) { return; }
    var stamp = Number(data.ltt || data.timestamp) || Date.now();
    var when = chartTime(Math.floor(stamp / 1000));
    if (interval === "D") { when = Math.floor((Math.floor(stamp / 1000) + IST) / 86400) * 86400; }
    var time = barTime(when);
    var last = bars[bars.length - 1];
    if (last && time === last.time) {
      last.high = Math.max(last.high, price);
      last.low = Math.min(last.low, price);
      last.close = price;
    } else {
      last = { time: time, open: price, high: price, low: price, close: price };
      bars.push(last);
    }
    series.update(point(last));
    ticksDrawn += 1;
    box.dataset.ticksDrawn = String(ticksDrawn);
  }

  function fixed(value) { return Number(value).toFixed(2); }

  function showFigures(data) {
    var set = function (field, text) {
      var node = document.querySelector('[data-field="' + field + '"]');
      if (node && text !== undefined && text !== null) { node.textContent = text; }
    };
    set("ltp", fixed(data.ltp));
    ["open", "high", "low"].forEach(function (field) { if (data[field]) { set(field, fixed(data[field])); } });
    if (data.close) { set("prev_close", fixed(data.close)); }
    if (data.volume !== undefined) { set("volume", String(data.volume)); }
    var prev = Number(data.close) || Number((document.querySelector('[data-field="prev_close"]') || {}).textContent);
    if (prev) {
      var change = Number(data.ltp) - prev;
      var node = document.querySelector('[data-field="change"]');
      if (node) {
        node.textContent = fixed(change) + " (" + fixed(change * 100 / prev) + "%)";
        node.classList.toggle("pnl-up", change >= 0);
        node.classList.toggle("pnl-down", change < 0);
      }
    }
  }

  document.addEventListener("oa:market_data", function (event) {
    var frame = event.detail || {};
    if (frame.symbol !== symbol || frame.exchange !== exchange || !frame.data || frame.data.ltp === undefined) { return; }
    showFigures(frame.data);
    if (loading || !series) { pending.push(frame.data); return; }
    drawTick(frame.data);
  });

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  function savePreferences(changes) {
    fetch(box.dataset.preferencesUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(changes)
    }).catch(function () { /* kept for this page only */ });
  }

  document.querySelectorAll("[data-interval]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (button.dataset.interval === interval) { return; }
      interval = button.dataset.interval;
      document.querySelectorAll("[data-interval]").forEach(function (other) {
        var on = other === button;
        other.classList.toggle("btn-active", on);
        other.classList.toggle("btn-primary", on);
        other.setAttribute("aria-pressed", on ? "true" : "false");
      });
      savePreferences({ interval: interval });
      load();
    });
  });

  var typeSelect = document.querySelector("[data-chart-type]");
  if (typeSelect) {
    typeSelect.addEventListener("change", function () {
      chartType = typeSelect.value === "line" ? "line" : "candles";
      savePreferences({ chart_type: chartType });
      makeSeries();
    });
  }

  document.addEventListener("oa:theme", applyTheme);
  new MutationObserver(applyTheme).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });

  makeSeries();
  load();
  if (window.OpenAlgo && window.OpenAlgo.live) { window.OpenAlgo.live.subscribe([{ exchange: exchange, symbol: symbol }], 2); }
})();
