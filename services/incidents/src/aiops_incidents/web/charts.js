// Small SVG charts drawn by hand: a bar chart (counts per period) and a time-series chart
// with a baseline band and shaded anomaly spans. No library: a few scales and paths suffice.

import { svg, px } from "./dom.js";
import { formatClock } from "./format.js";

/** Round tick values from 0 to at least `max`: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(max, count = 4, { integers = false } = {}) {
  const top = max > 0 && Number.isFinite(max) ? max : 1;
  const rough = top / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) || 10 * power;
  if (integers) step = Math.max(1, Math.ceil(step));
  const ticks = [];
  for (let value = 0; value < top + step * 0.999; value += step) {
    ticks.push(Number(value.toPrecision(12)));
    if (ticks.length > 12) break;
  }
  return ticks;
}

const MINUTE = 60000;
// Time-axis tick intervals in minutes; the smallest that gives at most six ticks is used.
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];

function timeTicks(from, until) {
  const spanMin = (until - from) / MINUTE;
  const stepMin = TIME_STEPS.find((s) => spanMin / s <= 6) || 1440;
  const step = stepMin * MINUTE;
  // Ticks fall on whole local minutes/hours: shift by the time zone before rounding.
  const offset = new Date(from).getTimezoneOffset() * MINUTE;
  const ticks = [];
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= until; t += step) ticks.push(t);
  return ticks;
}

function axisLabel(x, y, text, anchor = "end") {
  return svg("text", { x: px(x), y: px(y), "text-anchor": anchor, class: "axis-label" }, text);
}

/** An empty chart: the svg with its accessible name, and the y axis' grid lines and labels. */
function chartFrame({ width, height, margin, ariaLabel, ticks, y, formatTick }) {
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": ariaLabel,
    preserveAspectRatio: "xMidYMid meet",
  });
  root.append(svg("title", {}, ariaLabel));
  for (const tick of ticks) {
    root.append(
      svg("line", { x1: margin.left, x2: width - margin.right, y1: px(y(tick)), y2: px(y(tick)), class: "grid" }),
      axisLabel(margin.left - 6, y(tick) + 4, formatTick(tick)),
    );
  }
  return root;
}

/**
 * A bar chart. bars: [{label, value, title}], label shown under every `labelEvery`-th bar.
 */
export function barChart({ bars, ariaLabel, width = 720, height = 200, labelEvery = 3 }) {
  const margin = { left: 40, right: 10, top: 12, bottom: 28 };
  const innerW = width - margin.left - margin.right;
  const innerH = height - margin.top - margin.bottom;
  const max = Math.max(0, ...bars.map((b) => Number(b.value) || 0));
  const ticks = niceTicks(Math.max(max, 1), 4, { integers: true });
  const yMax = ticks[ticks.length - 1] || 1;
  const y = (v) => margin.top + innerH - (v / yMax) * innerH;
  const slot = innerW / Math.max(bars.length, 1);
  const root = chartFrame({ width, height, margin, ariaLabel, ticks, y, formatTick: String });
  bars.forEach((bar, i) => {
    const value = Math.max(0, Number(bar.value) || 0);
    const x = margin.left + i * slot + slot * 0.15;
    const barTop = y(value);
    root.append(
      svg(
        "rect",
        {
          x: px(x),
          y: px(barTop),
          width: px(slot * 0.7, { min: 0 }),
          height: px(margin.top + innerH - barTop, { min: 0 }),
          class: "bar",
        },
        svg("title", {}, bar.title || `${bar.label}: ${value}`),
      ),
    );
    if (i % labelEvery === 0) root.append(axisLabel(x + slot * 0.35, height - 10, bar.label, "middle"));
  });
  root.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: margin.top + innerH, y2: margin.top + innerH, class: "axis" }));
  return root;
}

/**
 * A time-series chart.
 *   points: [{t (ms), value (number|null), band: [lo, hi] | null}]
 *   spans:  [{from (ms), to (ms), label, title}] shaded, e.g. anomalies
 *   formatTick: value -> axis text with its unit
 *   floor: the smallest top of the y axis (so a flat zero line is not blown up)
 *   gapMs: points further apart than this are not joined (a minute without requests has no point)
 */
export function timeChart({ points, from, until, spans = [], markers = [], formatTick, floor = 1, gapMs = 1.5 * MINUTE, ariaLabel, width = 360, height = 190 }) {
  const margin = { left: 56, right: 10, top: 16, bottom: 26 };
  const innerW = width - margin.left - margin.right;
  const innerH = height - margin.top - margin.bottom;
  const values = [];
  for (const p of points) {
    if (Number.isFinite(p.value)) values.push(p.value);
    if (p.band) values.push(...p.band.filter(Number.isFinite));
  }
  const ticks = niceTicks(Math.max(floor, ...values), 4);
  const yMax = ticks[ticks.length - 1] || 1;
  const span = Math.max(until - from, MINUTE);
  const x = (t) => margin.left + ((t - from) / span) * innerW;
  const y = (v) => margin.top + innerH - (Math.max(0, v) / yMax) * innerH;
  const clampX = (t) => Math.min(margin.left + innerW, Math.max(margin.left, x(t)));

  const root = chartFrame({ width, height, margin, ariaLabel, ticks, y, formatTick });
  for (const t of timeTicks(from, until)) {
    root.append(
      svg("line", { x1: px(x(t)), x2: px(x(t)), y1: margin.top + innerH, y2: margin.top + innerH + 4, class: "axis" }),
      axisLabel(x(t), height - 8, formatClock(new Date(t)), "middle"),
    );
  }

  // Anomalies first, so the band and the line stay visible on top of them. A label that would
  // overlap one already drawn is left out; the span's tooltip and the list under the charts
  // still name it.
  const labelled = [];
  for (const s of spans) {
    const left = clampX(s.from);
    const right = clampX(s.to);
    root.append(
      svg(
        "rect",
        {
          x: px(left),
          y: margin.top,
          width: px(Math.max(right - left, 2), { min: 0 }),
          height: px(innerH, { min: 0 }),
          class: "anomaly-span",
        },
        svg("title", {}, s.title || s.label),
      ),
    );
    const labelWidth = String(s.label).length * 6.2;
    // Near the right edge the label goes left of the span's end, so it is never cut off.
    const atEnd = left + labelWidth + 3 > margin.left + innerW;
    const x0 = atEnd ? Math.max(margin.left + 2, right - 3) - labelWidth : left + 3;
    if (labelled.some(([a, b]) => x0 < b + 4 && x0 + labelWidth > a - 4)) continue;
    labelled.push([x0, x0 + labelWidth]);
    root.append(svg("text", { x: px(x0), y: margin.top + 11, class: "anomaly-label" }, s.label));
  }

  // The baseline band: one polygon per run of points that have a baseline.
  let run = [];
  const flushBand = () => {
    if (run.length > 0) {
      const upper = run.map((p) => `${px(x(p.t))},${px(y(p.band[1]))}`);
      const lower = run.slice().reverse().map((p) => `${px(x(p.t))},${px(y(p.band[0]))}`);
      if (run.length === 1) {
        // A lone point: a thin vertical band is still visible.
        root.append(svg("line", { x1: px(x(run[0].t)), x2: px(x(run[0].t)), y1: px(y(run[0].band[1])), y2: px(y(run[0].band[0])), class: "band-line" }));
      } else {
        root.append(svg("polygon", { points: upper.concat(lower).join(" "), class: "band" }));
      }
    }
    run = [];
  };
  for (const p of points) {
    const previous = run[run.length - 1];
    if (previous && p.t - previous.t > gapMs) flushBand();
    if (p.band && Number.isFinite(p.band[0]) && Number.isFinite(p.band[1])) run.push(p);
    else flushBand();
  }
  flushBand();

  // The observed line, broken where a minute has no value.
  let d = "";
  let penDown = false;
  const lone = [];
  const joined = (a, b) => Boolean(a && b) && Number.isFinite(a.value) && Number.isFinite(b.value) && Math.abs(b.t - a.t) <= gapMs;
  points.forEach((p, i) => {
    if (!Number.isFinite(p.value)) {
      penDown = false;
      return;
    }
    const next = points[i + 1];
    if (penDown && !joined(points[i - 1], p)) penDown = false;
    const prevOk = penDown;
    d += `${penDown ? "L" : "M"}${px(x(p.t))},${px(y(p.value))}`;
    penDown = true;
    if (!prevOk && !joined(p, next)) lone.push(p);
  });
  if (d) root.append(svg("path", { d, class: "line" }));
  for (const p of lone) root.append(svg("circle", { cx: px(x(p.t)), cy: px(y(p.value)), r: 2.5, class: "dot" }));

  // Changes (deploys, config): a dashed line at their time, labelled at its foot.
  for (const marker of markers) {
    if (marker.t < from || marker.t > until) continue;
    const at = px(x(marker.t));
    root.append(
      svg("line", { x1: at, x2: at, y1: margin.top, y2: margin.top + innerH, class: "change-marker" }, svg("title", {}, marker.title || marker.label)),
      svg("text", { x: px(x(marker.t) + 3), y: margin.top + innerH - 4, class: "change-label" }, marker.label),
    );
  }

  root.append(
    svg("line", { x1: margin.left, x2: width - margin.right, y1: margin.top + innerH, y2: margin.top + innerH, class: "axis" }),
    svg("line", { x1: margin.left, x2: margin.left, y1: margin.top, y2: margin.top + innerH, class: "axis" }),
  );
  return root;
}
