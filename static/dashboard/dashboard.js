/* The executive dashboard's charts (/dashboard/). Every <canvas data-chart="ID"> is drawn from the JSON in
   <script type="application/json" id="ID">:
     {"type": "bar" | "hbar" | "line" | "doughnut", "stacked": false, "labels": [...], "unit": "m²", "decimals": 0,
      "max": 100 | null, "datasets": [{"label": "Planned", "data": [123.4, null], "unit": "m²"}]}
   Labels and units arrive translated and formatted by the server; numbers are formatted here in the page's language.
   A dataset's "unit" overrides the chart's in tooltips.

   The canvases are aria-hidden: the table under each chart is its text alternative. Charts never animate, because
   pages are screenshotted and printed; before printing they are redrawn at the print size that dashboard.css gives
   (--print-chart-width/-height), and afterwards at the screen's. When done, window.innopoleCharts.count and
   <html data-charts-drawn> say how many charts were drawn, so browser tests can wait for them. The width of every
   headline meter comes from its data-pct here, since the CSP forbids style attributes in the markup; and a
   <button data-print> prints the page, since it forbids inline handlers too. */
(function () {
  "use strict";

  // Okabe–Ito, told apart by every kind of colour vision; the first five meet 3:1 against white.
  const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#000000", "#e69f00", "#56b4e9", "#f0e442"];
  // Line charts: colour is never the only way to tell two series apart.
  const POINT_STYLES = ["circle", "rect", "triangle", "rectRot", "crossRot", "star", "rectRounded", "cross"];
  const DASHES = [[], [8, 4], [2, 3], [12, 4, 2, 4], [4, 4], [1, 5], [16, 4], [6, 2, 2, 2]];
  const INK = "#1b1f24";
  const GRID = "#dde3e8";
  const PRINT_PIXEL_RATIO = 3; // sharp on paper without huge bitmaps
  const FONT_PX = 13;
  // Bar labels longer than this wrap at spaces: narrow under vertical bars, two lines a row beside horizontal ones.
  const WRAP_CHARS = { bar: 16, hbar: 24 };
  const LEGEND_GAP_PX = 8;
  const POINT_RADIUS_PX = 4;
  const MARKERS_PER_LINE = 12; // a long series (a year of days) shows its point style this often, not at every day
  // A horizontal bar chart with many categories grows taller than its box, so that every name keeps its row.
  const HBAR_ROW_PX = 34;
  const HBAR_AXES_PX = 70;

  // Chart.js has no legend margin: without one, the value axis's top label touches the legend above it.
  const legendGap = {
    id: "legendGap",
    beforeInit(chart) {
      const fit = chart.legend.fit;
      chart.legend.fit = function fitWithGap() {
        fit.call(this);
        if (this.options.display) this.height += LEGEND_GAP_PX;
      };
    },
  };

  const lang = document.documentElement.lang || undefined;

  function numberFormat(options) {
    try {
      return new Intl.NumberFormat(lang, options);
    } catch (error) {
      return new Intl.NumberFormat(undefined, options); // an unknown lang attribute: the browser's own language
    }
  }

  function withUnit(text, unit) {
    if (!unit) return text;
    return unit === "%" ? `${text}%` : `${text} ${unit}`;
  }

  /* A category label as lines broken at spaces, so that long phase names are neither skipped nor turned on end. */
  function wrapLabel(label, chars) {
    const text = String(label);
    if (text.length <= chars || !text.includes(" ")) return text;
    const lines = [];
    let line = "";
    text.split(" ").forEach((word) => {
      if (line && line.length + 1 + word.length > chars) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    });
    lines.push(line);
    return lines;
  }

  /* The radius of each point of a line: markers spread evenly over the values present, none on the gaps. */
  function markerRadii(data) {
    const present = data.filter((value) => value !== null).length;
    const every = Math.max(1, Math.ceil(present / MARKERS_PER_LINE));
    let seen = 0;
    return data.map((value) => {
      if (value === null) return 0;
      seen += 1;
      return (seen - 1) % every === 0 ? POINT_RADIUS_PX : 0;
    });
  }

  function datasetsFor(spec) {
    return spec.datasets.map((dataset, index) => {
      const base = { label: dataset.label, data: dataset.data, unit: dataset.unit || spec.unit };
      if (spec.type === "doughnut") {
        return {
          ...base,
          backgroundColor: dataset.data.map((_, point) => PALETTE[point % PALETTE.length]),
          borderColor: "#ffffff",
          borderWidth: 2,
        };
      }
      const colour = PALETTE[index % PALETTE.length];
      if (spec.type === "line") {
        return {
          ...base,
          borderColor: colour,
          backgroundColor: colour,
          borderWidth: 2,
          borderDash: DASHES[index % DASHES.length],
          pointStyle: POINT_STYLES[index % POINT_STYLES.length],
          pointRadius: markerRadii(dataset.data),
          pointHoverRadius: POINT_RADIUS_PX + 2,
          spanGaps: true,
        };
      }
      // Stacked segments are parted by a white line so that neighbouring colours never merge.
      return { ...base, backgroundColor: colour, borderColor: "#ffffff", borderWidth: spec.stacked ? 1 : 0 };
    });
  }

  function optionsFor(spec) {
    const decimals = Number.isInteger(spec.decimals) ? spec.decimals : 0;
    const exact = numberFormat({ minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    const tick = numberFormat({ maximumFractionDigits: decimals });
    const share = numberFormat({ style: "percent", maximumFractionDigits: 1 });
    const line = spec.type === "line";
    const multiple = spec.type === "doughnut" ? spec.labels.length > 1 : spec.datasets.length > 1;

    function tooltipLabel(context) {
      const value = context.raw;
      const dataset = context.dataset;
      let text = withUnit(exact.format(value), dataset.unit);
      if (spec.type === "doughnut") {
        const total = dataset.data.reduce((sum, point) => sum + (point || 0), 0);
        return total ? `${text} (${share.format(value / total)})` : text; // the segment's name is the title
      }
      return dataset.label ? `${dataset.label}: ${text}` : text;
    }

    const options = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      locale: lang,
      plugins: {
        legend: {
          display: multiple,
          position: spec.type === "doughnut" ? "bottom" : "top",
          align: "start",
          // A line's key is its point's shape (Chart.js draws a circle √2 times the box, hence the smaller box).
          labels: line
            ? { usePointStyle: true, boxHeight: 9, padding: 12 }
            : { boxWidth: 12, boxHeight: 12, padding: 12 },
        },
        tooltip: {
          usePointStyle: line,
          filter: (item) => item.raw !== null && item.raw !== undefined,
          callbacks: { label: tooltipLabel },
        },
      },
    };
    if (spec.type === "doughnut") return { ...options, cutout: "55%" };

    const horizontal = spec.type === "hbar";
    const valueAxis = {
      beginAtZero: true,
      stacked: Boolean(spec.stacked) && spec.type !== "line",
      grid: { color: GRID },
      border: { display: false },
      ticks: { precision: decimals, callback: (value) => tick.format(value) },
      title: { display: Boolean(spec.unit), text: spec.unit || "" },
    };
    if (spec.max !== null && spec.max !== undefined) valueAxis.max = spec.max;
    const categoryAxis = {
      stacked: valueAxis.stacked,
      grid: { display: false },
      // Names are wrapped; under vertical bars they are turned, then thinned out, only when they still don't fit;
      // beside horizontal bars every one is kept (the chart grows instead). A time axis thins out its dates upright.
      ticks: line
        ? { autoSkip: true, autoSkipPadding: 10, maxRotation: 0 }
        : {
            autoSkip: !horizontal,
            callback(value) {
              return wrapLabel(this.getLabelForValue(value), WRAP_CHARS[spec.type]);
            },
          },
    };
    return {
      ...options,
      indexAxis: horizontal ? "y" : "x",
      interaction: { mode: "index", intersect: false, axis: horizontal ? "y" : "x" },
      scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
    };
  }

  function minHeightPx(spec) {
    return spec.type === "hbar" ? spec.labels.length * HBAR_ROW_PX + HBAR_AXES_PX : 0;
  }

  /* The chart drawn on the canvas, and the least height it needs; null when its data is missing or unreadable. */
  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) {
      console.error(`dashboard: no chart data #${canvas.dataset.chart}`);
      return null;
    }
    try {
      const spec = JSON.parse(source.textContent);
      const minHeight = minHeightPx(spec);
      if (minHeight > canvas.parentNode.clientHeight) canvas.parentNode.style.height = `${minHeight}px`;
      const chart = new window.Chart(canvas, {
        type: spec.type === "hbar" ? "bar" : spec.type,
        data: { labels: spec.labels, datasets: datasetsFor(spec) },
        options: optionsFor(spec),
        plugins: [legendGap],
      });
      return { chart, minHeight };
    } catch (error) {
      console.error(`dashboard: chart #${canvas.dataset.chart} not drawn`, error);
      return null;
    }
  }

  /* The chart box's size on paper, measured from dashboard.css's custom properties (it can't be read from the
     layout before printing starts). */
  function printSize(drawn) {
    const probe = document.createElement("div");
    probe.style.position = "absolute";
    probe.style.visibility = "hidden";
    probe.style.width = "var(--print-chart-width)";
    probe.style.height = "var(--print-chart-height)";
    (drawn[0].chart.canvas.closest(".dashboard") || document.body).appendChild(probe);
    const size = { width: probe.offsetWidth, height: probe.offsetHeight };
    probe.remove();
    return size;
  }

  function followPrinting(drawn) {
    let printing = false;
    function beforePrint() {
      if (printing || !drawn.length) return;
      printing = true;
      const { width, height } = printSize(drawn);
      if (!width || !height) return;
      drawn.forEach(({ chart, minHeight }) => {
        chart.options.devicePixelRatio = PRINT_PIXEL_RATIO;
        chart.resize(width, Math.max(height, minHeight));
      });
    }
    function afterPrint() {
      if (!printing) return;
      printing = false;
      drawn.forEach(({ chart }) => {
        chart.options.devicePixelRatio = undefined;
        chart.resize();
      });
    }
    // Browsers differ in which of the two they announce (and when), so both are heard; the flag keeps it once.
    window.addEventListener("beforeprint", beforePrint);
    window.addEventListener("afterprint", afterPrint);
    window.matchMedia("print").addEventListener("change", (event) => (event.matches ? beforePrint() : afterPrint()));
  }

  function fillMeters() {
    document.querySelectorAll(".meter-bar[data-pct]").forEach((bar) => {
      const pct = Number.parseFloat(bar.dataset.pct);
      bar.style.width = `${Number.isFinite(pct) ? Math.min(100, Math.max(0, pct)) : 0}%`;
    });
  }

  function start() {
    fillMeters();
    document.querySelectorAll("button[data-print]").forEach((button) => {
      button.addEventListener("click", () => window.print());
    });
    let drawn = [];
    if (window.Chart) {
      const font = window.getComputedStyle(document.body).fontFamily;
      window.Chart.defaults.font.family = font;
      window.Chart.defaults.font.size = FONT_PX;
      window.Chart.defaults.color = INK;
      drawn = Array.from(document.querySelectorAll("canvas[data-chart]"), draw).filter(Boolean);
      followPrinting(drawn);
    } else {
      console.error("dashboard: Chart.js is not loaded");
    }
    window.innopoleCharts = { count: drawn.length };
    document.documentElement.dataset.chartsDrawn = String(drawn.length);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
