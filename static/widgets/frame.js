/* A widget page inside another site's <iframe>: tell the page around it how tall it is, so that
   /widgets/embed.js sizes the frame (no scroll bar). Only a height is sent, to any parent. */
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function send() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ type: "parentalites:height", height: height }, "*");
    }
  }
  if ("ResizeObserver" in window) new ResizeObserver(send).observe(document.documentElement);
  window.addEventListener("load", send);
  window.addEventListener("resize", send);
  send();
})();
