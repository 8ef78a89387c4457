// Updates the mail-out progress without reloading; the page reads fine without it.
(function () {
  var box = document.getElementById("mailout-progress");
  if (!box || (box.dataset.status !== "sending" && box.dataset.status !== "starting")) return;
  var bar = box.querySelector("progress");
  function tick() {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
      ["sent", "failed", "remaining", "total", "rate", "eta"].forEach(function (k) {
        var el = box.querySelector('[data-k="' + k + '"]');
        if (el) el.textContent = p[k];
      });
      bar.max = p.total || 1; bar.value = p.sent + p.failed;
      if (p.status === box.dataset.status) setTimeout(tick, 2000); else window.location.reload();  // started, finished, paused…
    }).catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2000);
})();
