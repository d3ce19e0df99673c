// The browser channel: one WebSocket per tab at /ws/app (same origin, signed in by the
// session cookie). Each frame the server sends is re-dispatched on `document` as a
// CustomEvent named "oa:<type>" (oa:order_update, oa:pending_order_created,
// oa:app_mode_changed, oa:force_logout, oa:market_data, ...) with the frame as `detail`,
// so page modules and htmx triggers (hx-trigger="oa:order_update from:document") listen
// without knowing about the socket. Prices: OpenAlgo.live.subscribe([{exchange, symbol}], mode).
(function () {
  "use strict";
  var socket = null;
  var retry = 500;
  var wanted = {};  // "EXCHANGE:SYMBOL" -> mode, re-sent after a reconnect
  var closedForGood = false;
  var status = function (text, cls) {
    var badge = document.getElementById("live-status");
    if (!badge) { return; }
    badge.textContent = text;
    badge.className = "badge hidden sm:inline-flex " + cls;
  };

  function dispatch(frame) {
    if (!frame || typeof frame.type !== "string") { return; }
    document.dispatchEvent(new CustomEvent("oa:" + frame.type, { detail: frame }));
    document.dispatchEvent(new CustomEvent("oa:any", { detail: frame }));
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); return true; }
    return false;
  }

  function resubscribe() {
    var byMode = {};
    Object.keys(wanted).forEach(function (key) {
      var mode = wanted[key];
      var parts = key.split(":");
      (byMode[mode] = byMode[mode] || []).push({ exchange: parts[0], symbol: parts.slice(1).join(":") });
    });
    Object.keys(byMode).forEach(function (mode) {
      send({ action: "subscribe", mode: Number(mode), symbols: byMode[mode] });
    });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/app");
    status("connecting", "badge-ghost");
    socket.onopen = function () { retry = 500; };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "hello") {
        status("live", "badge-success");
        resubscribe();
      }
      dispatch(frame);
    };
    socket.onclose = function (event) {
      status("offline", "badge-ghost");
      socket = null;
      if (event.code === 4401 || event.code === 4403) {  // signed out: the page must sign in again
        closedForGood = true;
        dispatch({ type: "channel_closed", code: event.code });
        if (event.code === 4403) { window.location.assign("/login/?next=" + encodeURIComponent(window.location.pathname)); }
        return;
      }
      if (!closedForGood) {
        window.setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      }
    };
  }

  window.OpenAlgo = window.OpenAlgo || {};
  window.OpenAlgo.live = {
    send: send,
    subscribe: function (symbols, mode) {
      mode = mode || 2;
      symbols.forEach(function (s) { wanted[s.exchange + ":" + s.symbol] = mode; });
      return send({ action: "subscribe", mode: mode, symbols: symbols });
    },
    unsubscribe: function (symbols) {
      symbols.forEach(function (s) { delete wanted[s.exchange + ":" + s.symbol]; });
      return send({ action: "unsubscribe", symbols: symbols });
    },
    connected: function () { return !!socket && socket.readyState === WebSocket.OPEN; }
  };
  connect();
})();
