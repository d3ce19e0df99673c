// The dashboard's intraday P&L curve: a line series over today's samples, read from the
// #pnl-samples JSON block, which the trading summary brings anew each time htmx re-fetches it.
(function () {
  "use strict";

  var chart = null;
  var series = null;

  function samples() {
    var block = document.getElementById("pnl-samples");
    if (!block) { return []; }
    try { return JSON.parse(block.textContent) || []; } catch (e) { return []; }
  }

  function colours() {
    var dark = document.documentElement.getAttribute("data-theme") === "dark";
    return { text: dark ? "#d1d5db" : "#374151", grid: dark ? "#374151" : "#e5e7eb" };
  }

  function draw() {
    var box = document.getElementById("pnl-chart");
    if (!box || !window.LightweightCharts) { return; }
    var data = samples();
    if (!chart) {
      var c = colours();
      chart = LightweightCharts.createChart(box, {
        autoSize: true,
        // The built-in logo is an inline <style> the page's policy refuses; the page credits TradingView instead.
        layout: { background: { color: "transparent" }, textColor: c.text, attributionLogo: false },
        grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
        timeScale: { timeVisible: true, secondsVisible: false },
        localization: { priceFormatter: function (p) { return "₹" + p.toFixed(2); } }
      });
      series = chart.addSeries(LightweightCharts.BaselineSeries
        ? LightweightCharts.BaselineSeries : LightweightCharts.LineSeries,
        { baseValue: { type: "price", price: 0 }, lineWidth: 2 });
    }
    // Local time on the axis: lightweight-charts reads UTC seconds.
    var offset = -new Date().getTimezoneOffset() * 60;
    var seen = {};
    var points = [];
    data.forEach(function (p) {
      var t = p.time + offset;
      if (!seen[t]) { seen[t] = true; points.push({ time: t, value: p.value }); }
    });
    series.setData(points);
    chart.timeScale().fitContent();
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
