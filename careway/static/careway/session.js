// The idle warning: a minute before the agency's idle timeout would sign the person out, an
// alert dialog (focus moved to it) offers to stay signed in with one tap. The server keeps the
// clock (careway/core/middleware.py); the page asks it how long is left before warning and
// before leaving, so work in another tab counts. When the time is up the page goes to the
// sign-in page, which brings the person back here afterwards; a "careway:signing-out" event
// first lets the assessment autosave keep what was typed (careway/static/assessments/autosave.js).
//
// Unsent assessment answers are kept in this browser's localStorage under "careway:draft:"; they
// are removed when saved, on signing out, and after the longest a session may last.
(function () {
  "use strict";
  var DRAFTS = "careway:draft:";
  var DRAFT_MAX_AGE = 12 * 3600 * 1000;
  var body = document.body;
  var dialog = document.getElementById("idle-warning");
  if (!body || !dialog || !body.hasAttribute("data-idle-seconds-left")) return;
  var clockUrl = body.getAttribute("data-session-url");
  var loginUrl = body.getAttribute("data-login-url");
  var warnBefore = Number(body.getAttribute("data-idle-warning-seconds")) * 1000;
  var deadline = Date.now() + Number(body.getAttribute("data-idle-seconds-left")) * 1000;
  var stay = dialog.querySelector(".idle-stay");
  var countdown = dialog.querySelector(".idle-countdown");
  var timer = null, ticker = null, returnFocus = null, leaving = false;

  function csrfToken() {
    try { return JSON.parse(body.getAttribute("hx-headers"))["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  // The seconds the server says are left, or null when the session has ended (the answer is
  // then the sign-in page); a failed request (no connection) rejects.
  function askClock(method) {
    var headers = { "Accept": "application/json" };
    if (method === "POST") headers["X-CSRFToken"] = csrfToken();
    return fetch(clockUrl, { method: method, headers: headers, credentials: "same-origin" })
      .then(function (answer) {
        var json = (answer.headers.get("Content-Type") || "").indexOf("json") !== -1;
        if (!answer.ok || answer.redirected || !json) return null;
        return answer.json().then(function (state) { return state.seconds_left; });
      });
  }

  function wait(ms, then) {
    window.clearTimeout(timer);
    timer = window.setTimeout(then, Math.max(0, ms));
  }

  function schedule() {
    wait(deadline - warnBefore - Date.now(), check);
  }

  function check() {
    askClock("GET").then(function (left) {
      if (!left) return signOut();
      deadline = Date.now() + left * 1000;
      if (left * 1000 > warnBefore + 2000) { hide(); schedule(); return; }
      show();
      // Asked again at the end, or sooner: "Stay signed in" tapped in another tab closes this.
      wait(Math.min(left * 1000 + 500, 10000), check);
    }, function () {
      // No connection: go by this page's own clock; the server ends the session on time.
      if (Date.now() >= deadline) return signOut();
      show();
      wait(Math.min(deadline - Date.now() + 500, 15000), check);
    });
  }

  function words(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    if (seconds > 90) return Math.round(seconds / 60) + " minutes";
    return seconds === 1 ? "1 second" : seconds + " seconds";
  }

  function tick() { countdown.textContent = words(deadline - Date.now()); }

  function show() {
    tick();
    window.clearInterval(ticker);
    ticker = window.setInterval(tick, 1000);
    if (dialog.open) return;
    returnFocus = document.activeElement;
    if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
    stay.focus();
  }

  function hide() {
    window.clearInterval(ticker);
    if (!dialog.open) return;
    if (dialog.close) dialog.close(); else dialog.removeAttribute("open");
    if (returnFocus && returnFocus.focus) returnFocus.focus();
  }

  function staySignedIn() {
    stay.disabled = true;
    askClock("POST").then(function (left) {
      stay.disabled = false;
      if (!left) return signOut();
      deadline = Date.now() + left * 1000;
      hide();
      schedule();
    }, function () {
      stay.disabled = false;
      countdown.textContent = words(deadline - Date.now()) + " (no connection: try again)";
    });
  }

  function signOut() {
    if (leaving) return;
    leaving = true;
    window.clearTimeout(timer);
    window.clearInterval(ticker);
    document.dispatchEvent(new CustomEvent("careway:signing-out"));
    var here = window.location.pathname + window.location.search;
    window.location.assign(loginUrl + "?expired=1&next=" + encodeURIComponent(here));
  }

  // Drafts to drop: all of them on signing out; else those older than a session may last, and
  // those sent with their section's form when this page is another (the form arrived: had the
  // session ended, the sign-in would have brought the person back to the section instead).
  function forgetDrafts(all) {
    var now = Date.now(), here = ":" + window.location.pathname;
    for (var i = window.localStorage.length - 1; i >= 0; i--) {
      var key = window.localStorage.key(i);
      if (!key || key.indexOf(DRAFTS) !== 0) continue;
      var draft = {};
      try { draft = JSON.parse(window.localStorage.getItem(key)) || {}; } catch (e) { /* unreadable: drop */ }
      var sent = draft.submitted && key.slice(-here.length) !== here;
      if (all || sent || !(now - (draft.saved_at || 0) < DRAFT_MAX_AGE)) {
        window.localStorage.removeItem(key);
      }
    }
  }

  stay.addEventListener("click", staySignedIn);
  // Escape closes a dialog: the person is there, so that counts as staying too.
  dialog.addEventListener("cancel", function (event) { event.preventDefault(); staySignedIn(); });
  // Signing out (here or everywhere) forgets every unsent answer kept on this device.
  document.addEventListener("submit", function (event) {
    if (event.target && event.target.hasAttribute && event.target.hasAttribute("data-signs-out")) {
      try { forgetDrafts(true); } catch (e) { /* storage blocked: nothing kept */ }
    }
  });
  try { forgetDrafts(false); } catch (e) { /* storage blocked */ }
  schedule();
})();
