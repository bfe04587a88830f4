// Save as you go on a tablet with a weak signal: when an autosave cannot reach the server, say
// so, keep the answers on the page, and send them again as soon as the connection is back (or at
// the next change). Nothing typed is thrown away by a failed request.
(function () {
  "use strict";
  function status(text, problem) {
    var el = document.getElementById("save-status");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("save-problem", !!problem);
  }
  function retry(form) {
    if (window.htmx && form) window.htmx.trigger(form, "change");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.assessment-form[hx-post]");
    if (!form) return;
    var pending = false;
    // Answers changed on this page, and how many of those changes the last good save carried:
    // a change waits 400 ms (hx-trigger delay) before it is sent, and leaving the page in that
    // time, or while the save is on its way, would drop it without a word.
    var changes = 0, saved = 0, submitting = false;
    form.addEventListener("change", function () { changes++; });
    form.addEventListener("submit", function () { submitting = true; }); // the answers go with it
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      event.detail.requestConfig.carriesChanges = changes;
    });
    document.body.addEventListener("htmx:sendError", function () {
      pending = true;
      status("Not saved: no connection. Your answers stay on this page and are sent when the connection returns.", true);
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      if (event.detail.xhr && event.detail.xhr.status === 409) {
        // The server's reply says what happened (changed on another device); show it as it is.
        var reply = event.detail.xhr.responseText;
        var holder = document.createElement("div");
        holder.innerHTML = reply;
        var line = holder.querySelector("#save-status");
        status(line ? line.textContent : "Not saved: changed on another device.", true);
        return;
      }
      pending = true;
      status("Not saved: the server did not answer. Your answers stay on this page; they are sent again in a moment.", true);
      window.setTimeout(function () { retry(form); }, 5000);
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (!event.detail.successful) return;
      pending = false;
      saved = Math.max(saved, event.detail.requestConfig.carriesChanges || 0);
    });
    window.addEventListener("online", function () { if (pending) retry(form); });
    window.addEventListener("beforeunload", function (event) {
      if (submitting) return;
      if (pending || changes > saved) { event.preventDefault(); event.returnValue = ""; }
    });
  });
})();
