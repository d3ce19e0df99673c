// The books (orders, trades, positions, holdings): sort by a header click, filter by a box,
// and keep both when the table is re-fetched (htmx, on every oa:order_update).
(function () {
  "use strict";

  var state = { key: -1, dir: 1, filter: "", flash: "" };

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return numeric ? 0 : ""; }
    var raw = cell.getAttribute("data-value");
    if (numeric) {
      var n = parseFloat(raw === null ? cell.textContent : raw);
      return isNaN(n) ? 0 : n;
    }
    return cell.textContent.trim().toLowerCase();
  }

  function rowsOf(table) {
    var body = table.tBodies[0];
    return body ? Array.prototype.filter.call(body.rows, function (r) { return !r.hasAttribute("data-empty"); }) : [];
  }

  function applySort(table) {
    var headers = table.querySelectorAll("th[data-sort]");
    Array.prototype.forEach.call(headers, function (th, i) {
      if (i === state.key) { th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    if (state.key < 0 || !headers[state.key]) { return; }
    var numeric = headers[state.key].getAttribute("data-sort") === "num";
    var rows = rowsOf(table);
    rows.sort(function (a, b) {
      var x = cellValue(a, state.key, numeric), y = cellValue(b, state.key, numeric);
      return (x < y ? -1 : x > y ? 1 : 0) * state.dir;
    });
    var body = table.tBodies[0];
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function applyFilter(table) {
    var words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
    rowsOf(table).forEach(function (row) {
      var text = row.textContent.toLowerCase();
      row.hidden = !words.every(function (w) { return text.indexOf(w) !== -1; });
    });
  }

  function flash(table) {
    if (!state.flash) { return; }
    rowsOf(table).forEach(function (row) {
      if (row.getAttribute("data-orderid") === state.flash || row.getAttribute("data-symbol") === state.flash) {
        row.classList.add("flash");
      }
    });
    state.flash = "";
  }

  function refresh() {
    var table = document.getElementById("book-table");
    if (!table) { return; }
    applySort(table);
    applyFilter(table);
    flash(table);
  }

  document.addEventListener("click", function (event) {
    var th = event.target.closest("#book-table th[data-sort]");
    if (!th) { return; }
    var index = Array.prototype.indexOf.call(th.parentNode.querySelectorAll("th[data-sort]"), th);
    state.dir = state.key === index ? -state.dir : 1;
    state.key = index;
    refresh();
  });

  document.addEventListener("input", function (event) {
    if (!event.target.matches("[data-book-filter]")) { return; }
    state.filter = event.target.value;
    refresh();
  });

  document.addEventListener("oa:order_update", function (event) {
    var detail = event.detail || {};
    var book = document.getElementById("book");
    var kind = book ? book.getAttribute("data-book") : "";
    state.flash = kind === "positions" || kind === "holdings" ? detail.symbol || "" : detail.orderid || "";
  });

  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
