/* The portal's ID-card login: challenge -> Web eID extension -> token -> session. */
(function () {
  "use strict";
  var form = document.getElementById("webeid-login");
  if (!form || !window.OpenEidWebEid) return;
  var statusLine = document.getElementById("webeid-status");
  var button = document.getElementById("webeid-login-button");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function show(message, isError) {
    statusLine.textContent = message;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || form.dataset.msgFailed);
          error.serverMessage = data.message;
          throw error;
        }
        return data;
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    show(form.dataset.msgWorking, false);
    var nonce;
    post(form.dataset.challengeUrl)
      .then(function (challenge) {
        nonce = challenge.challengeNonce;
        return window.OpenEidWebEid.authenticate(nonce, { lang: form.dataset.lang });
      })
      .then(function (token) {
        return post(form.dataset.tokenUrl, {
          authToken: token,
          origin: window.location.origin,
          challengeNonce: nonce,
          next: form.dataset.next
        });
      })
      .then(function (result) {
        show(form.dataset.msgSuccess, false);
        window.location.assign(result.redirect);
      })
      .catch(function (error) {
        var codes = window.OpenEidWebEid.ErrorCode;
        var message = error.serverMessage || form.dataset.msgFailed;
        if (error.code === codes.EXTENSION_UNAVAILABLE) message = form.dataset.msgNoExtension;
        else if (error.code === codes.USER_CANCELLED) message = form.dataset.msgCancelled;
        show(message, true);
        button.disabled = false;
      });
  });
})();
