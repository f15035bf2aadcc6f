// Copy buttons: copy the value, and say so to screen readers and sighted users alike.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var value = button.dataset.copy;
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        if (status) status.textContent = "Copied " + value;
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(value).then(done, function () { fallback(value); done(); });
      } else { fallback(value); done(); }
    });
  });
  function fallback(value) {
    var area = document.createElement("textarea");
    area.value = value; area.setAttribute("readonly", ""); area.style.position = "absolute";
    area.style.left = "-9999px"; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing else to try */ }
    document.body.removeChild(area);
  }
})();
