// One service's series ("#/services/<service>"): per operation, request rate, error ratio and
// latency p95 over the last minutes, each against its baseline band (the usual range) with the
// anomalies shaded where they were open.

import { api, isAbort, query } from "./api.js";
import { timeChart } from "./charts.js";
import { h, fill, routeHref } from "./dom.js";
import { KIND_WORDS, formatMs, formatNumber, formatPercent, formatTime, parseTime } from "./format.js";
import { replaceQuery } from "./router.js";
import { poll } from "./poll.js";
import { loading, notice } from "./widgets.js";

const REFRESH_MS = 30000;
const RANGES = [
  [15, "last 15 minutes"],
  [60, "last hour"],
  [180, "last 3 hours"],
  [1440, "last 24 hours"],
];

const METRICS = [
  {
    key: "requests_per_s",
    title: "Request rate",
    unit: "requests per second",
    tick: (v) => `${formatNumber(v)}/s`,
    floor: 1,
  },
  {
    key: "error_ratio",
    title: "Error ratio",
    unit: "share of requests that failed",
    tick: (v) => formatPercent(v),
    floor: 0.05,
  },
  {
    key: "p95_ms",
    title: "Latency p95",
    unit: "milliseconds",
    tick: (v) => formatMs(v),
    floor: 10,
  },
];

const toTime = (iso) => {
  const date = parseTime(iso);
  return date ? date.getTime() : null;
};

function chartFor(metric, series, from, until) {
  const points = (series.points || []).map((point) => {
    const band = point.baseline && Array.isArray(point.baseline[metric.key]) ? point.baseline[metric.key].map(Number) : null;
    const value = point[metric.key];
    return { t: toTime(point.minute), value: value === null || value === undefined ? null : Number(value), band };
  }).filter((p) => p.t !== null);
  const spans = (series.anomalies || [])
    .map((anomaly) => {
      const start = toTime(anomaly.started_at);
      const end = anomaly.cleared_at ? toTime(anomaly.cleared_at) : until;
      const words = KIND_WORDS[anomaly.kind] || anomaly.kind;
      return {
        from: start,
        to: end ?? until,
        label: anomaly.kind,
        title: `${words} (${anomaly.kind}) from ${formatTime(anomaly.started_at)} ${
          anomaly.cleared_at ? `to ${formatTime(anomaly.cleared_at)}` : "until now (still open)"
        }`,
      };
    })
    .filter((span) => span.from !== null && span.to >= from);
  const chart = timeChart({
    points,
    from,
    until,
    spans,
    formatTick: metric.tick,
    floor: metric.floor,
    ariaLabel: `${metric.title} of ${series.operation} (${metric.unit}); shaded band: the usual range; red areas: anomalies.`,
  });
  return h(
    "figure",
    { class: "series-chart", "data-testid": "series-chart", "data-metric": metric.key, "data-operation": series.operation },
    h("figcaption", {}, `${metric.title} (${metric.unit})`),
    chart,
  );
}

function anomalyList(series) {
  const list = series.anomalies || [];
  if (list.length === 0) return h("p", { class: "muted" }, "No anomaly in this period.");
  return h(
    "ul",
    { class: "anomaly-list" },
    list.map((anomaly) =>
      h(
        "li",
        {},
        h("strong", {}, `${KIND_WORDS[anomaly.kind] || anomaly.kind} (${anomaly.kind})`),
        ` from ${formatTime(anomaly.started_at)} `,
        anomaly.cleared_at ? `to ${formatTime(anomaly.cleared_at)}` : "— still open",
      ),
    ),
  );
}

export function renderSeries(outlet, { params, query: search }) {
  const service = params[0];
  document.title = `${service} · AIOps`;
  const asked = Number(search.get("minutes"));
  let minutes = RANGES.some(([m]) => m === asked) ? asked : 60;

  const rangeSelect = h(
    "select",
    { id: "series-range", name: "minutes" },
    RANGES.map(([value, text]) => h("option", { value, selected: value === minutes }, text)),
  );
  const body = h("div", { class: "series" }, loading());
  const updated = h("p", { class: "muted" });
  outlet.append(
    h("p", { class: "breadcrumb" }, h("a", { href: routeHref("services") }, "← Back to the map")),
    h("h1", {}, `${service}: series`),
    h(
      "p",
      {},
      "Per operation and minute: the line is what was measured, the shaded band the usual range (the baseline), " +
        "the red areas the anomalies (labelled with their kind).",
    ),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, h("div", { class: "field" }, h("label", { for: "series-range" }, "Time range"), rangeSelect)),
    updated,
    body,
  );

  const controller = new AbortController();
  async function refresh() {
    try {
      const data = await api(
        `aiops/services/${encodeURIComponent(service)}/series${query({ minutes })}`,
        { signal: controller.signal },
      );
      const from = toTime(data.since) ?? Date.now() - minutes * 60000;
      const until = toTime(data.until) ?? Date.now();
      const series = data.series || [];
      updated.textContent = `From ${formatTime(data.since)} to ${formatTime(data.until)}; refreshes every ${REFRESH_MS / 1000} s.`;
      if (series.length === 0) {
        fill(body, h("p", {}, "No requests recorded for this service in this period."));
        return;
      }
      fill(
        body,
        series.map((one) =>
          h(
            "section",
            { class: "panel operation", "data-operation": one.operation },
            h("h2", { class: "mono" }, one.operation),
            h("div", { class: "chart-row" }, METRICS.map((metric) => chartFor(metric, one, from, until))),
            anomalyList(one),
          ),
        ),
      );
    } catch (error) {
      if (isAbort(error)) return;
      fill(body, notice(error.status === 404 ? `No service named "${service}" is known.` : error.message));
    }
  }

  let stop = poll(refresh, REFRESH_MS);
  rangeSelect.addEventListener("change", () => {
    minutes = Number(rangeSelect.value);
    replaceQuery({ minutes: String(minutes) });
    stop();
    stop = poll(refresh, REFRESH_MS);
  });
  return () => {
    stop();
    controller.abort();
  };
}
