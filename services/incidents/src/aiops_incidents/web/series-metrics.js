// A service's metric series, under its operations on the series page: one chart per series over
// the same period, its latest value in the caption. Counters, histograms and summaries come as
// per-second rates, gauges and levels as they were read (the API's `measure`).

import { timeChart } from "./charts.js";
import { h, fill } from "./dom.js";
import { formatNumber, parseTime } from "./format.js";

const BYTES = ["B", "KiB", "MiB", "GiB", "TiB"];
const SI = ["", "k", "M", "G", "T"];

/** A value in the series' unit, short enough for an axis: 1.5 GiB, 12k, 0.25 s. */
export function formatAmount(value, unit = "") {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  let number = Number(value);
  const bytes = unit === "By";
  const steps = bytes ? BYTES : SI;
  const base = bytes ? 1024 : 1000;
  let step = 0;
  while (Math.abs(number) >= base && step < steps.length - 1) {
    number /= base;
    step += 1;
  }
  // UCUM annotations ("{connection}") name what is counted: no unit to print.
  const shown = bytes ? steps[step] : `${steps[step]}${/^\{.*\}$/.test(unit) || unit === "1" ? "" : unit}`;
  return shown ? `${formatNumber(number)} ${shown}`.replace(/ (k|M|G|T)$/, "$1") : formatNumber(number);
}

function label(series) {
  const attributes = Object.entries(series.attributes || {}).map(([key, value]) => `${key}=${value}`);
  if (series.instance) attributes.unshift(`instance=${series.instance}`);
  return attributes.join(", ");
}

const DISTRIBUTIONS = new Set(["histogram", "exponential_histogram", "summary"]);

function chartFor(series, from, until, markers) {
  const perSecond = series.measure === "per_second";
  // A histogram's values are observations a second; its unit is its observations' (the mean's).
  const distribution = DISTRIBUTIONS.has(series.kind);
  const format = (v) => (distribution ? `${formatAmount(v)}/s` : `${formatAmount(v, series.unit)}${perSecond ? "/s" : ""}`);
  const points = (series.points || [])
    .map((point) => ({ t: parseTime(point.minute)?.getTime() ?? null, value: point.value === null ? null : Number(point.value), band: null }))
    .filter((point) => point.t !== null);
  const latest = series.last;
  const mean = distribution && latest && latest.mean !== null ? `, mean ${formatAmount(latest.mean, series.unit)}` : "";
  const last = latest ? `${format(latest.value)}${mean}` : "no value kept";
  const what = distribution ? "observations per second" : perSecond ? "per second" : "value";
  return h(
    "figure",
    { class: "series-chart", "data-testid": "metric-chart", "data-metric": series.name },
    h("figcaption", {}, h("span", { class: "mono" }, series.name), ` · ${what} · now ${last}`),
    label(series) ? h("p", { class: "muted mono metric-labels" }, label(series)) : null,
    timeChart({
      points,
      from,
      until,
      markers,
      formatTick: format,
      floor: 0,
      ariaLabel: `${series.name} (${what}${series.unit ? `, ${series.unit}` : ""}) ${label(series)}; latest ${last}.`,
    }),
  );
}

/** The section, built once and `update`d with each answer of `/aiops/services/{service}/metrics`. */
export function metricsSection() {
  const note = h("p", { class: "muted" });
  const charts = h("div", { class: "chart-row" });
  const element = h("section", { class: "panel metrics", "data-testid": "service-metrics" }, h("h2", {}, "Metrics"), note, charts);
  return {
    element,
    update(data, from, until, markers = []) {
      const series = data.series || [];
      note.textContent =
        series.length === 0
          ? "This service sends no metrics (OTLP /v1/metrics or gRPC)."
          : `What the service sends over OTLP, per minute${data.truncated ? `; the first ${series.length} series` : ""}.`;
      fill(charts, series.map((one) => chartFor(one, from, until, markers)));
    },
  };
}
