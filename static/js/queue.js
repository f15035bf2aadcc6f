// Keyboard for play lists: j/k move, o or Enter open, s start with the drafted email,
// / search, ? help. Keys are ignored while typing in a field.
(function () {
  "use strict";
  var list = document.querySelector("[data-keyboard-list]");
  var help = document.getElementById("shortcut-help");
  var helpButton = document.getElementById("shortcut-help-open");
  if (!list) return;
  var rows = Array.prototype.slice.call(list.querySelectorAll("li.play"));
  var current = -1;

  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) {
      row.classList.toggle("selected", i === current);
      if (i === current) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    var link = rows[current].querySelector("h3 a");
    if (link) link.focus();
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function toggleHelp() {
    if (!help) return;
    help.hidden = !help.hidden;
    if (helpButton) helpButton.setAttribute("aria-expanded", String(!help.hidden));
    if (!help.hidden) help.scrollIntoView({ block: "nearest" });
  }
  if (helpButton) helpButton.addEventListener("click", toggleHelp);

  // A row gets selected when focus moves into it (mouse or Tab), so keys act on it.
  rows.forEach(function (row, i) {
    row.addEventListener("focusin", function () {
      current = i;
      rows.forEach(function (r, j) { r.classList.toggle("selected", j === i); });
    });
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable);
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    var row = current >= 0 ? rows[current] : null;
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current < 0 ? 0 : current - 1); break;
      case "o":
        if (row) window.location.href = row.dataset.href; else return;
        break;
      case "Enter":
        if (row && target === document.body) window.location.href = row.dataset.href; else return;
        break;
      case "s":
        var start = row && row.querySelector("form.quick-start");
        if (start) start.submit(); else return;
        break;
      case "/":
        var search = document.getElementById("q");
        if (search) search.focus(); else return;
        break;
      case "?": toggleHelp(); break;
      default: return;
    }
    event.preventDefault();
  });
})();
