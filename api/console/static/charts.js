// Draws each dashboard chart from the figure the server embedded as JSON (no inline script:
// the console's Content-Security-Policy allows scripts from the console itself only).
document.addEventListener("DOMContentLoaded", () => {
  for (const plot of document.querySelectorAll("[data-figure]")) {
    const figure = JSON.parse(document.getElementById(plot.dataset.figure).textContent);
    Plotly.newPlot(plot, figure.data, figure.layout, { displaylogo: false, responsive: true });
  }
});
