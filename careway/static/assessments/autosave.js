// Save as you go on a tablet with a weak signal: when an autosave cannot reach the server, say
// so, keep the answers on the page, and send them again as soon as the connection is back (or at
// the next change). Nothing typed is thrown away by a failed request.
//
// Nor by the idle timeout: every answer typed and not yet saved is also kept in this browser's
// localStorage, under "careway:draft:<user>:<this section's address>", as it is typed. When the
// session ends (the idle warning's time ran out, or a save was answered with the sign-in page),
// the person signs in again and comes back here; the answers they had typed are put back and
// saved, against the versions they were typed on, so a section changed elsewhere meanwhile is a
// conflict and not an overwrite (if the versions differ the answers are put back for the person
// to check and save). Only unsent answers are kept: each is removed once a save carried it, the
// whole draft on signing out and after a day (careway/static/careway/session.js).
(function () {
  "use strict";
  var DRAFTS = "careway:draft:";
  function status(text, problem) {
    var el = document.getElementById("save-status");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("save-problem", !!problem);
  }
  function retry(form) {
    if (window.htmx && form) window.htmx.trigger(form, "change");
  }
  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.assessment-form[hx-post]");
    if (!form) return;
    var pending = false;
    // Answers changed on this page, and how many of those changes the last good save carried:
    // a change waits 400 ms (hx-trigger delay) before it is sent, and leaving the page in that
    // time, or while the save is on its way, would drop it without a word.
    var changes = 0, saved = 0, submitting = false, leaving = false;
    // The draft: each answer typed since its last save, by input name, with the edit's number.
    var user = document.body.getAttribute("data-user");
    var key = user ? DRAFTS + user + ":" + window.location.pathname : null;
    var edits = 0, unsent = {};

    function answerInputs(name) {
      return Array.prototype.filter.call(form.elements, function (el) {
        return el.name === name && el.type !== "hidden";
      });
    }
    function valuesOf(name) {
      var values = [];
      answerInputs(name).forEach(function (el) {
        if (el.type === "radio" || el.type === "checkbox") { if (el.checked) values.push(el.value); }
        else values.push(el.value);
      });
      return values;
    }
    function putBack(name, values) {
      var i = 0;
      answerInputs(name).forEach(function (el) {
        if (el.type === "radio" || el.type === "checkbox") el.checked = values.indexOf(el.value) !== -1;
        else el.value = i < values.length ? values[i++] : "";
      });
    }
    function versions() {
      var found = {};
      Array.prototype.forEach.call(form.querySelectorAll("input[type=hidden][name$=':version']"),
        function (el) { found[el.name] = el.value; });
      return found;
    }
    function keepDraft(extra) {
      var store = storage();
      if (!store || !key) return;
      var names = Object.keys(unsent);
      try {
        if (!names.length) { store.removeItem(key); return; }
        var answers = {};
        names.forEach(function (name) { answers[name] = valuesOf(name); });
        var draft = { saved_at: Date.now(), versions: versions(), answers: answers };
        if (extra) Object.keys(extra).forEach(function (k) { draft[k] = extra[k]; });
        store.setItem(key, JSON.stringify(draft));
      } catch (e) { /* full or blocked: the answers stay on the page */ }
    }
    function noteEdit(event) {
      var el = event.target;
      if (!el || !el.name || el.type === "hidden" || el.form !== form) return;
      unsent[el.name] = ++edits;
      keepDraft();
    }
    function restoreDraft() {
      var store = storage(), draft = null;
      if (!store || !key) return;
      try { draft = JSON.parse(store.getItem(key) || "null"); } catch (e) { draft = null; }
      if (!draft || !draft.answers) return;
      var differ = Object.keys(draft.answers).filter(function (name) {
        return answerInputs(name).length
          && JSON.stringify(valuesOf(name)) !== JSON.stringify(draft.answers[name]);
      });
      if (!differ.length) { store.removeItem(key); return; } // the server has them all
      var current = versions();
      var sameVersions = Object.keys(draft.versions || {}).every(function (name) {
        return current[name] === draft.versions[name];
      });
      differ.forEach(function (name) {
        putBack(name, draft.answers[name]);
        unsent[name] = ++edits;
        var first = answerInputs(name)[0];
        // Questions shown only after some answers (enable-when.js) follow the restored ones.
        first.dispatchEvent(new Event("input", { bubbles: true }));
      });
      keepDraft();
      var count = differ.length === 1 ? "1 answer" : differ.length + " answers";
      if (sameVersions) {
        changes++;
        status("Put back " + count + " you typed before you were signed out; saving now.");
        retry(form);
      } else {
        status("Put back " + count + " you typed before you were signed out. This section " +
          "was saved on another device since: check the answers, then save.", true);
      }
    }

    form.addEventListener("input", noteEdit);
    form.addEventListener("change", noteEdit);
    form.addEventListener("change", function () { changes++; });
    form.addEventListener("submit", function () {
      submitting = true; // the answers go with it
      // Kept until the next page shows they arrived (a session that ended answers with the
      // sign-in page instead, and the draft brings them back).
      keepDraft({ submitted: true });
    });
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      event.detail.requestConfig.carriesChanges = changes;
      event.detail.requestConfig.carriesEdits = edits;
    });
    document.body.addEventListener("htmx:beforeOnLoad", function (event) {
      // A save after the session ended is answered with the way to the sign-in page; the
      // draft keeps the answers, so no "leave the page?" question stands in the way.
      var xhr = event.detail.xhr;
      if (xhr && xhr.getResponseHeader("HX-Redirect")) leaving = true;
    });
    document.addEventListener("careway:signing-out", function () { leaving = true; keepDraft(); });
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
      if (event.detail.xhr && event.detail.xhr.status === 403) {
        // The page's security token is stale (signed in again in another tab): sending again
        // cannot help; a reload gets a fresh one and the draft puts the answers back.
        status("Not saved: this page is out of date because you signed in again. Reload the " +
          "page: your answers are kept on this device and come back.", true);
        leaving = !!(storage() && key); // the draft has them: reloading need not ask
        return;
      }
      pending = true;
      status("Not saved: the server did not answer. Your answers stay on this page; they are sent again in a moment.", true);
      window.setTimeout(function () { retry(form); }, 5000);
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (!event.detail.successful || leaving) return;
      var xhr = event.detail.xhr;
      if (xhr && xhr.getResponseHeader("HX-Redirect")) return;
      pending = false;
      saved = Math.max(saved, event.detail.requestConfig.carriesChanges || 0);
      var carried = event.detail.requestConfig.carriesEdits || 0;
      Object.keys(unsent).forEach(function (name) {
        if (unsent[name] <= carried) delete unsent[name];
      });
      keepDraft();
    });
    window.addEventListener("online", function () { if (pending) retry(form); });
    window.addEventListener("beforeunload", function (event) {
      if (submitting || leaving) return;
      if (pending || changes > saved) { event.preventDefault(); event.returnValue = ""; }
    });
    restoreDraft();
  });
})();
