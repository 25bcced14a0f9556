// Overview ("#/"): what is burning now, how often things broke lately, what fails most, and
// how quickly the platform itself noticed and how quickly incidents were fixed. A banner says
// when some services have not learned what normal looks like yet: the platform has no opinion
// of them beyond the floors, and "nothing is burning" would say more than it knows.

import { api, isAbort, query } from "./api.js";
import { barChart } from "./charts.js";
import { h, fill, routeHref } from "./dom.js";
import { DASH, formatAbout, formatDuration, formatClock, parseTime } from "./format.js";
import { poll } from "./poll.js";
import { SEVERITIES, loading, notice, section, severityBadge, table } from "./widgets.js";

const REFRESH_MS = 15000;
// Unresolved incidents are counted from at most this many pages of 200.
const MAX_PAGES = 5;

async function unresolvedIncidents(signal) {
  const all = [];
  for (const status of ["open", "acknowledged"]) {
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await api(`aiops/incidents${query({ status, limit: 200, cursor })}`, { signal });
      all.push(...result.items);
      cursor = result.next_cursor;
      if (!cursor) break;
    }
  }
  return all;
}

function renderSeverityCounts(body, incidents) {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const incident of incidents) if (incident.severity in counts) counts[incident.severity] += 1;
  const total = incidents.length;
  fill(
    body,
    h(
      "ul",
      { class: "severity-tiles" },
      SEVERITIES.map((severity) =>
        h(
          "li",
          { class: `tile tile-${severity}`, "data-severity": severity, "data-count": counts[severity] },
          // The link's name is "3 critical": no "incidents" in it, so the nav link stays the
          // only link named like that on this page.
          h(
            "a",
            { href: `${routeHref("incidents")}?severity=${encodeURIComponent(severity)}` },
            h("span", { class: "tile-count" }, String(counts[severity])),
            " ",
            severityBadge(severity),
          ),
        ),
      ),
    ),
    h("p", { class: "muted" }, total === 0 ? "Nothing is unresolved right now." : `${total} unresolved (open or acknowledged).`),
  );
}

function renderOverTime(body, record) {
  const periods = record.periods || [];
  const bars = periods.map((period) => {
    const start = parseTime(period.start);
    const label = start ? formatClock(start) : "";
    return { label, value: period.opened, title: `${label}: ${period.opened} opened, ${period.resolved} resolved` };
  });
  const opened = periods.reduce((sum, p) => sum + (Number(p.opened) || 0), 0);
  fill(
    body,
    barChart({
      bars,
      ariaLabel: `Incidents opened per hour over the last ${periods.length} hours: ${opened} in all.`,
      labelEvery: 3,
    }),
    h("p", { class: "muted" }, `${opened} opened in the last ${periods.length} hours (bars: opened per hour, local time).`),
  );
}

function renderFailing(body, stats) {
  const operations = stats.failing_operations || [];
  const counters = stats.counters || {};
  const summary = h(
    "p",
    { class: "muted" },
    `Since the platform started: ${counters.anomalies ?? 0} anomalies, ` +
      `${counters.incidents_opened ?? 0} opened, ${counters.incidents_resolved ?? 0} resolved.`,
  );
  if (operations.length === 0) {
    fill(body, h("p", {}, "No anomalies recorded yet."), summary);
    return;
  }
  const { element, tbody } = table(["Rank", "Service", "Operation", "Anomalies"], {
    caption: "Operations with the most anomalies",
  });
  operations.forEach((op, i) => {
    tbody.append(
      h(
        "tr",
        {},
        h("td", { class: "num" }, String(i + 1)),
        h("th", { scope: "row" }, h("a", { href: routeHref("services", op.service) }, op.service)),
        h("td", { class: "mono" }, op.operation),
        h("td", { class: "num" }, String(op.anomalies)),
      ),
    );
  });
  fill(body, element, summary);
}

function renderRecord(body, record) {
  const periods = (record.periods || []).slice().reverse(); // newest day first in a table
  const { element, tbody } = table(["Day", "Opened", "Resolved", "Mean time to detect", "Mean time to resolve"], {
    caption: "Per day (UTC), newest first. Detect: from the fault's start to the incident; resolve: to its resolution.",
  });
  for (const period of periods) {
    tbody.append(
      h(
        "tr",
        {},
        // Days are UTC days: the date of the bucket's start as the API gives it.
        h("th", { scope: "row" }, String(period.start).slice(0, 10)),
        h("td", { class: "num" }, String(period.opened)),
        h("td", { class: "num" }, String(period.resolved)),
        h("td", { class: "num" }, period.mttd_s === null || period.mttd_s === undefined ? DASH : formatDuration(period.mttd_s)),
        h("td", { class: "num" }, period.mttr_s === null || period.mttr_s === undefined ? DASH : formatDuration(period.mttr_s)),
      ),
    );
  }
  fill(body, element);
}

/** The learning banner from `GET /aiops/services`: hidden once every service has learned. */
function renderLearning(banner, graph) {
  const learning = (graph.services || []).filter((service) => service.learning);
  if (learning.length === 0) {
    banner.hidden = true;
    fill(banner);
    return;
  }
  const one = learning.length === 1;
  const remaining = Math.max(0, ...learning.map((service) => Number(service.learning_remaining_s) || 0));
  const until =
    remaining >= 1
      ? `for about ${formatDuration(remaining)} more if ${one ? "it stays" : "they stay"} healthy`
      : `until the detector next learns ${one ? "its baseline" : "their baselines"}, in a few seconds`;
  fill(
    banner,
    h(
      "p",
      {},
      h("strong", {}, "Learning: "),
      `${learning.length} service${one ? " has" : "s have"} not learned what normal looks like yet; ` +
        `${one ? "it is" : "they are"} judged only by the floors (e.g. more than 5% of requests failing) ${until}. ` +
        "Until then, a quiet service is not necessarily a healthy one.",
    ),
    h(
      "p",
      { class: "learning-services" },
      "Still learning: ",
      learning.map((service, i) => [
        i ? ", " : "",
        h("a", { href: routeHref("services", service.service) }, service.service),
        service.learning_remaining_s === null || service.learning_remaining_s === undefined
          ? ""
          : ` (${formatAbout(service.learning_remaining_s)})`,
      ]),
      ".",
    ),
  );
  banner.hidden = false;
}

async function loadLearning(banner, signal) {
  try {
    renderLearning(banner, await api("aiops/services", { signal }));
  } catch (error) {
    // The other parts say why the API cannot be read; a learning state that may be stale is
    // not shown.
    if (!isAbort(error)) banner.hidden = true;
  }
}

/** Loads one part and draws it, or says in the part itself why it could not. */
async function loadPart(body, load, draw, signal) {
  try {
    draw(body, await load());
  } catch (error) {
    if (!isAbort(error)) fill(body, notice(error.message));
  }
}

export function renderOverview(outlet) {
  document.title = "Overview · AIOps";
  const severity = section("Active incidents by severity", { "data-testid": "severity-counts" });
  const overTime = section("Incidents over time (last 24 hours)", { "data-testid": "incidents-over-time" });
  const failing = section("Top failing operations", { "data-testid": "failing-operations" });
  const record = section("The platform's record (last 14 days)", { "data-testid": "record" });
  for (const part of [severity, overTime, failing, record]) part.body.append(loading());
  const learningBanner = h("section", {
    class: "learning-banner",
    "data-testid": "learning-banner",
    "aria-label": "Services still learning",
    hidden: true,
  });
  outlet.append(
    h("h1", {}, "Overview"),
    learningBanner,
    h("div", { class: "overview-grid" }, severity.element, failing.element, overTime.element, record.element),
  );

  const controller = new AbortController();
  const { signal } = controller;
  const refresh = () =>
    Promise.all([
      loadLearning(learningBanner, signal),
      loadPart(severity.body, () => unresolvedIncidents(signal), renderSeverityCounts, signal),
      loadPart(overTime.body, () => api("aiops/stats/record?bucket=hour&periods=24", { signal }), renderOverTime, signal),
      loadPart(failing.body, () => api("aiops/stats?limit=10", { signal }), renderFailing, signal),
      loadPart(record.body, () => api("aiops/stats/record?bucket=day&periods=14", { signal }), renderRecord, signal),
    ]);
  const stop = poll(refresh, REFRESH_MS);
  return () => {
    stop();
    controller.abort();
  };
}
