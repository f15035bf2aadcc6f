// Keeps SLA countdowns live without a page reload; the server already rendered the text.
(function () {
  "use strict";
  function human(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    var parts = [];
    if (days) parts.push(days + (days === 1 ? " day" : " days"));
    if (hours) parts.push(hours + " h");
    if (mins && !days) parts.push(mins + " min");
    return parts.join(" ") || "less than a minute";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due), remind = el.dataset.remind ? Date.parse(el.dataset.remind) : null;
      var left = due - now;
      var risky = left >= 0 && remind !== null && remind <= now;
      el.textContent = left < 0 ? "overdue by " + human(left) : (risky ? "at risk: due in " : "due in ") + human(left);
      el.classList.toggle("sla-overdue", left < 0);
      el.classList.toggle("sla-risk", left >= 0 && remind !== null && remind <= now);
      el.classList.toggle("sla-ok", left >= 0 && (remind === null || remind > now));
    });
  }
  tick();
  setInterval(tick, 30000);
})();
