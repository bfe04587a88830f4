// A "Print" button (data-print) shows only where JavaScript runs, and opens the browser's print.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
