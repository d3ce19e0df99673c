// The latency and traffic monitors: line charts (TradingView lightweight-charts v5) of the
// JSON the page's data-url serves, re-fetched every 30 s. Times arrive as epoch seconds
// already shifted to IST clock time (the charts draw UTC).
(function () {
  "use strict";
  var Charts = window.LightweightCharts;
  var holder = document.getElementById("latency-charts") || document.getElementById("traffic-charts");
  if (!Charts || !holder) { return; }
  var PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#dc2626"];
  var charts = {};

  function dark() { return document.documentElement.getAttribute("data-theme") === "dark"; }

  function chartIn(name) {
    var box = holder.querySelector('[data-chart="' + name + '"]');
    if (!box) { return null; }
    if (charts[name]) {
      charts[name].series.forEach(function (series) { charts[name].chart.removeSeries(series); });
      charts[name].series = [];
      return charts[name];
    }
    var text = dark() ? "#d4d4d8" : "#3f3f46";
    var chart = Charts.createChart(box, {
      autoSize: true,
      // The logo injects a <style> element the page policy refuses; the page credits
      // TradingView in text instead (data-chart-credit).
      layout: { background: { type: "solid", color: "transparent" }, textColor: text, attributionLogo: false },
      grid: { vertLines: { visible: false }, horzLines: { color: dark() ? "#3f3f46" : "#e4e4e7" } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { borderVisible: false }
    });
    charts[name] = { chart: chart, series: [] };
    return charts[name];
  }

  function line(entry, color, title, dashed, points) {
    var series = entry.chart.addSeries(Charts.LineSeries, {
      color: color, lineWidth: dashed ? 1 : 2, title: title,
      lineStyle: dashed ? Charts.LineStyle.Dashed : Charts.LineStyle.Solid,
      priceLineVisible: false, lastValueVisible: false
    });
    series.setData(points);
    entry.series.push(series);
  }

  function drawLatency(name, groups) {
    var entry = chartIn(name);
    if (!entry) { return; }
    Object.keys(groups).forEach(function (group, index) {
      var color = PALETTE[index % PALETTE.length];
      var rows = groups[group];
      line(entry, color, group + " p50", false, rows.map(function (r) { return { time: r.time, value: r.p50 }; }));
      line(entry, color, group + " p99", true, rows.map(function (r) { return { time: r.time, value: r.p99 }; }));
    });
    entry.chart.timeScale().fitContent();
  }

  function drawTraffic(rows) {
    var entry = chartIn("traffic");
    if (!entry) { return; }
    line(entry, PALETTE[0], "calls/min", false, rows.map(function (r) { return { time: r.time, value: r.per_minute }; }));
    line(entry, "#d97706", "4xx", false, rows.map(function (r) { return { time: r.time, value: r.client_errors }; }));
    line(entry, "#dc2626", "5xx", false, rows.map(function (r) { return { time: r.time, value: r.server_errors }; }));
    entry.chart.timeScale().fitContent();
  }

  function load() {
    fetch(holder.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.traffic) { drawTraffic(data.traffic); return; }
        drawLatency("endpoints", data.endpoints || {});
        drawLatency("brokers", data.brokers || {});
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  load();
  window.setInterval(load, 30000);
}());
