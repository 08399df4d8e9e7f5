/* The demo RP's waiting pages: a new QR code every second, and the session's status.
   The backend computes each QR link (it keeps the sessionSecret); this file only shows
   what it answers. No inline script: the pages' CSP allows scripts from 'self' only. */
(function () {
  "use strict";
  var box = document.getElementById("eid-flow");
  if (!box) return;
  var statusLine = document.getElementById("eid-status");
  var qr = document.getElementById("eid-qr");
  var qrBox = document.getElementById("eid-qr-box");
  var vcBox = document.getElementById("eid-vc-box");
  var vc = document.getElementById("eid-vc");
  var retry = document.getElementById("eid-retry");
  var csrf = box.querySelector("input[name=csrfmiddlewaretoken]").value;
  var finished = false;
  var qrTimer = null;

  function show(message, isError) {
    statusLine.textContent = message;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function stopQr() {
    if (qrTimer !== null) window.clearInterval(qrTimer);
    qrTimer = null;
    if (qrBox) qrBox.hidden = true;
  }

  function refreshQr() {
    if (finished) return;
    fetch(box.dataset.qrUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (finished || !data || !data.src) return;
        qr.src = data.src;
        qr.dataset.link = data.link;
      })
      .catch(function () { /* the next second tries again */ });
  }

  function fail(message) {
    finished = true;
    stopQr();
    show(message || box.dataset.msgFailed, true);
    if (retry) {
      retry.hidden = false;
      var link = retry.querySelector("a");
      if (link) link.focus();
    }
  }

  function poll() {
    fetch(box.dataset.statusUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf }
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        var data = answer.data;
        if (data.vc && vc) {
          vc.textContent = data.vc;
          vcBox.hidden = false;
        }
        if (data.qr === false) stopQr();
        if (data.state === "DONE") {
          finished = true;
          stopQr();
          window.location.assign(data.redirect);
          return;
        }
        if (data.state === "FAILED" || !answer.ok) {
          fail(data.message);
          return;
        }
        if (data.message) show(data.message, false);
        window.setTimeout(poll, 200);
      })
      .catch(function () {
        if (!finished) window.setTimeout(poll, 2000);
      });
  }

  if (qr && box.dataset.qrUrl) qrTimer = window.setInterval(refreshQr, 1000);
  poll();
})();
