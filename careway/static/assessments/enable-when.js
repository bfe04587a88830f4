// Questions asked only after another answer (FHIR enableWhen): show or hide them as answers
// change. Progressive enhancement: without this script every question shows, with the condition
// written under it, and the server ignores answers to questions the conditions leave out
// (careway/assessments/questionnaires.py evaluates them the same way as the scoring engine).
//
// Each conditional item carries data-enable-when='{"behavior": "all"|"any", "conditions":
// [{"q": input name, "op": "=", "kind": "token"|"number"|"text", "value": ...}]}'.
(function () {
  "use strict";
  var OTHER = ":other";

  function answersIn(root) {
    // name -> the values its inputs hold now; inputs inside a hidden item count as unanswered.
    var found = {};
    var inputs = root.querySelectorAll("input[name], textarea[name], select[name]");
    Array.prototype.forEach.call(inputs, function (el) {
      if (el.type === "hidden" || el.closest("[hidden]")) return;
      var name = el.name;
      if (name.slice(-OTHER.length) === OTHER) name = name.slice(0, -OTHER.length);
      var values = found[name] || (found[name] = []);
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked && el.value !== OTHER) values.push(el.value);
      } else if (el.hasAttribute("data-lines")) {
        el.value.split("\n").forEach(function (line) {
          if (line.trim()) values.push(line.trim());
        });
      } else if (el.value.trim()) {
        values.push(el.value.trim());
      }
    });
    return found;
  }

  function compare(value, op, expected, kind) {
    var a = value, b = expected;
    if (kind === "number") {
      a = parseFloat(value);
      b = Number(expected);
      if (isNaN(a) || isNaN(b)) return false;
    } else {
      a = String(a);
      b = String(b);
    }
    switch (op) {
      case "=": return a === b;
      case "!=": return a !== b;
      case ">": return a > b;
      case "<": return a < b;
      case ">=": return a >= b;
      case "<=": return a <= b;
      default: return false;
    }
  }

  function holds(condition, answers) {
    var given = answers[condition.q] || [];
    if (condition.op === "exists") {
      var wanted = condition.value === true || condition.value === "true";
      return (given.length > 0) === wanted;
    }
    return given.some(function (value) {
      return compare(value, condition.op, condition.value, condition.kind);
    });
  }

  function enabled(el, answers) {
    var rule;
    try {
      rule = JSON.parse(el.getAttribute("data-enable-when"));
    } catch (error) {
      return true; // a rule the page cannot read: show the question rather than hide it
    }
    var results = (rule.conditions || []).map(function (c) { return holds(c, answers); });
    if (!results.length) return true;
    return rule.behavior === "any" ? results.indexOf(true) !== -1 : results.indexOf(false) === -1;
  }

  function refresh(root) {
    var items = root.querySelectorAll("[data-enable-when]");
    // Hiding a question can hide the ones that depend on it: repeat until nothing changes.
    for (var pass = 0; pass <= items.length; pass++) {
      var answers = answersIn(root);
      var changed = false;
      Array.prototype.forEach.call(items, function (el) {
        var on = enabled(el, answers);
        if (el.hidden === on) {
          el.hidden = !on;
          changed = true;
        }
      });
      if (!changed) break;
    }
  }

  function rootOf(el) {
    return el.closest("form") || document.body;
  }

  function pickOther(event) {
    // Writing an "other" answer picks the "Other" radio of that question.
    var of = event.target.getAttribute && event.target.getAttribute("data-other-of");
    if (!of || !event.target.value.trim()) return;
    var radios = rootOf(event.target).querySelectorAll('input[type="radio"][value="' + OTHER + '"]');
    Array.prototype.forEach.call(radios, function (radio) {
      if (radio.name === of) radio.checked = true;
    });
  }

  function onChange(event) {
    if (!event.target || !event.target.closest) return;
    pickOther(event);
    var root = rootOf(event.target);
    if (root.querySelector("[data-enable-when]")) refresh(root);
  }

  function start() {
    var seen = [];
    Array.prototype.forEach.call(document.querySelectorAll("[data-enable-when]"), function (el) {
      var root = rootOf(el);
      if (seen.indexOf(root) !== -1) return;
      seen.push(root);
      root.classList.add("ew-live"); // the written conditions are no longer needed
      refresh(root);
    });
  }

  document.addEventListener("change", onChange);
  document.addEventListener("input", onChange);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  // Parts of the page htmx swaps in get the same treatment.
  document.addEventListener("htmx:afterSettle", start);
})();
