/*
 * TEST ENVIRONMENT ONLY: stands in for the Web eID browser extension.
 *
 * Answers the page's "web-eid:status" and "web-eid:authenticate" messages exactly as
 * the extension would (ack, then success or failure), getting the token from the
 * server's virtual ID-card endpoint instead of a card reader. The page is only served
 * with this script when PORTAL_VIRTUAL_CARD is on, which live mode refuses.
 */
(function () {
  "use strict";
  var form = document.getElementById("webeid-login");
  if (!form || !form.dataset.virtualCardUrl) return;
  var origin = window.location.origin;

  function reply(message) {
    window.postMessage(message, origin);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || !event.data) return;
    var action = event.data.action;
    if (action === "web-eid:status") {
      reply({ action: "web-eid:status-ack" });
      reply({
        action: "web-eid:status-success",
        extension: "virtual-card",
        nativeApp: "virtual-card"
      });
      return;
    }
    if (action !== "web-eid:authenticate") return;
    reply({ action: "web-eid:authenticate-ack" });
    var select = document.getElementById("virtual-card-select");
    fetch(form.dataset.virtualCardUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value
      },
      body: JSON.stringify({
        challengeNonce: event.data.challengeNonce,
        origin: origin,
        card: select ? select.value : ""
      })
    })
      .then(function (response) {
        if (!response.ok) throw new Error("virtual card refused: HTTP " + response.status);
        return response.json();
      })
      .then(function (token) {
        token.action = "web-eid:authenticate-success";
        reply(token);
      })
      .catch(function (error) {
        reply({
          action: "web-eid:authenticate-failure",
          error: { code: "ERR_WEBEID_NATIVE_FATAL", message: String(error.message) }
        });
      });
  });
})();
