// The digest progress page: polls the counts every two seconds while the digest is out,
// updates the numbers and draws the messages done over time. Without it the page still
// shows the counts of when it was loaded (and a reload link).
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) return;
  var url = box.getAttribute("data-url");
  var points = [];
  var statusTag = document.getElementById("status");
  var shown = statusTag ? statusTag.className : "";
  var started = Date.now();
  function set(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  function draw(total) {
    var line = document.getElementById("line");
    if (!line || points.length === 0) return;
    var span = Math.max(points[points.length - 1].t, 1);
    var top = Math.max(total, 1);
    line.setAttribute("points", points.map(function (p) {
      return (p.t / span * 600).toFixed(1) + "," + (119 - p.done / top * 118).toFixed(1);
    }).join(" "));
  }
  function show(r) {
    var done = r.sent + r.failed + r.skipped;
    set("percent", r.percent + "%");
    var bar = document.getElementById("bar");
    if (bar) bar.value = r.percent;
    set("n-sent", r.sent);
    set("n-failed", r.failed);
    set("n-retrying", r.retrying);
    set("n-pending", r.pending);
    set("n-skipped", r.skipped);
    set("total", r.total);
    set("rate", r.rate === null ? "—" : r.rate);
    set("left", r.seconds_left === null ? "—" : r.seconds_left + " s");
    points.push({ t: (Date.now() - started) / 1000, done: done });
    draw(r.total);
    // A new state brings other actions (resume, retry...): the page is drawn again for it.
    if (statusTag && "tag digest-" + r.status !== shown) {
      var label = statusTag.getAttribute("data-" + r.status);
      if (label) statusTag.textContent = label;
      statusTag.className = "tag digest-" + r.status;
      setTimeout(function () { window.location.reload(); }, 1000);
      return false;
    }
    return r.status === "sending" || r.status === "scheduled";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (r) {
        if (r && show(r)) setTimeout(poll, 2000);
        else if (!r) setTimeout(poll, 5000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
