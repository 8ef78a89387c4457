// The settings page's preview follows what is typed, before saving: the primary colour with the
// contrast of white text on it (WCAG 2.1, the server checks it again), and the chosen logo.
// The page works without it: the preview then shows the saved values.
(function () {
  var preview = document.querySelector(".brand-preview");
  var colour = document.getElementById("primary_colour");
  var ratioText = document.getElementById("contrast-ratio");
  if (!preview || !colour || !ratioText) return;

  function luminance(hex) {
    var rgb = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }
  function normalise(value) {
    var m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(value.trim());
    if (!m) return null;
    var d = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
    return "#" + d.toLowerCase();
  }
  colour.addEventListener("input", function () {
    var hex = normalise(colour.value);
    if (!hex) return;
    var ratio = 1.05 / (luminance(hex) + 0.05);
    preview.style.backgroundColor = hex;
    var shown = ratio.toFixed(2).replace(".", ",") + ":1";  // shown as the server shows it
    ratioText.textContent = hex + " : " + shown + (Math.floor(ratio * 100) >= 450 ? " ✓" : " ✗ (< 4,5:1)");
    ratioText.parentNode.hidden = false;
  });

  var logo = document.getElementById("logo");
  if (logo && window.FileReader) {
    logo.addEventListener("change", function () {
      var file = logo.files && logo.files[0];
      if (!file || !/^image\/(png|jpeg|webp)$/.test(file.type)) return;
      var reader = new FileReader();
      reader.onload = function () {
        var img = preview.querySelector("img") || document.createElement("img");
        img.src = reader.result;  // a data: URL (the page's policy allows data: images)
        img.alt = logo.dataset.alt || "";
        img.removeAttribute("width");
        if (!img.parentNode) preview.insertBefore(img, preview.firstChild);
        var name = preview.querySelector(".brand-preview-name");
        if (name) name.remove();
      };
      reader.readAsDataURL(file);
    });
  }
})();
