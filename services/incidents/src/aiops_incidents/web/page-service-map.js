// The service map ("#/services"): the call graph learned from the traces, entry services on
// the left and their callees to the right by depth, each node coloured by health and saying
// its health in words, each edge an arrow with its call rate and error ratio. A service still
// learning what normal looks like says so, and how long it has to go, rather than "ok".

import { api, isAbort } from "./api.js";
import { h, svg, fill, px, routeHref } from "./dom.js";
import { formatAbout, formatDuration, formatNumber, formatPercent } from "./format.js";
import { poll } from "./poll.js";
import { healthBadge, loading, notice, section, table } from "./widgets.js";

const REFRESH_MS = 10000;
const NODE_W = 170;
const NODE_H = 58;
const COLUMN_GAP = 200; // room for an edge's label between the columns
const ROW_GAP = 40;
const MARGIN = 24;

/** The calls that close a cycle (found by a depth-first walk from the entry services). */
function backEdges(names, calls) {
  const callees = new Map(names.map((n) => [n, []]));
  for (const edge of calls) callees.get(edge.source).push(edge);
  const hasCaller = new Set(calls.map((e) => e.target));
  const state = new Map(); // name -> "active" while on the walk's path, "done" after
  const back = new Set();
  const walk = (name) => {
    state.set(name, "active");
    for (const edge of callees.get(name)) {
      const next = state.get(edge.target);
      if (next === "active") back.add(edge);
      else if (next === undefined) walk(edge.target);
    }
    state.set(name, "done");
  };
  for (const name of names) if (!hasCaller.has(name) && !state.has(name)) walk(name);
  for (const name of names) if (!state.has(name)) walk(name); // cycles nobody enters from outside
  return back;
}

/**
 * Layers: a service nobody calls is at depth 0, every callee one deeper than its deepest
 * caller (the longest path), ignoring the calls that close a cycle.
 */
export function layout(serviceNames, edges) {
  const names = [...new Set([...serviceNames, ...edges.flatMap((e) => [e.source, e.target])])].sort();
  const depth = new Map(names.map((n) => [n, 0]));
  const calls = edges.filter((e) => e.source !== e.target);
  const back = backEdges(names, calls);
  const forward = calls.filter((e) => !back.has(e));
  // Longest path on what is now acyclic: at most one pass per service settles it.
  for (let round = 0; round < names.length; round++) {
    let moved = false;
    for (const edge of forward) {
      const wanted = depth.get(edge.source) + 1;
      if (wanted > depth.get(edge.target)) {
        depth.set(edge.target, wanted);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const columns = [];
  for (const name of names) {
    const d = depth.get(name);
    (columns[d] = columns[d] || []).push(name);
  }
  // Order each column by where its callers sit, so edges cross less.
  const row = new Map();
  columns.forEach((column, d) => {
    if (!column) return;
    if (d > 0) {
      const callerRows = (name) => forward.filter((e) => e.target === name && row.has(e.source)).map((e) => row.get(e.source));
      const weight = (name) => {
        const rows = callerRows(name);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : Infinity;
      };
      column.sort((a, b) => weight(a) - weight(b) || a.localeCompare(b));
    }
    column.forEach((name, i) => row.set(name, i));
  });
  const tallest = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
  const height = MARGIN * 2 + tallest * NODE_H + (tallest - 1) * ROW_GAP;
  const positions = new Map();
  columns.forEach((column, d) => {
    if (!column) return;
    const columnHeight = column.length * NODE_H + (column.length - 1) * ROW_GAP;
    const top = (height - columnHeight) / 2;
    column.forEach((name, i) => {
      positions.set(name, { x: MARGIN + d * (NODE_W + COLUMN_GAP), y: top + i * (NODE_H + ROW_GAP), depth: d });
    });
  });
  const width = MARGIN * 2 + Math.max(1, columns.length) * NODE_W + Math.max(0, columns.length - 1) * COLUMN_GAP;
  return { names, positions, width, height };
}

function edgeClass(edge) {
  if (edge.error_ratio >= 0.2) return "edge edge-failing";
  if (edge.error_ratio >= 0.01) return "edge edge-degraded";
  return "edge";
}

function edgeLabel(edge) {
  return `${formatNumber(edge.calls_per_s)}/s · ${formatPercent(edge.error_ratio)} errors`;
}

/** What a node says under its name: "failing · 1 open", "learning · ~40 s", "ok". */
function nodeHealthText(node, anomalies) {
  if (anomalies) return `${node.health} · ${anomalies} open`;
  if (node.health === "learning") {
    const remaining = formatAbout(node.learning_remaining_s);
    return remaining ? `learning · ${remaining}` : "learning";
  }
  return node.health;
}

/** The health in a sentence, for the node's accessible name and tooltip. */
function healthWords(node) {
  if (node.health !== "learning") return node.health;
  const remaining = Number(node.learning_remaining_s);
  return (
    "learning: it has not learned what normal looks like yet, only the floors judge it" +
    (remaining >= 1 ? ` (about ${formatDuration(remaining)} more if it stays healthy)` : "")
  );
}

function drawMap(graph) {
  const health = new Map((graph.services || []).map((s) => [s.service, s]));
  const edges = graph.edges || [];
  const { names, positions, width, height } = layout([...health.keys()], edges);
  const root = svg("svg", {
    viewBox: `0 0 ${px(width, { min: 1 })} ${px(height, { min: 1 })}`,
    class: "service-map",
    "data-testid": "service-map",
    role: "group",
    "aria-label": "Service map: services as nodes, calls as arrows",
  });
  root.style.maxWidth = `${px(width, { min: 1 })}px`;
  root.append(
    svg(
      "defs",
      {},
      ...["edge", "edge-degraded", "edge-failing"].map((kind) =>
        svg(
          "marker",
          { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" },
          svg("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow-head arrow-${kind}` }),
        ),
      ),
    ),
  );

  for (const edge of edges) {
    const from = positions.get(edge.source);
    const to = positions.get(edge.target);
    if (!from || !to) continue;
    const kind = edgeClass(edge).split(" ")[1] || "edge";
    let d;
    let labelX;
    let labelY;
    if (edge.source === edge.target) {
      // A service calling itself: a loop above the node.
      const x = from.x + NODE_W / 2;
      d = `M${px(x - 20)},${px(from.y)} C${px(x - 40)},${px(from.y - 45)} ${px(x + 40)},${px(from.y - 45)} ${px(x + 20)},${px(from.y)}`;
      labelX = x;
      labelY = from.y - 38;
    } else if (to.depth > from.depth) {
      const x1 = from.x + NODE_W;
      const y1 = from.y + NODE_H / 2;
      const x2 = to.x;
      const y2 = to.y + NODE_H / 2;
      const bend = (x2 - x1) / 2;
      d = `M${px(x1)},${px(y1)} C${px(x1 + bend)},${px(y1)} ${px(x2 - bend)},${px(y2)} ${px(x2)},${px(y2)}`;
      labelX = (x1 + x2) / 2;
      labelY = (y1 + y2) / 2 - 6;
    } else {
      // A call back to the left (a cycle): curve under the nodes.
      const x1 = from.x + NODE_W / 2;
      const y1 = from.y + NODE_H;
      const x2 = to.x + NODE_W / 2;
      const y2 = to.y + NODE_H;
      const dip = Math.max(y1, y2) + 50;
      d = `M${px(x1)},${px(y1)} C${px(x1)},${px(dip)} ${px(x2)},${px(dip)} ${px(x2)},${px(y2)}`;
      labelX = (x1 + x2) / 2;
      labelY = dip - 8;
    }
    root.append(
      svg(
        "g",
        { class: "edge-group", "data-testid": "service-edge", "data-source": edge.source, "data-target": edge.target },
        svg("path", { d, class: edgeClass(edge), "marker-end": `url(#arrow-${kind})` }, svg("title", {}, `${edge.source} → ${edge.target}: ${edgeLabel(edge)}`)),
        svg("text", { x: px(labelX), y: px(labelY), "text-anchor": "middle", class: "edge-label" }, edgeLabel(edge)),
      ),
    );
  }

  for (const name of names) {
    const at = positions.get(name);
    const node = health.get(name) || { service: name, health: "ok", open_anomalies: 0 };
    const anomalies = Number(node.open_anomalies) || 0;
    const healthClass = /^[a-z]+$/.test(node.health) ? node.health : "unknown";
    root.append(
      svg(
        "a",
        {
          href: routeHref("services", name),
          class: `node node-${healthClass}`,
          "data-testid": "service-node",
          "data-service": name,
          "data-health": node.health,
          "data-focus-key": name,
          "aria-label": `${name}: ${healthWords(node)}; ${anomalies} open anomal${anomalies === 1 ? "y" : "ies"}. Open its series.`,
        },
        svg("rect", { x: px(at.x), y: px(at.y), width: NODE_W, height: NODE_H, rx: 8, class: "node-box" }),
        svg("text", { x: px(at.x + 12), y: px(at.y + 23), class: "node-name" }, name.length > 20 ? `${name.slice(0, 19)}…` : name),
        svg("text", { x: px(at.x + 12), y: px(at.y + 44), class: "node-health" }, nodeHealthText(node, anomalies)),
        svg("title", {}, `${name}: ${healthWords(node)}`),
      ),
    );
  }
  return root;
}

function drawTables(graph) {
  const services = table(["Service", "Health", "Open anomalies"], { caption: "Services" });
  for (const node of graph.services || []) {
    services.tbody.append(
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("a", { href: routeHref("services", node.service) }, node.service)),
        h("td", {}, healthBadge(node.health, node.learning_remaining_s)),
        h("td", { class: "num" }, String(node.open_anomalies)),
      ),
    );
  }
  const calls = table(["Caller", "Callee", "Calls per second", "Error ratio"], { caption: "Calls" });
  for (const edge of graph.edges || []) {
    calls.tbody.append(
      h(
        "tr",
        {},
        h("th", { scope: "row" }, edge.source),
        h("td", {}, edge.target),
        h("td", { class: "num" }, formatNumber(edge.calls_per_s)),
        h("td", { class: "num" }, formatPercent(edge.error_ratio)),
      ),
    );
  }
  return h("div", { class: "two-columns" }, services.element, calls.element);
}

export function renderServiceMap(outlet) {
  document.title = "Service map · AIOps";
  const map = section("Map");
  const details = section("As tables");
  map.body.append(loading());
  const updated = h("p", { class: "muted" });
  outlet.append(
    h("h1", {}, "Service map"),
    h(
      "p",
      {},
      "Learned from the traces: an arrow is a call from one service to another, labelled with its rate and error ratio. " +
        "Select a service to see its series. Health: ok, degraded (an open anomaly), failing (an open error anomaly), " +
        "learning (no anomaly, but it has not learned what normal looks like yet: only the floors judge it, so it is not known to be ok).",
    ),
    map.element,
    updated,
    details.element,
  );
  const controller = new AbortController();
  let lastDrawn = null;

  async function refresh() {
    try {
      const graph = await api("aiops/services", { signal: controller.signal });
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
      // last_seen moves on every refresh; only what the map shows decides a redraw.
      const json = JSON.stringify([graph.services, (graph.edges || []).map(({ last_seen: _, ...shown }) => shown)]);
      if (json === lastDrawn) return;
      lastDrawn = json;
      if ((graph.services || []).length === 0 && (graph.edges || []).length === 0) {
        fill(map.body, h("p", {}, "No service seen yet: the map is learned from the traces every few seconds."));
        fill(details.body);
        return;
      }
      // Redrawn whole; the focused node gets its focus back.
      const active = document.activeElement;
      const focused = active && map.body.contains(active) ? active.getAttribute("data-focus-key") : null;
      fill(map.body, drawMap(graph));
      if (focused) {
        const again = [...map.body.querySelectorAll("[data-focus-key]")].find((el) => el.getAttribute("data-focus-key") === focused);
        if (again) again.focus();
      }
      fill(details.body, drawTables(graph));
    } catch (error) {
      if (!isAbort(error)) fill(map.body, notice(error.message));
      lastDrawn = null;
    }
  }

  const stop = poll(refresh, REFRESH_MS);
  return () => {
    stop();
    controller.abort();
  };
}
