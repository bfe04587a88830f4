// The agreement's signature pad: pointer events (finger, stylus, mouse) draw strokes on a
// canvas whose own size is the 600 x 200 pad the server checks; each stroke is kept as
// [[x, y], ...] in the pad's coordinates, whatever size the canvas is shown at, and the whole
// signature is written to the hidden field as JSON on every change. Clear empties both.
(function () {
  "use strict";

  function setUp(canvas) {
    var field = document.getElementById(canvas.dataset.target);
    if (!field) return;
    var context = canvas.getContext("2d");
    var strokes = [];
    var current = null;

    try {
      var saved = JSON.parse(field.value || "[]");
      if (Array.isArray(saved)) strokes = saved.filter(Array.isArray);
    } catch (error) {
      strokes = [];
    }

    function padPoint(event) {
      var box = canvas.getBoundingClientRect();
      var x = ((event.clientX - box.left) * canvas.width) / box.width;
      var y = ((event.clientY - box.top) * canvas.height) / box.height;
      x = Math.min(Math.max(x, 0), canvas.width);
      y = Math.min(Math.max(y, 0), canvas.height);
      return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
    }

    function draw() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      context.lineWidth = 3;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#1b2733";
      strokes.forEach(function (stroke) {
        if (!stroke.length) return;
        context.beginPath();
        context.moveTo(stroke[0][0], stroke[0][1]);
        stroke.forEach(function (point) {
          context.lineTo(point[0], point[1]);
        });
        if (stroke.length === 1) context.lineTo(stroke[0][0] + 0.1, stroke[0][1]);
        context.stroke();
      });
    }

    function save() {
      field.value = strokes.length ? JSON.stringify(strokes) : "";
      var method = document.querySelector('input[name="method"][value="signature"]');
      if (strokes.length && method) method.checked = true;
    }

    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      current = [padPoint(event)];
      strokes.push(current);
      draw();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!current) return;
      event.preventDefault();
      var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      events.forEach(function (each) {
        current.push(padPoint(each));
      });
      draw();
    });
    function end() {
      if (!current) return;
      current = null;
      save();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("lostpointercapture", end);

    var clear = canvas.closest("[data-signature-field]").querySelector("[data-signature-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        strokes = [];
        current = null;
        save();
        draw();
      });
    }
    draw();
  }

  document.querySelectorAll("canvas[data-signature-pad]").forEach(setUp);
})();
