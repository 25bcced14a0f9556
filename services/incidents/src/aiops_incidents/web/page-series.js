// One service's series ("#/services/<service>"): per operation, request rate, error ratio and
// latency p95 over the last minutes, each against its baseline band (the usual range) with the
// anomalies shaded where they were open; whether the operation is still learning what normal
// looks like; a form to accept a lasting, legitimate change of it as normal from now on; and,
// under the operations, the metrics the service sends over the same period.
//
// Each operation's panel is drawn once and updated in place on every refresh, so that a half
// filled acceptance form (and the focus in it) survives the refreshes.

import { api, isAbort, query } from "./api.js";
import { timeChart } from "./charts.js";
import { h, fill, routeHref } from "./dom.js";
import {
  KIND_WORDS,
  changeVersions,
  formatAbout,
  formatDuration,
  formatMs,
  formatNumber,
  formatPercent,
  formatTime,
  parseTime,
} from "./format.js";
import { say } from "./messages.js";
import { replaceQuery } from "./router.js";
import { poll } from "./poll.js";
import { metricsSection } from "./series-metrics.js";
import { loading, notice } from "./widgets.js";

const REFRESH_MS = 30000;
const RANGES = [
  [15, "last 15 minutes"],
  [60, "last hour"],
  [180, "last 3 hours"],
  [1440, "last 24 hours"],
];

// The kinds judged per series, which can be accepted as normal (the API's order).
const ACCEPT_KINDS = ["error_ratio", "latency", "traffic_drop", "traffic_surge"];
// What changes on purpose most often (a release slower by design): chosen when nothing is open.
const DEFAULT_KIND = "latency";
const HISTORY_MEASURES = ["rate", "errors", "latency"];
// The floor each kind is judged by without history, which an acceptance lifts for the series.
const FLOOR_WORDS = {
  error_ratio: "error floor",
  latency: "latency floor",
  traffic_drop: "traffic floor",
  traffic_surge: "traffic floor",
};

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

/** A change as a chart marker: "2.0.0" at its time, its words in the tooltip. */
function changeMarker(change) {
  const versions = changeVersions(change);
  return {
    t: toTime(change.at),
    label: change.new_version || change.kind,
    title: `${change.kind} ${versions || change.summary} at ${formatTime(change.at)} (${change.source === "spans" ? "seen in the spans" : "posted"})`,
  };
}

function chartFor(metric, series, from, until, markers) {
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
    markers,
    formatTick: metric.tick,
    floor: metric.floor,
    ariaLabel: `${metric.title} of ${series.operation} (${metric.unit}); shaded band: the usual range; red areas: anomalies; dashed lines: changes.`,
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

const isLearning = (series) => Boolean(series.learning && series.learning.learning);

function learningBadge(series) {
  if (!isLearning(series)) return null;
  const remaining = formatAbout(series.learning.remaining_s);
  return h(
    "span",
    { class: "badge health-learning", "data-testid": "learning-badge" },
    remaining ? `learning · ${remaining}` : "learning",
  );
}

/** How much healthy history each measure has, of how much it needs. */
function learningNote(series) {
  if (!isLearning(series)) return null;
  const { history_s: history = {}, min_history_s: needed, remaining_s: remaining } = series.learning;
  const measures = HISTORY_MEASURES.filter((measure) => measure in history).map(
    (measure) => `${measure} ${formatDuration(history[measure])}`,
  );
  return h(
    "p",
    { class: "learning-note" },
    h("strong", {}, "Learning: "),
    "this operation has not learned what normal looks like yet, so only the floors judge it " +
      `(healthy history: ${measures.join(", ") || "none"}, of the ${formatDuration(needed)} each measure needs; ` +
      (Number(remaining) >= 1 ? `about ${formatDuration(remaining)} more if it stays healthy).` : "any moment now)."),
  );
}

const incidentsWord = (n) => `${n} incident${n === 1 ? "" : "s"}`;

/**
 * "Accept as normal from now": a button that opens a small form (what changed, a comment), a
 * confirmation, then `POST .../series/accept`. `onAccepted` refreshes the page's data.
 */
function acceptControl(service, operation, id, onAccepted) {
  const formId = `accept-${id}`;
  let touched = false; // the kind was chosen by hand: refreshes no longer preselect it
  let pending = null; // {kind, comment} waiting for the confirmation

  const toggle = h(
    "button",
    { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": formId },
    "Accept as normal from now",
  );
  const kindSelect = h(
    "select",
    { id: `${formId}-kind`, name: "kind" },
    ACCEPT_KINDS.map((kind) => h("option", { value: kind }, `${KIND_WORDS[kind]} (${kind})`)),
  );
  kindSelect.value = DEFAULT_KIND;
  const commentInput = h("input", {
    id: `${formId}-comment`,
    name: "comment",
    type: "text",
    maxlength: 4000,
    autocomplete: "off",
    "aria-describedby": `${formId}-comment-help`,
  });
  const submit = h("button", { type: "submit" }, "Accept as normal…");
  const question = h("p", { id: `${formId}-question`, class: "accept-question" });
  const confirmButton = h("button", { type: "button", class: "danger" }, "Confirm: accept as normal");
  const cancelButton = h("button", { type: "button", class: "secondary" }, "Cancel");
  const confirmBox = h(
    "div",
    { class: "accept-confirm", role: "group", "aria-labelledby": question.id, hidden: true },
    question,
    h("div", { class: "form-actions" }, confirmButton, cancelButton),
  );
  const form = h(
    "form",
    { id: formId, class: "accept-form", "aria-label": `Accept a change of ${operation} as normal`, hidden: true },
    h(
      "p",
      { class: "muted" },
      "For a lasting change that is legitimate (a release that is 20 ms slower by design): this operation's " +
        "baseline of the kind you choose forgets the past and learns only from now on, that kind's floor no " +
        "longer judges it (its new normal may lie beyond it), and its open anomaly of that kind clears within seconds.",
    ),
    h(
      "div",
      { class: "accept-fields" },
      h("div", { class: "field" }, h("label", { for: kindSelect.id }, "What changed for good"), kindSelect),
      h(
        "div",
        { class: "field accept-comment" },
        h("label", { for: commentInput.id }, "Comment (optional)"),
        commentInput,
        h("span", { id: `${formId}-comment-help`, class: "help" }, "Why it is normal now; shown on the incidents' timelines."),
      ),
    ),
    h("div", { class: "form-actions" }, submit),
    confirmBox,
  );
  const result = h("p", { class: "accept-result", "data-testid": "accept-result", hidden: true });

  function setOpen(open) {
    form.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (!open) cancel();
  }

  function cancel() {
    pending = null;
    confirmBox.hidden = true;
    submit.disabled = false;
  }

  function showResult(...children) {
    fill(result, ...children);
    result.hidden = false;
  }

  toggle.addEventListener("click", () => {
    setOpen(form.hidden);
    if (!form.hidden) kindSelect.focus();
  });
  kindSelect.addEventListener("change", () => {
    touched = true;
    cancel();
  });
  commentInput.addEventListener("input", cancel);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const kind = kindSelect.value;
    const comment = commentInput.value.trim();
    pending = { kind, comment };
    question.textContent =
      `Accept the ${KIND_WORDS[kind] || kind} (${kind}) of ${service} ${operation} as normal from now? ` +
      `Its ${kind} baseline will learn only from now on, its ${FLOOR_WORDS[kind] || "floor"} will no longer judge it, ` +
      `and its open ${kind} anomaly, if any, clears.`;
    confirmBox.hidden = false;
    submit.disabled = true;
    confirmButton.focus();
  });
  cancelButton.addEventListener("click", () => {
    cancel();
    submit.focus();
  });
  confirmButton.addEventListener("click", async () => {
    if (!pending) return;
    const { kind, comment } = pending;
    confirmButton.disabled = cancelButton.disabled = true;
    try {
      const body = { operation, kind };
      if (comment) body.comment = comment;
      const accepted = await api(`aiops/services/${encodeURIComponent(service)}/series/accept`, { method: "POST", body });
      const incidents = accepted.incidents || [];
      const summary =
        `${KIND_WORDS[kind] || kind} (${kind}) accepted as normal by ${accepted.accepted_by} ` +
        `at ${formatTime(accepted.accepted_at)}; recorded on ${incidentsWord(incidents.length)}`;
      showResult(
        h("strong", {}, "Done: "),
        summary,
        incidents.length ? ": " : ".",
        incidents.map((incident, i) => [
          i ? ", " : "",
          h("a", { href: routeHref("incidents", incident) }, `incident ${String(incident).slice(0, 8)}`),
        ]),
        incidents.length ? "." : "",
      );
      say(`${service} ${operation}: ${summary}.`, "ok");
      commentInput.value = "";
      touched = false;
      setOpen(false);
      toggle.focus();
      onAccepted();
    } catch (error) {
      if (isAbort(error)) return;
      showResult(h("strong", {}, "Error: "), `accepting as normal failed: ${error.message}`);
      say(`Accepting ${service} ${operation} ${kind} as normal failed: ${error.message}`, "error");
      cancel();
      submit.focus();
    } finally {
      confirmButton.disabled = cancelButton.disabled = false;
    }
  });

  return {
    element: h("div", { class: "accept", "data-testid": "accept" }, toggle, form, result),
    /** The kind of an open anomaly is preselected, until a kind is chosen by hand. */
    update(series) {
      const openKinds = new Set((series.anomalies || []).filter((a) => !a.cleared_at).map((a) => a.kind));
      for (const option of kindSelect.options) {
        const kind = option.value;
        option.textContent = `${KIND_WORDS[kind] || kind} (${kind})${openKinds.has(kind) ? ": open anomaly" : ""}`;
      }
      // Of several open kinds, the first in the API's order: errors before latency before traffic.
      const preselect = ACCEPT_KINDS.find((kind) => openKinds.has(kind));
      if (preselect && !touched && !pending) kindSelect.value = preselect;
    },
  };
}

/** One operation's panel: built once, then `update`d with each answer. */
function operationView(service, operation, id, onAccepted) {
  const badge = h("span");
  const note = h("div");
  const charts = h("div", { class: "chart-row" });
  const anomalies = h("div");
  const accept = acceptControl(service, operation, id, onAccepted);
  const element = h(
    "section",
    { class: "panel operation", "data-operation": operation },
    h("div", { class: "operation-head" }, h("h2", { class: "mono" }, operation), badge),
    note,
    charts,
    anomalies,
    accept.element,
  );
  return {
    element,
    update(series, from, until, markers) {
      element.setAttribute("data-learning", String(isLearning(series)));
      fill(badge, learningBadge(series));
      fill(note, learningNote(series));
      fill(charts, METRICS.map((metric) => chartFor(metric, series, from, until, markers)));
      fill(anomalies, anomalyList(series));
      accept.update(series);
    },
  };
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
  const metrics = metricsSection();
  const updated = h("p", { class: "muted" });
  outlet.append(
    h("p", { class: "breadcrumb" }, h("a", { href: routeHref("services") }, "← Back to the map")),
    h("h1", {}, `${service}: series`),
    h(
      "p",
      {},
      "Per operation and minute: the line is what was measured, the shaded band the usual range (the baseline), " +
        "the red areas the anomalies (labelled with their kind), the dashed lines the service's changes (deploys, config).",
    ),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, h("div", { class: "field" }, h("label", { for: "series-range" }, "Time range"), rangeSelect)),
    updated,
    body,
    metrics.element,
  );

  const controller = new AbortController();
  const views = new Map(); // operation -> its panel, kept across refreshes
  let nextId = 0;

  function draw(series, from, until, markers) {
    const shown = series.map((one) => {
      let view = views.get(one.operation);
      if (!view) {
        view = operationView(service, one.operation, nextId++, restart);
        views.set(one.operation, view);
      }
      view.update(one, from, until, markers);
      return view.element;
    });
    const operations = new Set(series.map((one) => one.operation));
    for (const operation of [...views.keys()]) if (!operations.has(operation)) views.delete(operation);
    // Panels move only when the operations change: moving one would take the focus out of it.
    const now = [...body.children];
    if (now.length !== shown.length || now.some((element, i) => element !== shown[i])) fill(body, shown);
  }

  async function refresh() {
    try {
      const path = `aiops/services/${encodeURIComponent(service)}`;
      const since = new Date(Date.now() - minutes * 60000).toISOString();
      const [data, sent, changes] = await Promise.all([
        api(`${path}/series${query({ minutes })}`, { signal: controller.signal }),
        api(`${path}/metrics${query({ minutes })}`, { signal: controller.signal }),
        api(`aiops/changes${query({ service, since, limit: 1000 })}`, { signal: controller.signal }),
      ]);
      const markers = changes.map(changeMarker).filter((marker) => marker.t !== null);
      const from = toTime(data.since) ?? Date.now() - minutes * 60000;
      const until = toTime(data.until) ?? Date.now();
      const series = data.series || [];
      updated.textContent = `From ${formatTime(data.since)} to ${formatTime(data.until)}; refreshes every ${REFRESH_MS / 1000} s.`;
      metrics.update(sent, from, until, markers);
      if (series.length === 0) {
        fill(body, h("p", {}, "No requests recorded for this service in this period."));
        return;
      }
      draw(series, from, until, markers);
    } catch (error) {
      if (isAbort(error)) return;
      fill(body, notice(error.status === 404 ? `No service named "${service}" is known.` : error.message));
    }
  }

  let stop = poll(refresh, REFRESH_MS);
  /** Refreshes now, and every REFRESH_MS from then on. */
  function restart() {
    stop();
    stop = poll(refresh, REFRESH_MS);
  }
  rangeSelect.addEventListener("change", () => {
    minutes = Number(rangeSelect.value);
    replaceQuery({ minutes: String(minutes) });
    restart();
  });
  return () => {
    stop();
    controller.abort();
  };
}
