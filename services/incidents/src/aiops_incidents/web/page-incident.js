// One incident ("#/incidents/<id>"): what is wrong, where it started and the proof, what was
// done, and the actions. It keeps itself current from the live stream (and a 5 s poll, since
// new evidence can arrive without a timeline event), redrawing only the parts that changed so
// that focus and the comment being typed survive.

import { api, isAbort, query } from "./api.js";
import { h, fill, routeHref } from "./dom.js";
import {
  DASH,
  KIND_WORDS,
  causeName,
  changeVersions,
  formatDuration,
  formatMeasure,
  formatMs,
  formatNumber,
  formatPercent,
  formatTime,
  parseTime,
  secondsBetween,
} from "./format.js";
import { say } from "./messages.js";
import { debounce, poll } from "./poll.js";
import { openIncidentStream } from "./sse.js";
import { renderWaterfall } from "./waterfall.js";
import { loading, nodeKindBadge, notice, scoreBar, section, severityBadge, table } from "./widgets.js";

const POLL_MS = 5000;
const TRACE_CACHE = 20;

const EVENT_TITLES = {
  opened: "Opened",
  anomaly_joined: "Anomaly joined",
  anomaly_cleared: "Anomaly cleared",
  root_cause_changed: "Root cause changed",
  severity_changed: "Severity changed",
  acknowledged: "Acknowledged",
  comment: "Comment",
  resolved: "Resolved",
  reopened: "Reopened",
  accepted_as_normal: "Accepted as normal",
  change: "Change",
};

// Changes this long before an incident began are shown on its timeline (the ranking's window).
const CHANGE_WINDOW_MS = 15 * 60 * 1000;

/** What a change did, in words: "payment 1.4.2 → 1.5.0 (deploy, seen in its spans)". */
function changeWords(change) {
  const versions = changeVersions(change);
  const what = versions ? ` ${versions}` : change.summary ? `: ${change.summary}` : "";
  return `${change.service}${what} (${change.kind}${change.source === "spans" ? ", seen in its spans" : ""})`;
}

const causeWords = (cause) =>
  cause && typeof cause === "object" ? `${causeName(cause)} ${cause.operation} (${KIND_WORDS[cause.kind] || cause.kind})` : "none";

const anomalyWords = (anomaly) =>
  anomaly && typeof anomaly === "object"
    ? `${anomaly.service} ${anomaly.operation}: ${KIND_WORDS[anomaly.kind] || anomaly.kind}` +
      (anomaly.score !== undefined ? ` (score ${formatNumber(anomaly.score)})` : "")
    : "";

/** A timeline event's detail in words; unknown details as "key: value" pairs. */
export function detailWords(event) {
  const detail = event.detail || {};
  switch (event.type) {
    case "opened":
      return [
        detail.severity ? `severity ${detail.severity}` : "",
        detail.root_cause !== undefined ? `root cause ${causeWords(detail.root_cause)}` : "",
        detail.anomaly ? `first anomaly ${anomalyWords(detail.anomaly)}` : "",
      ].filter(Boolean).join("; ");
    case "anomaly_joined":
    case "anomaly_cleared":
    case "reopened":
      return anomalyWords(detail.anomaly);
    case "root_cause_changed":
      return `from ${causeWords(detail.from)} to ${causeWords(detail.to)}`;
    case "severity_changed":
      return `from ${detail.from ?? DASH} to ${detail.to ?? DASH}`;
    case "comment":
      return String(detail.text ?? "");
    case "accepted_as_normal":
      // "oncall accepted payment POST /payment latency as normal: slower by design"
      return (
        `${event.actor} accepted ${detail.service} ${detail.operation} ${detail.kind} as normal` +
        (detail.comment ? `: ${detail.comment}` : "")
      );
    case "resolved":
      return detail.reason ? String(detail.reason) : event.actor === "system" ? "" : "by hand";
    default:
      return Object.entries(detail)
        .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
        .join("; ");
  }
}

/** Redraws `container` with `draw()` and gives focus back to the same control afterwards. */
function keepingFocus(container, draw) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : null;
  draw();
  if (key) {
    const again = [...container.querySelectorAll("[data-focus-key]")].find((el) => el.dataset.focusKey === key);
    if (again) again.focus();
  }
}

function definitionList(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.map(([term, value]) => h("div", { class: "fact" }, h("dt", {}, term), h("dd", {}, value))),
  );
}

/** Links to services, separated by commas. */
function serviceLinks(names) {
  return names.flatMap((name, i) => [i ? ", " : "", h("a", { href: routeHref("services", name) }, name)]);
}

/**
 * A candidate's name: the service (or inferred peer, with its kind), and the instance that
 * carries the trouble when one does: "payment · instance payment-2".
 */
function causeTitle(cause) {
  const kind = nodeKindBadge(cause.node_kind);
  return [
    h("a", { href: routeHref("services", cause.service) }, cause.service),
    kind ? [" ", kind] : null,
    cause.instance ? [" · instance ", h("strong", { class: "instance-name mono", "data-testid": "cause-instance" }, cause.instance)] : null,
  ];
}

/** The candidate's requests during the incident by instance, the outlier marked. */
function instancesTable(instances) {
  const { element, tbody } = table(["Instance", "Requests", "Error ratio", "p95"], {
    className: "data-table compact instances",
    attrs: { "data-testid": "instances" },
  });
  for (const row of instances) {
    const requests = Number(row.requests) || 0;
    tbody.append(
      h(
        "tr",
        { class: row.outlier ? "outlier" : null, "data-outlier": row.outlier ? "true" : null },
        h(
          "th",
          { scope: "row", class: "mono" },
          row.instance,
          row.outlier ? [" ", h("span", { class: "badge outlier-badge", title: "This instance carries the trouble; its siblings do not." }, "outlier")] : null,
        ),
        h("td", { class: "num" }, formatNumber(requests)),
        h(
          "td",
          { class: "num", title: `${formatNumber(Number(row.errors) || 0)} of ${formatNumber(requests)} failed` },
          formatPercent(row.error_ratio),
        ),
        h("td", { class: "num" }, formatMs(row.p95_ms)),
      ),
    );
  }
  return element;
}

function evidenceView(candidate, index, shownTraceId, onShowTrace) {
  const evidence = candidate.evidence || {};
  const parts = [];
  const seenFrom = evidence.seen_from || [];
  if (seenFrom.length > 0) {
    parts.push(h("p", { class: "seen-from", "data-testid": "seen-from" }, "Seen from ", serviceLinks(seenFrom), ": their calls to it went wrong."));
  }
  const changes = evidence.changes || [];
  if (changes.length > 0) {
    parts.push(
      h("h4", {}, "Changes just before"),
      h(
        "ul",
        { class: "changes", "data-testid": "changes" },
        changes.map((change) =>
          h(
            "li",
            {},
            h("strong", {}, change.kind),
            " ",
            changeVersions(change) || change.summary,
            h("span", { class: "muted" }, ` at ${formatTime(change.at)}, ${Math.abs(change.before_s).toFixed(0)} s ${change.before_s >= 0 ? "before" : "after"} its trouble began`),
          ),
        ),
      ),
    );
  }
  const paths = evidence.span_paths || [];
  if (paths.length > 0) {
    parts.push(
      h("h4", {}, "Span path"),
      h("ol", { class: "span-path" }, paths[0].map((step) => h("li", { class: "mono" }, step))),
      paths.length > 1 ? h("p", { class: "muted" }, `The same in ${paths.length} exemplar traces (first shown).`) : null,
    );
  }
  const messages = evidence.error_messages || [];
  if (messages.length > 0) {
    parts.push(
      h("h4", {}, "Error messages"),
      h("ul", { class: "error-messages" }, messages.map((m) => h("li", {}, h("span", { class: "mono" }, m.message), ` × ${m.count}`))),
    );
  }
  const logs = evidence.logs || [];
  if (logs.length > 0) {
    parts.push(
      h("h4", {}, "Error logs, during the incident"),
      h(
        "ul",
        { class: "error-logs", "data-testid": "error-logs" },
        logs.map((log) =>
          h(
            "li",
            {},
            h("span", { class: "mono", title: log.example }, log.template),
            ` × ${log.count}`,
            log.in_exemplar_traces > 0 ? h("span", { class: "muted" }, ` (${log.in_exemplar_traces} in the exemplar traces)`) : null,
          ),
        ),
      ),
    );
  }
  const observed = evidence.observed || {};
  const baseline = evidence.baseline || {};
  const keys = [...new Set([...Object.keys(observed), ...Object.keys(baseline)])];
  if (keys.length > 0) {
    const { element, tbody } = table(["Measure", "Observed", "Baseline"], { className: "data-table compact" });
    for (const key of keys) {
      tbody.append(
        h(
          "tr",
          {},
          h("th", { scope: "row" }, key.replaceAll("_", " ")),
          h("td", { class: "num" }, key in observed ? formatMeasure(key, observed[key]) : DASH),
          h("td", { class: "num" }, key in baseline ? formatMeasure(key, baseline[key]) : DASH),
        ),
      );
    }
    parts.push(h("h4", {}, "Observed vs baseline"), element);
  }
  const instances = evidence.instances || [];
  if (instances.length > 0) {
    parts.push(h("h4", {}, "By instance, during the incident"), instancesTable(instances));
  }
  const traces = evidence.trace_ids || [];
  if (traces.length > 0) {
    parts.push(
      h("h4", {}, "Exemplar traces"),
      h(
        "ul",
        { class: "trace-buttons" },
        traces.map((traceId) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                title: traceId,
                "aria-pressed": traceId === shownTraceId ? "true" : "false",
                "data-focus-key": `trace-${index}-${traceId}`,
                onclick: () => onShowTrace(traceId, index),
              },
              `Show trace ${String(traceId).slice(0, 12)}`,
            ),
          ),
        ),
      ),
    );
  }
  return parts;
}

export function renderIncident(outlet, { params }) {
  const incidentId = params[0];
  document.title = "Incident · AIOps";
  const controller = new AbortController();
  const { signal } = controller;
  const base = `aiops/incidents/${encodeURIComponent(incidentId)}`;

  // Drawn once; updated in place.
  const heading = h("h1", {}, "Incident");
  const statusBadge = h("span", { class: "badge status-open", "data-testid": "incident-status" }, "…");
  const severitySlot = h("span");
  const times = h("p", { class: "muted" });
  const servicesLine = h("p");
  const causeLine = h("p", { class: "root-cause-headline", "data-testid": "root-cause-headline" });
  const liveStatus = h("p", { class: "live-status", "aria-live": "polite" }, "Live updates: connecting…");
  const ackButton = h("button", { type: "button" }, "Acknowledge");
  const resolveButton = h("button", { type: "button" }, "Resolve");
  const commentText = h("textarea", { id: "comment-text", name: "comment", rows: 3, maxlength: 4000, required: true });
  const commentButton = h("button", { type: "submit" }, "Add comment");
  const commentForm = h(
    "form",
    { class: "comment-form" },
    h("label", { for: "comment-text" }, "Comment"),
    commentText,
    h("div", {}, commentButton),
  );

  const impact = section("Impact");
  const candidates = section("Root-cause candidates");
  const waterfallSection = section("Trace waterfall");
  const waterfallBox = h("div", { "data-testid": "waterfall", class: "waterfall" }, loading());
  waterfallSection.body.append(waterfallBox);
  const timeline = section("Timeline");
  const anomalies = section("Member anomalies");
  const pageNotice = h("div");

  const container = h(
    "article",
    { "data-testid": "incident", "data-incident-id": incidentId, class: "incident" },
    h("p", { class: "breadcrumb" }, h("a", { href: routeHref("incidents") }, "← Back to the list")),
    heading,
    pageNotice,
    h(
      "div",
      { class: "incident-head" },
      causeLine,
      h("p", { class: "badges" }, "Status: ", statusBadge, " Severity: ", severitySlot),
      times,
      servicesLine,
    ),
    h("div", { class: "actions", role: "group", "aria-label": "Actions" }, ackButton, " ", resolveButton),
    liveStatus,
    h("div", { class: "incident-grid" }, impact.element, candidates.element),
    waterfallSection.element,
    timeline.element,
    anomalies.element,
    h("section", { class: "panel" }, h("h2", {}, "Add a comment"), commentForm),
  );
  outlet.append(container);
  for (const part of [impact, candidates, timeline, anomalies]) part.body.append(loading());

  // --- state ----------------------------------------------------------------------------------
  let detail = null;
  let changes = []; // changes to its services around its time (see loadChanges)
  const drawn = {}; // section -> JSON of what it shows, to redraw only what changed
  let chosenTrace = null; // {traceId, key of its candidate} picked with a button; else automatic
  let shownTrace = null; // the trace id the waterfall is for (or is loading)
  let traceLoad = null;
  const traces = new Map(); // trace id -> trace or {error}
  let busy = false;
  let gone = false;

  function changed(name, value) {
    const json = JSON.stringify(value);
    if (drawn[name] === json) return false;
    drawn[name] = json;
    return true;
  }

  function drawHead() {
    document.title = `${detail.title} · AIOps`;
    heading.textContent = detail.title;
    container.setAttribute("data-status", detail.status);
    container.setAttribute("data-severity", detail.severity);
    statusBadge.textContent = detail.status;
    statusBadge.className = `badge status-${detail.status}`;
    if (changed("severity", detail.severity)) fill(severitySlot, severityBadge(detail.severity));
    const running = !detail.resolved_at;
    fill(
      times,
      `Started ${formatTime(detail.started_at)}, opened ${formatTime(detail.opened_at)}`,
      detail.acknowledged_at ? `, acknowledged ${formatTime(detail.acknowledged_at)}` : "",
      detail.resolved_at ? `, resolved ${formatTime(detail.resolved_at)}` : "",
      `; ${running ? "running for" : "lasted"} ${formatDuration(secondsBetween(detail.started_at, detail.resolved_at))}`,
      detail.reopened_count ? `; reopened ${detail.reopened_count} time(s)` : "",
      ".",
    );
    const cause = detail.root_cause || (detail.candidates || [])[0] || null;
    if (changed("cause", cause && [cause.service, cause.operation, cause.kind, cause.node_kind, cause.instance])) drawCause(cause);
    if (changed("services", detail.services)) fill(servicesLine, "Services with an anomaly: ", serviceLinks(detail.services || []));
    ackButton.disabled = busy || detail.status !== "open";
    resolveButton.disabled = busy || detail.status === "resolved";
  }

  /** "Root cause: payment · instance payment-2 — POST /payment (errors)". */
  function drawCause(cause) {
    causeLine.setAttribute("data-instance", (cause && cause.instance) || "");
    if (!cause) {
      fill(causeLine, h("span", { class: "headline-label" }, "Root cause: "), "not ranked yet.");
      return;
    }
    fill(
      causeLine,
      h("span", { class: "headline-label" }, "Root cause: "),
      causeTitle(cause),
      " — ",
      h("span", { class: "mono" }, cause.operation),
      ` (${KIND_WORDS[cause.kind] || cause.kind})`,
      cause.instance ? h("span", { class: "muted headline-hint" }, `: one instance of ${cause.service}, its siblings do not share the trouble.`) : ".",
    );
  }

  function drawImpact() {
    // Each measure as it is now (the last 30 s of the member series, the last 5 minutes of the
    // entry points) and at its peak, which sets the severity.
    const i = detail.impact || {};
    const withPeak = (now, peak, format) => `${format(now)} now · peak ${format(peak)}`;
    const factor = (value) => `${formatNumber(value)} ×`;
    fill(
      impact.body,
      definitionList([
        ["Entry-point requests (last 5 min)", formatNumber(i.entry_requests)],
        ["Failed or slow", withPeak(i.affected_share, i.peak_affected_share, formatPercent)],
        ["Error ratio of failing members", withPeak(i.error_ratio, i.peak_error_ratio, formatPercent)],
        ["Latency vs usual of slow members", withPeak(i.latency_factor, i.peak_latency_factor, factor)],
      ]),
    );
  }

  function drawCandidates() {
    const list = detail.candidates || [];
    if (list.length === 0) {
      fill(candidates.body, h("p", {}, "Not ranked yet: candidates appear as traces reach the store."));
      return;
    }
    keepingFocus(candidates.body, () =>
      fill(
        candidates.body,
        h(
          "ol",
          { class: "candidates" },
          list.map((candidate, index) =>
            h(
              "li",
              {
                class: "candidate",
                "data-testid": "candidate",
                "data-rank": index + 1,
                "data-service": candidate.service,
                "data-operation": candidate.operation,
                "data-kind": candidate.kind,
                "data-node-kind": candidate.node_kind || "service",
                "data-instance": candidate.instance || null,
              },
              h(
                "h3",
                {},
                h("span", { class: "rank" }, `#${index + 1} `),
                causeTitle(candidate),
                " ",
                h("span", { class: "mono" }, candidate.operation),
                " ",
                h("span", { class: "kind" }, `${KIND_WORDS[candidate.kind] || candidate.kind} (${candidate.kind})`),
              ),
              h("p", {}, "Share of the blame: ", scoreBar(candidate.score, "score")),
              h("p", { class: "reason" }, candidate.reason),
              evidenceView(candidate, index, shownTrace, showTrace),
            ),
          ),
        ),
      ),
    );
  }

  function drawTimeline() {
    // The incident's events, and the changes to its services just before and during it, by time.
    const changeEvents = changes.map((change) => ({ at: change.at, type: "change", actor: change.source, change }));
    const events = [...(detail.timeline || []), ...changeEvents].sort((a, b) => parseTime(a.at) - parseTime(b.at));
    const { element, tbody } = table(["Time", "Event", "By", "Detail"], { className: "data-table timeline" });
    for (const event of events) {
      tbody.append(
        h(
          "tr",
          { "data-event-type": event.type },
          h("td", { class: "nowrap" }, formatTime(event.at)),
          h("th", { scope: "row" }, EVENT_TITLES[event.type] || event.type),
          h("td", {}, event.actor),
          h("td", { class: event.type === "comment" || event.type === "accepted_as_normal" ? "comment-text" : null }, event.change ? changeWords(event.change) : detailWords(event)),
        ),
      );
    }
    fill(timeline.body, events.length ? element : h("p", {}, "Nothing yet."));
  }

  function drawAnomalies() {
    const list = detail.anomalies || [];
    const { element, tbody } = table(["Service", "Operation", "Kind", "Score", "Started", "Cleared"]);
    for (const anomaly of list) {
      tbody.append(
        h(
          "tr",
          {},
          h("th", { scope: "row" }, h("a", { href: routeHref("services", anomaly.service) }, anomaly.service)),
          h("td", { class: "mono" }, anomaly.operation),
          h("td", {}, `${KIND_WORDS[anomaly.kind] || anomaly.kind} (${anomaly.kind})`),
          h("td", { class: "num" }, formatNumber(anomaly.score)),
          h("td", { class: "nowrap" }, formatTime(anomaly.started_at)),
          h("td", { class: "nowrap" }, anomaly.cleared_at ? formatTime(anomaly.cleared_at) : "still open"),
        ),
      );
    }
    fill(anomalies.body, list.length ? element : h("p", {}, "None."));
  }

  // --- the waterfall ------------------------------------------------------------------------
  const candidateKey = (c) => `${c.service}|${c.operation}|${c.kind}`;

  /**
   * The trace to show and the candidate whose evidence it is: the one picked with a button
   * while that candidate is still ranked, else the first trace of the top candidate (or of the
   * best-ranked one that has a trace yet).
   */
  function traceChoice() {
    const list = (detail && detail.candidates) || [];
    if (chosenTrace) {
      const index = list.findIndex((c) => candidateKey(c) === chosenTrace.key);
      if (index >= 0) return { traceId: chosenTrace.traceId, candidateIndex: index, chosen: true };
      chosenTrace = null;
    }
    for (let index = 0; index < list.length; index++) {
      const ids = (list[index].evidence && list[index].evidence.trace_ids) || [];
      if (ids.length > 0) return { traceId: ids[0], candidateIndex: index, chosen: false };
    }
    return null;
  }

  function causeFor(choice) {
    const candidate = detail.candidates[choice.candidateIndex];
    const evidence = candidate.evidence || {};
    const at = (evidence.trace_ids || []).indexOf(choice.traceId);
    const path = at >= 0 ? (evidence.span_paths || [])[at] : null;
    return {
      pathEnd: path && path.length ? path[path.length - 1] : null,
      service: candidate.service,
      operation: candidate.operation,
    };
  }

  function drawWaterfall() {
    const choice = traceChoice();
    if (!choice) {
      shownTrace = null;
      fill(waterfallBox, h("p", {}, "No exemplar trace yet: the ranking attaches traces as they reach the store."));
      return;
    }
    const trace = traces.get(choice.traceId);
    shownTrace = choice.traceId;
    if (!trace) {
      fill(waterfallBox, loading(`Loading trace ${choice.traceId}…`));
      loadTrace(choice.traceId);
      return;
    }
    if (trace.error) {
      fill(waterfallBox, notice(trace.error));
      return;
    }
    if (!trace.spans || trace.spans.length === 0) {
      fill(waterfallBox, h("p", {}, `Trace ${choice.traceId} has no stored spans.`));
      return;
    }
    const candidate = detail.candidates[choice.candidateIndex];
    fill(
      waterfallBox,
      h(
        "p",
        { class: "muted" },
        `Evidence of candidate #${choice.candidateIndex + 1} (${causeName(candidate)} ${candidate.operation})`,
        choice.chosen ? "." : choice.candidateIndex === 0 ? ", the top candidate: shown by default." : ": the first candidate with a trace.",
      ),
      renderWaterfall(trace, causeFor(choice)),
    );
  }

  async function loadTrace(traceId) {
    if (traceLoad === traceId) return;
    traceLoad = traceId;
    try {
      const trace = await api(`aiops/traces/${encodeURIComponent(traceId)}`, { signal });
      traces.set(traceId, trace);
    } catch (error) {
      if (isAbort(error)) return;
      const message = error.status === 404 ? `Trace ${traceId} is not in the store (any more).` : error.message;
      traces.set(traceId, { error: message });
    } finally {
      if (traceLoad === traceId) traceLoad = null;
    }
    if (traces.size > TRACE_CACHE) traces.delete(traces.keys().next().value);
    if (!gone && shownTrace === traceId) drawWaterfall();
  }

  function showTrace(traceId, candidateIndex) {
    chosenTrace = { traceId, key: candidateKey(detail.candidates[candidateIndex]) };
    show(detail);
    waterfallSection.element.scrollIntoView({ block: "start" });
  }

  // --- loading and drawing --------------------------------------------------------------------
  function show(next) {
    detail = next;
    pageNotice.replaceChildren();
    drawHead();
    if (changed("impact", detail.impact)) drawImpact();
    const choice = traceChoice();
    const traceId = choice ? choice.traceId : null;
    const candidatesChanged = changed("candidates", detail.candidates);
    const traceMoved = traceId !== shownTrace;
    shownTrace = traceId; // before drawing the candidates: their buttons show which is pressed
    if (candidatesChanged || traceMoved) drawCandidates();
    const owner = choice ? detail.candidates[choice.candidateIndex] : null;
    if (changed("waterfall", [choice, owner])) drawWaterfall();
    if (changed("timeline", [detail.timeline, changes])) drawTimeline();
    if (changed("anomalies", detail.anomalies)) drawAnomalies();
  }

  // Answers can arrive out of order (a poll sent just before an Acknowledge may answer after
  // it). Every change of status adds a timeline event, and event ids only grow: an answer whose
  // timeline ends before the one shown is older, and is dropped.
  const lastEventId = (incident) => Math.max(0, ...(incident.timeline || []).map((e) => Number(e.id) || 0));
  function showIfNewest(next) {
    if (detail && lastEventId(next) < lastEventId(detail)) return;
    show(next);
  }

  /** The changes to the incident's services from CHANGE_WINDOW_MS before it began to its end. */
  async function loadChanges(incident) {
    const began = parseTime(incident.started_at);
    if (!began) return;
    const involved = new Set([...(incident.candidates || []), ...(incident.anomalies || [])].map((one) => one.service));
    const since = new Date(began.getTime() - CHANGE_WINDOW_MS).toISOString();
    const all = await api(`aiops/changes${query({ since, until: incident.resolved_at || undefined, limit: 1000 })}`, { signal });
    changes = all.filter((change) => involved.has(change.service));
  }

  async function refresh() {
    try {
      const next = await api(base, { signal });
      await loadChanges(next);
      showIfNewest(next);
    } catch (error) {
      if (isAbort(error)) return;
      if (error.status === 404 || error.status === 422) {
        stopPolling();
        fill(pageNotice, notice(error.status === 404 ? `There is no incident ${incidentId}.` : error.message));
        heading.textContent = "Incident not found";
      } else {
        fill(pageNotice, notice(error.message));
      }
    }
  }
  const refreshSoon = debounce(refresh, 200);

  async function act(label, path, body, done) {
    busy = true;
    ackButton.disabled = resolveButton.disabled = commentButton.disabled = true;
    try {
      showIfNewest(await api(`${base}/${path}`, { method: "POST", body }));
      say(done, "ok");
      return true;
    } catch (error) {
      if (!isAbort(error)) say(`${label} failed: ${error.message}`, "error");
      return false;
    } finally {
      busy = false;
      commentButton.disabled = false;
      if (detail) drawHead();
      else ackButton.disabled = resolveButton.disabled = false;
    }
  }

  ackButton.addEventListener("click", () => act("Acknowledge", "ack", undefined, "Incident acknowledged."));
  resolveButton.addEventListener("click", () => act("Resolve", "resolve", undefined, "Incident resolved."));
  commentForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = commentText.value.trim();
    if (!text) {
      say("Write a comment first.", "error");
      commentText.focus();
      return;
    }
    // The message does not repeat the comment: it shows once, on the timeline, as text.
    if (await act("Comment", "comments", { text }, "Comment added to the timeline.")) commentText.value = "";
  });

  // --- live -----------------------------------------------------------------------------------
  const stream = openIncidentStream({
    onNotification: ({ event, incident }) => {
      if (String(incident.id).toLowerCase() !== incidentId.toLowerCase()) return;
      liveStatus.textContent = `Live updates: on. ${formatTime(event && event.at)}: ${
        EVENT_TITLES[event && event.type] || "changed"
      }${event && event.actor ? ` (by ${event.actor})` : ""}.`;
      refreshSoon();
    },
    onOpen: () => refreshSoon(),
    onState: ({ state, message, retryInS }) => {
      liveStatus.textContent =
        state === "open" ? "Live updates: on." : `Live updates: off (${message}); trying again in ${retryInS} s.`;
    },
  });
  const stopPolling = poll(refresh, POLL_MS);

  return () => {
    gone = true;
    stream.close();
    stopPolling();
    refreshSoon.cancel();
    controller.abort();
  };
}
