// The compose page's live preview: a second after the editor stops typing (or ticks an
// article), the draft is saved as the Save button would and the preview, HTML and text, is
// loaded again. Without it the button does the same.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var frame = document.getElementById("preview-html");
  var text = document.getElementById("preview-text");
  var status = document.getElementById("live-status");
  if (!form || !frame || !text) return;
  var timer = null;
  var busy = false;
  var again = false;
  function say(which) {
    if (status) status.textContent = status.getAttribute("data-" + which) || "";
  }
  function refresh() {
    frame.src = frame.getAttribute("data-src") + "?t=" + Date.now();
    return fetch(text.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (res) { return res.text(); })
      .then(function (t) { text.textContent = t; say("saved"); });
  }
  function save() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Live-Preview": "1" }
    })
      .then(function (res) { return res.status === 204 ? refresh() : say("invalid"); })
      .catch(function () { say("failed"); })
      .then(function () {
        busy = false;
        if (again) { again = false; save(); }
      });
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(save, 1000);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
