/* Parentalités widgets on a partner's site. Paste, where the widget goes:
     <div data-parentalites-widget="agenda" data-structure="12"></div>
     <script src="https://…/widgets/embed.js" async></script>
   data-parentalites-widget: "agenda" (the next events) or "lettre" (the latest letter);
   data-structure (agenda): a structure's id, for its own events only; data-limit: how many events.
   Each such element gets an <iframe>, sized to its content by the height the widget page sends. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.URL) return;
  var base = script.src;
  var origin = new URL(base).origin;
  var TITLES = { agenda: "Les prochains événements du réseau Parentalités", lettre: "La dernière lettre Parentalités" };
  var frames = [];

  function insert(holder) {
    if (holder.getAttribute("data-parentalites-ready")) return;
    holder.setAttribute("data-parentalites-ready", "1");
    var kind = holder.getAttribute("data-parentalites-widget") === "lettre" ? "lettre" : "agenda";
    var url = new URL(kind, base);
    ["structure", "limit"].forEach(function (name) {
      var value = holder.getAttribute("data-" + name);
      if (value) url.searchParams.set(name, value);
    });
    var frame = document.createElement("iframe");
    frame.src = url.href;
    frame.title = holder.getAttribute("data-title") || TITLES[kind];
    frame.loading = "lazy";
    frame.setAttribute("height", kind === "lettre" ? "260" : "420");
    frame.style.cssText = "display:block;width:100%;max-width:100%;border:0;";
    holder.appendChild(frame);
    frames.push(frame);
  }

  function insertAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-parentalites-widget]"), insert);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== origin || !data || data.type !== "parentalites:height") return;
    var height = Math.min(Math.max(Number(data.height) || 0, 80), 4000);
    frames.forEach(function (frame) {
      if (frame.contentWindow === event.source) frame.style.height = height + "px";
    });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", insertAll);
  else insertAll();
})();
