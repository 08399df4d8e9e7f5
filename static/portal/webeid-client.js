/*
 * Web eID page-side client — our own small implementation of the message protocol
 * between a web page and the Web eID browser extension (see docs/webeid.md).
 *
 * The page talks to the extension's content script with window.postMessage:
 *
 *   page      -> {action: "web-eid:authenticate", libraryVersion, challengeNonce, options}
 *   extension -> {action: "web-eid:authenticate-ack"}        (within about a second)
 *   extension -> {action: "web-eid:authenticate-success", unverifiedCertificate,
 *                 algorithm, signature, format, appVersion}
 *             or {action: "web-eid:authenticate-failure", error: {code, message}}
 *
 * "web-eid:status" works the same way and answers with the versions. No ack in time
 * means there is no extension; no final answer in time means the user did not act.
 *
 * Exposed as window.OpenEidWebEid = {authenticate, status, ErrorCode}. No dependencies,
 * no inline code: it is loaded as a static file under the site's CSP.
 */
(function (global) {
  "use strict";

  var PREFIX = "web-eid:";
  // The protocol version we speak; the extension refuses an incompatible major version.
  var LIBRARY_VERSION = "2.0.0";
  var ACK_TIMEOUT_MS = 2000;
  var NATIVE_APP_TIMEOUT_MS = 5000;
  var USER_TIMEOUT_MS = 2 * 60 * 1000;
  // Give the browser a moment to inject the extension's content script after load.
  var EXTENSION_LOAD_DELAY_MS = 1000;
  var loadedAt = Date.now();

  var ErrorCode = Object.freeze({
    EXTENSION_UNAVAILABLE: "ERR_WEBEID_EXTENSION_UNAVAILABLE",
    ACTION_TIMEOUT: "ERR_WEBEID_ACTION_TIMEOUT",
    ACTION_PENDING: "ERR_WEBEID_ACTION_PENDING",
    CONTEXT_INSECURE: "ERR_WEBEID_CONTEXT_INSECURE",
    MISSING_PARAMETER: "ERR_WEBEID_MISSING_PARAMETER",
    USER_CANCELLED: "ERR_WEBEID_USER_CANCELLED",
    UNKNOWN: "ERR_WEBEID_UNKNOWN_ERROR"
  });

  var pending = {}; // initial action -> {resolve, reject, ackTimer, replyTimer}

  function webEidError(code, message) {
    var error = new Error(message || code);
    error.code = code;
    return error;
  }

  function fromExtension(error) {
    if (error && typeof error.code === "string") {
      return webEidError(error.code, typeof error.message === "string" ? error.message : "");
    }
    return webEidError(ErrorCode.UNKNOWN, "The extension reported an unknown error.");
  }

  function finish(action) {
    var entry = pending[action];
    if (entry) {
      clearTimeout(entry.ackTimer);
      clearTimeout(entry.replyTimer);
      delete pending[action];
    }
    return entry;
  }

  global.addEventListener("message", function (event) {
    // The content script posts into this very window, with this page's origin.
    if (event.origin !== global.location.origin) return;
    var data = event.data;
    if (!data || typeof data.action !== "string" || data.action.indexOf(PREFIX) !== 0) return;
    var match = /^(.*)-(ack|success|failure)$/.exec(data.action);
    if (!match || !pending[match[1]]) return;
    if (match[2] === "ack") {
      clearTimeout(pending[match[1]].ackTimer);
      return;
    }
    var entry = finish(match[1]);
    if (match[2] === "success") entry.resolve(data);
    else entry.reject(fromExtension(data.error));
  });

  function delay(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, Math.max(0, ms)); });
  }

  function send(message, timeoutMs) {
    if (pending[message.action]) {
      return Promise.reject(webEidError(ErrorCode.ACTION_PENDING, "Already in progress."));
    }
    if (!global.isSecureContext) {
      return Promise.reject(webEidError(ErrorCode.CONTEXT_INSECURE, "Needs https."));
    }
    return new Promise(function (resolve, reject) {
      var entry = { resolve: resolve, reject: reject };
      entry.ackTimer = setTimeout(function () {
        finish(message.action);
        reject(webEidError(ErrorCode.EXTENSION_UNAVAILABLE, "No Web eID extension answered."));
      }, ACK_TIMEOUT_MS);
      entry.replyTimer = setTimeout(function () {
        finish(message.action);
        reject(webEidError(ErrorCode.ACTION_TIMEOUT, "No answer in time."));
      }, timeoutMs);
      pending[message.action] = entry;
      global.postMessage(message, global.location.origin);
    });
  }

  function status() {
    return delay(loadedAt + EXTENSION_LOAD_DELAY_MS - Date.now()).then(function () {
      return send(
        { action: "web-eid:status", libraryVersion: LIBRARY_VERSION },
        ACK_TIMEOUT_MS + NATIVE_APP_TIMEOUT_MS
      );
    }).then(function (reply) {
      return { library: LIBRARY_VERSION, extension: reply.extension, nativeApp: reply.nativeApp };
    });
  }

  /** Ask the card to sign the origin and challengeNonce; resolves with the token. */
  function authenticate(challengeNonce, options) {
    if (!challengeNonce) {
      return Promise.reject(webEidError(ErrorCode.MISSING_PARAMETER, "challengeNonce"));
    }
    options = options || {};
    var userTimeout = options.userInteractionTimeout || USER_TIMEOUT_MS;
    return delay(loadedAt + EXTENSION_LOAD_DELAY_MS - Date.now()).then(function () {
      return send(
        {
          action: "web-eid:authenticate",
          libraryVersion: LIBRARY_VERSION,
          challengeNonce: challengeNonce,
          options: options
        },
        ACK_TIMEOUT_MS + NATIVE_APP_TIMEOUT_MS + userTimeout
      );
    }).then(function (reply) {
      return {
        unverifiedCertificate: reply.unverifiedCertificate,
        algorithm: reply.algorithm,
        signature: reply.signature,
        format: reply.format,
        appVersion: reply.appVersion
      };
    });
  }

  global.OpenEidWebEid = Object.freeze({
    authenticate: authenticate,
    status: status,
    ErrorCode: ErrorCode
  });
})(window);
