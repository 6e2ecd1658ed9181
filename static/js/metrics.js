// Metrics charts: every <canvas data-chart="ID"> is drawn from the JSON in <script id="ID">
// (weeks, series with values, sample counts and the baseline). Re-drawn after HTMX swaps.
(function () {
  var colours = ["#1f5fbf", "#b3261e", "#2e7d32", "#6b3fa0"];
  var charts = {};

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (typeof data === "string") data = JSON.parse(data);
    if (charts[canvas.dataset.chart]) charts[canvas.dataset.chart].destroy();
    var datasets = [];
    data.series.forEach(function (s, i) {
      var axis = "y" + i;
      datasets.push({ label: s.label, data: s.values, counts: s.counts, yAxisID: axis,
        borderColor: colours[i % colours.length], backgroundColor: colours[i % colours.length], spanGaps: true, tension: 0 });
      if (s.baseline !== null && s.baseline !== undefined) {
        datasets.push({ label: s.label + " — baseline", data: data.weeks.map(function () { return s.baseline; }), yAxisID: axis,
          borderColor: colours[i % colours.length], borderDash: [6, 4], pointRadius: 0, borderWidth: 1 });
      }
    });
    var scales = {};
    data.series.forEach(function (s, i) {
      var axis = s.axis || {};
      scales["y" + i] = { position: i % 2 ? "right" : "left", display: i < 2, title: { display: i < 2, text: s.label },
        beginAtZero: true, min: axis.min, max: axis.max };
    });
    charts[canvas.dataset.chart] = new Chart(canvas, {
      type: "line",
      data: { labels: data.weeks.map(function (w) { return "w/c " + w; }), datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, scales: scales,
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: { callbacks: { afterLabel: function (ctx) {
          var counts = ctx.dataset.counts;
          return counts ? "n = " + counts[ctx.dataIndex] + " tickets" : "";
        } } } }
      }
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
  if (document.readyState !== "loading") drawAll();
})();
