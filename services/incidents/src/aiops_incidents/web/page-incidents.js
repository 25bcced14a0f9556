// Incidents ("#/incidents"): a list that the live stream keeps current without a reload.
//
// The page loads the first page of the API's list, then applies each stream notification to
// it: an incident that matches the filters is inserted or updated in place, one that no
// longer matches (say, resolved while the filter is "open") leaves. Rows are kept by id and
// updated field by field, so a focused link in a row survives an update.

import { api, isAbort, query } from "./api.js";
import { h, fill, routeHref } from "./dom.js";
import { formatDuration, formatTime, rootCauseText, secondsBetween } from "./format.js";
import { replaceQuery } from "./router.js";
import { openIncidentStream } from "./sse.js";
import { poll } from "./poll.js";
import { SEVERITIES, STATUSES, nodeKindBadge, notice, severityBadge, statusBadge } from "./widgets.js";

const PAGE_SIZE = 50;
const TICK_MS = 5000;
const COLUMNS = ["Status", "Severity", "Incident", "Root cause", "Started", "Duration", "Services"];

const EVENT_WORDS = {
  opened: "opened",
  anomaly_joined: "an anomaly joined",
  anomaly_cleared: "an anomaly cleared",
  root_cause_changed: "root cause changed",
  severity_changed: "severity changed",
  acknowledged: "acknowledged",
  comment: "commented on",
  resolved: "resolved",
  reopened: "reopened",
};

function matches(incident, filters) {
  if (filters.status && incident.status !== filters.status) return false;
  if (filters.severity && incident.severity !== filters.severity) return false;
  if (filters.service && !(incident.services || []).includes(filters.service)) return false;
  return true;
}

// Newest first, as the API lists them: by opened_at, then id.
function newestFirst(a, b) {
  const byTime = timeValue(b.opened_at) - timeValue(a.opened_at);
  return byTime !== 0 ? byTime : String(b.id).localeCompare(String(a.id));
}

// Compared as instants, not strings: "12:00:05Z" and "12:00:05.120Z" do not sort as text.
function timeValue(iso) {
  const value = Date.parse(iso);
  return Number.isNaN(value) ? 0 : value;
}

function durationOf(incident) {
  return formatDuration(secondsBetween(incident.started_at, incident.resolved_at));
}

/** A row whose cells are kept and updated, not rebuilt. */
function createRow() {
  const cells = {
    status: h("td"),
    severity: h("td"),
    link: h("a", {}),
    rootCause: h("td", { "data-testid": "root-cause", class: "mono" }),
    started: h("td"),
    duration: h("td", { class: "num" }),
    services: h("td"),
  };
  const tr = h(
    "tr",
    { "data-testid": "incident-row" },
    cells.status,
    cells.severity,
    h("th", { scope: "row" }, cells.link),
    cells.rootCause,
    cells.started,
    cells.duration,
    cells.services,
  );
  return { tr, cells };
}

/**
 * "payment (payment-2) POST /payment error_ratio" when one instance carries it; an inferred peer
 * with its kind after it: "postgresql stock-db SELECT stock latency [database]".
 */
function updateCause(cell, cause) {
  const text = rootCauseText(cause);
  const nodeKind = (cause && cause.node_kind) || "service";
  const shown = JSON.stringify([text, nodeKind]);
  if (cell.dataset.shown === shown) return;
  cell.dataset.shown = shown;
  cell.setAttribute("data-node-kind", cause ? nodeKind : "");
  cell.setAttribute("data-instance", (cause && cause.instance) || "");
  const badge = cause ? nodeKindBadge(nodeKind) : null;
  fill(cell, text, badge ? [" ", badge] : null);
}

function updateRow(row, incident) {
  const { tr, cells } = row;
  tr.setAttribute("data-incident-id", incident.id);
  tr.setAttribute("data-status", incident.status);
  tr.setAttribute("data-severity", incident.severity);
  if (cells.status.textContent !== incident.status) fill(cells.status, statusBadge(incident.status));
  if (cells.severity.textContent !== incident.severity) fill(cells.severity, severityBadge(incident.severity));
  cells.link.setAttribute("href", routeHref("incidents", incident.id));
  cells.link.textContent = incident.title;
  updateCause(cells.rootCause, incident.root_cause);
  cells.started.textContent = formatTime(incident.started_at);
  cells.started.setAttribute("title", String(incident.started_at));
  cells.duration.textContent = durationOf(incident);
  cells.services.textContent = (incident.services || []).join(", ");
}

export function renderIncidents(outlet, { query: params }) {
  document.title = "Incidents · AIOps";
  const filters = {
    status: STATUSES.includes(params.get("status")) ? params.get("status") : "",
    severity: SEVERITIES.includes(params.get("severity")) ? params.get("severity") : "",
    service: params.get("service") || "",
  };
  const incidents = new Map(); // id -> IncidentSummary shown
  const rows = new Map(); // id -> {tr, cells}
  let nextCursor = null;
  const controller = new AbortController();
  const { signal } = controller;

  // --- the view ---------------------------------------------------------------------------
  const select = (id, label, options, value) => {
    const element = h(
      "select",
      { id, name: id },
      options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)),
    );
    return { wrapper: h("div", { class: "field" }, h("label", { for: id }, label), element), element };
  };
  const statusSelect = select("filter-status", "Status", [["", "any status"], ...STATUSES.map((s) => [s, s])], filters.status);
  const severitySelect = select("filter-severity", "Severity", [["", "any severity"], ...SEVERITIES.map((s) => [s, s])], filters.severity);
  const serviceSelect = select("filter-service", "Service", [["", "any service"]], filters.service);
  if (filters.service) serviceSelect.element.append(h("option", { value: filters.service, selected: true }, filters.service));

  const liveStatus = h("p", { class: "live-status", "aria-live": "polite" }, "Live updates: connecting…");
  const tbody = h("tbody");
  const emptyRow = h("tr", { class: "empty" }, h("td", { colspan: COLUMNS.length }, "Loading…"));
  tbody.append(emptyRow);
  const listNotice = h("div");
  const moreButton = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");

  outlet.append(
    h("h1", {}, "Incidents"),
    h(
      "form",
      { class: "filters", role: "search", "aria-label": "Filter the list", onsubmit: (e) => e.preventDefault() },
      statusSelect.wrapper,
      severitySelect.wrapper,
      serviceSelect.wrapper,
    ),
    liveStatus,
    listNotice,
    h(
      "table",
      { class: "data-table incidents-table" },
      h("caption", {}, "Newest first; open and acknowledged incidents show how long they have been running."),
      h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
      tbody,
    ),
    moreButton,
  );

  // --- keeping the rows ---------------------------------------------------------------------
  function render() {
    const sorted = [...incidents.values()].sort(newestFirst);
    for (const [id, row] of rows) {
      if (!incidents.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    if (sorted.length === 0) {
      emptyRow.firstChild.textContent = "No incidents match these filters.";
      if (!emptyRow.isConnected) tbody.append(emptyRow);
      return;
    }
    emptyRow.remove();
    sorted.forEach((incident, index) => {
      let row = rows.get(incident.id);
      if (!row) {
        row = createRow();
        rows.set(incident.id, row);
      }
      updateRow(row, incident);
      // Move a row only when it is out of place: moving a node loses its focus.
      if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] || null);
    });
  }

  function flash(id) {
    const row = rows.get(id);
    if (!row) return;
    row.tr.classList.remove("flash");
    void row.tr.offsetWidth; // restart the animation
    row.tr.classList.add("flash");
  }

  // Notifications seen lately, by id: a list read from the API may have been answered just
  // before one of them, and must not undo it.
  const recentLive = new Map();
  const RECENT_MS = 60000;

  function applyLive(incident) {
    const current = incidents.get(incident.id);
    // Out-of-order deliveries: never replace a newer state with an older one.
    if (current && timeValue(current.updated_at) > timeValue(incident.updated_at)) return false;
    if (matches(incident, filters)) incidents.set(incident.id, incident);
    else incidents.delete(incident.id);
    return true;
  }

  let loads = 0;
  async function load({ append = false } = {}) {
    const mine = ++loads;
    try {
      const page = await api(
        `aiops/incidents${query({ ...filters, limit: PAGE_SIZE, cursor: append ? nextCursor : null })}`,
        { signal },
      );
      if (mine !== loads) return; // a later load (other filters, a reconnect) supersedes this one
      if (!append) incidents.clear();
      for (const incident of page.items) incidents.set(incident.id, incident);
      const now = Date.now();
      for (const [id, seen] of recentLive) {
        if (now - seen.at > RECENT_MS) recentLive.delete(id);
        else applyLive(seen.incident);
      }
      nextCursor = page.next_cursor;
      moreButton.hidden = !nextCursor;
      listNotice.replaceChildren();
      render();
    } catch (error) {
      if (isAbort(error)) return;
      fill(listNotice, notice(error.message));
      if (incidents.size === 0) emptyRow.firstChild.textContent = "The list could not be loaded.";
    }
  }

  async function loadServices() {
    try {
      const graph = await api("aiops/services", { signal });
      const names = new Set((graph.services || []).map((s) => s.service));
      if (filters.service) names.add(filters.service);
      const options = [h("option", { value: "" }, "any service")];
      for (const name of [...names].sort()) options.push(h("option", { value: name, selected: name === filters.service }, name));
      serviceSelect.element.replaceChildren(...options);
    } catch {
      // The filter keeps its "any service" choice; the list itself reports load errors.
    }
  }

  function applyFilters() {
    filters.status = statusSelect.element.value;
    filters.severity = severitySelect.element.value;
    filters.service = serviceSelect.element.value;
    replaceQuery(filters);
    nextCursor = null;
    load();
  }
  for (const { element } of [statusSelect, severitySelect, serviceSelect]) element.addEventListener("change", applyFilters);
  moreButton.addEventListener("click", () => load({ append: true }));

  // --- live ---------------------------------------------------------------------------------
  function onNotification({ event, incident }) {
    recentLive.set(incident.id, { incident, at: Date.now() });
    if (!applyLive(incident)) return;
    render();
    flash(incident.id);
    const what = EVENT_WORDS[event && event.type] || "updated";
    liveStatus.textContent = `Live updates: on. ${formatTime(event && event.at)}: "${incident.title}" ${what}.`;
  }

  const stream = openIncidentStream({
    onNotification,
    // On every (re)connect the list is read again: the stream does not replay what was missed.
    onOpen: () => load(),
    onState: ({ state, message, retryInS }) => {
      liveStatus.textContent =
        state === "open" ? "Live updates: on." : `Live updates: off (${message}); trying again in ${retryInS} s.`;
    },
  });

  load();
  loadServices();
  // Running incidents' durations tick.
  const stopTicking = poll(
    async () => {
      for (const [id, row] of rows) {
        const incident = incidents.get(id);
        if (incident && !incident.resolved_at) row.cells.duration.textContent = durationOf(incident);
      }
    },
    TICK_MS,
    { immediately: false },
  );

  return () => {
    stream.close();
    stopTicking();
    controller.abort();
  };
}
