// Hosted strategy page: keep the log scrolled to its newest line while the reader is at the bottom.
(function () {
  "use strict";
  let follow = true;
  function box() { return document.querySelector("[data-testid='hosted-log']"); }
  function stick() { const pre = box(); if (pre && follow) { pre.scrollTop = pre.scrollHeight; } }
  document.addEventListener("scroll", function (event) {
    const pre = box();
    if (event.target === pre) { follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8; }
  }, true);
  document.addEventListener("htmx:afterSwap", stick);
  document.addEventListener("DOMContentLoaded", stick);
})();
