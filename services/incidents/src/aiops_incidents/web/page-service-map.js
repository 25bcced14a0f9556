// The service map ("#/services"): the call graph learned from the traces, entry services on
// the left and their callees to the right by depth, each node coloured by health and saying
// its health in words, each edge an arrow with its call rate and error ratio. A service still
// learning what normal looks like says so, and how long it has to go, rather than "ok".
// A peer that sends no spans (a database, a cache, a queue, an HTTP API), inferred from its
// callers' client spans, has a shape of its own and says its kind under its name; the calls
// into it are dashed.

import { api, isAbort } from "./api.js";
import { h, svg, fill, px, routeHref } from "./dom.js";
import { INFERRED_WORDS, formatAbout, formatDuration, formatNumber, formatPercent, isInferred, nodeKindWord } from "./format.js";
import { poll } from "./poll.js";
import { healthBadge, loading, nodeKindBadge, notice, section, table } from "./widgets.js";

const REFRESH_MS = 10000;
const NODE_W = 190;
const NODE_H = 70;
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

/** "edge", "edge-degraded" or "edge-failing", by the error ratio: also names its arrow head. */
function edgeHealth(edge) {
  if (edge.error_ratio >= 0.2) return "edge-failing";
  if (edge.error_ratio >= 0.01) return "edge-degraded";
  return "edge";
}

function edgeClass(edge) {
  const health = edgeHealth(edge);
  return `edge${health === "edge" ? "" : ` ${health}`}${isInferred(edge.target_kind) ? " edge-inferred" : ""}`;
}

/** Each node's kind: its own, else what the calls into it say; a service when neither does. */
function nodeKinds(graph) {
  const kinds = new Map();
  for (const edge of graph.edges || []) if (edge.target_kind) kinds.set(edge.target, edge.target_kind);
  for (const node of graph.services || []) if (node.kind) kinds.set(node.service, node.kind);
  return kinds;
}

/** How far a node's text stays from its left and right sides, by shape. */
const TEXT_INSET = { service: 12, database: 12, cache: 14, messaging: 20, http: 18 };

/**
 * The outline of a node of `kind` in the box (x, y, w, h), each kind its own shape: a service
 * a rounded box; a database a cylinder; a cache a box with a second outline inside; a queue a
 * pill; an HTTP API a hexagon. The parts classed "node-box" take the health colours.
 */
function nodeShape(kind, x, y, w, h) {
  const box = (tag, attrs) => svg(tag, { class: "node-box", ...attrs });
  const line = (tag, attrs) => svg(tag, { class: "node-box node-rim", ...attrs });
  switch (kind || "service") {
    case "service":
      return [box("rect", { x: px(x), y: px(y), width: px(w), height: px(h), rx: px(Math.min(8, h / 5)) })];
    case "database": {
      const cap = Math.min(7, h / 5);
      const rx = w / 2;
      const top = y + cap;
      const bottom = y + h - cap;
      return [
        box("path", {
          d: `M${px(x)},${px(top)} A${px(rx)},${px(cap)} 0 0 1 ${px(x + w)},${px(top)} V${px(bottom)} A${px(rx)},${px(cap)} 0 0 1 ${px(x)},${px(bottom)} Z`,
        }),
        line("path", { d: `M${px(x)},${px(top)} A${px(rx)},${px(cap)} 0 0 0 ${px(x + w)},${px(top)}` }),
      ];
    }
    case "cache": {
      const gap = Math.min(4, h / 8);
      return [
        box("rect", { x: px(x), y: px(y), width: px(w), height: px(h), rx: 3 }),
        line("rect", { x: px(x + gap), y: px(y + gap), width: px(w - 2 * gap, { min: 0 }), height: px(h - 2 * gap, { min: 0 }), rx: 2 }),
      ];
    }
    case "messaging":
      return [box("rect", { x: px(x), y: px(y), width: px(w), height: px(h), rx: px(Math.min(22, h / 2)) })];
    case "http": {
      const slant = Math.min(12, w / 5);
      const mid = y + h / 2;
      const points = [
        [x + slant, y], [x + w - slant, y], [x + w, mid], [x + w - slant, y + h], [x + slant, y + h], [x, mid],
      ];
      return [box("polygon", { points: points.map(([a, b]) => `${px(a)},${px(b)}`).join(" ") })];
    }
    default:
      return [box("rect", { x: px(x), y: px(y), width: px(w), height: px(h), rx: 2 })];
  }
}

/** What the shapes and dashed arrows mean, under the map. */
function legend() {
  const shape = (kind) =>
    svg("svg", { class: "legend-shape", width: 36, height: 22, viewBox: "0 0 36 22", "aria-hidden": "true" }, nodeShape(kind, 1, 1, 34, 20));
  const arrow = svg(
    "svg",
    { class: "legend-shape", width: 36, height: 22, viewBox: "0 0 36 22", "aria-hidden": "true" },
    svg("path", { d: "M1,11 H33", class: "edge edge-inferred" }),
  );
  const peers = ["database", "cache", "messaging", "http"];
  return h(
    "ul",
    { class: "map-legend", "aria-label": "Legend", "data-testid": "map-legend" },
    h("li", {}, shape("service"), "service: sends spans"),
    h(
      "li",
      {},
      peers.map((kind, i) => [i ? ", " : "", h("span", { class: "nowrap" }, shape(kind), nodeKindWord(kind))]),
      `: ${INFERRED_WORDS}`,
    ),
    h("li", {}, arrow, "a call to an inferred peer"),
  );
}

/**
 * Shrinks, then shortens, each node's name until it fits its node ("postgresql stock-db" is
 * long); measured once the map is in the page. The whole name stays in the node's title and
 * accessible name.
 */
function fitNames(root) {
  for (const text of root.querySelectorAll("text[data-fit]")) {
    const room = Number(text.getAttribute("data-fit"));
    const width = () => text.getComputedTextLength();
    for (const size of [14, 13, 12]) {
      if (width() <= room) break;
      text.style.fontSize = `${size}px`;
    }
    let shown = text.textContent;
    while (shown.length > 1 && width() > room) {
      shown = shown.slice(0, -1);
      text.textContent = `${shown.trimEnd()}…`;
    }
  }
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
  const kinds = nodeKinds(graph);
  const edges = graph.edges || [];
  const { names, positions, width, height } = layout([...health.keys()], edges);
  const root = svg("svg", {
    viewBox: `0 0 ${px(width, { min: 1 })} ${px(height, { min: 1 })}`,
    class: "service-map",
    "data-testid": "service-map",
    role: "group",
    "aria-label": "Service map: services and inferred peers as nodes, calls as arrows",
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
    const kind = edgeHealth(edge);
    const target = isInferred(edge.target_kind) ? ` (${nodeKindWord(edge.target_kind)}, inferred)` : "";
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
        {
          class: "edge-group",
          "data-testid": "service-edge",
          "data-source": edge.source,
          "data-target": edge.target,
          "data-target-kind": edge.target_kind || "service",
        },
        svg("path", { d, class: edgeClass(edge), "marker-end": `url(#arrow-${kind})` }, svg("title", {}, `${edge.source} → ${edge.target}${target}: ${edgeLabel(edge)}`)),
        svg("text", { x: px(labelX), y: px(labelY), "text-anchor": "middle", class: "edge-label" }, edgeLabel(edge)),
      ),
    );
  }

  for (const name of names) {
    const at = positions.get(name);
    const node = health.get(name) || { service: name, health: "ok", open_anomalies: 0 };
    const anomalies = Number(node.open_anomalies) || 0;
    const healthClass = /^[a-z]+$/.test(node.health) ? node.health : "unknown";
    const kind = kinds.get(name) || "service";
    const kindClass = /^[a-z]+$/.test(kind) ? kind : "unknown";
    const inferred = isInferred(kind);
    const what = inferred ? ` (${nodeKindWord(kind)}, ${INFERRED_WORDS})` : "";
    const inset = TEXT_INSET[kind] ?? 14;
    root.append(
      svg(
        "a",
        {
          href: routeHref("services", name),
          class: `node node-${healthClass} node-shape-${kindClass}`,
          "data-testid": "service-node",
          "data-service": name,
          "data-kind": kind,
          "data-health": node.health,
          "data-focus-key": name,
          "aria-label": `${name}${what}: ${healthWords(node)}; ${anomalies} open anomal${anomalies === 1 ? "y" : "ies"}. Open its series.`,
        },
        nodeShape(kind, at.x, at.y, NODE_W, NODE_H),
        // Cut short here only so that fitting it stays cheap; fitNames shortens it to the node.
        svg("text", { x: px(at.x + inset), y: px(at.y + (inferred ? 27 : 29)), class: "node-name", "data-fit": NODE_W - 2 * inset }, name.length > 40 ? `${name.slice(0, 39)}…` : name),
        inferred ? svg("text", { x: px(at.x + inset), y: px(at.y + 44), class: "node-kind-label" }, `${nodeKindWord(kind)} · inferred`) : null,
        svg("text", { x: px(at.x + inset), y: px(at.y + (inferred ? 60 : 52)), class: "node-health" }, nodeHealthText(node, anomalies)),
        svg("title", {}, `${name}${what}: ${healthWords(node)}`),
      ),
    );
  }
  return root;
}

function drawTables(graph) {
  const services = table(["Service", "Kind", "Health", "Open anomalies"], { caption: "Services and inferred peers" });
  for (const node of graph.services || []) {
    services.tbody.append(
      h(
        "tr",
        { "data-kind": node.kind || "service" },
        h("th", { scope: "row" }, h("a", { href: routeHref("services", node.service) }, node.service)),
        h("td", {}, nodeKindBadge(node.kind) || "service"),
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
        h("td", {}, edge.target, isInferred(edge.target_kind) ? [" ", nodeKindBadge(edge.target_kind)] : null),
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
        "learning (no anomaly, but it has not learned what normal looks like yet: only the floors judge it, so it is not known to be ok). " +
        "A database, cache, queue or HTTP API that sends no spans itself is inferred from its callers' spans: " +
        "it has a shape of its own (see the legend under the map), its kind under its name, and dashed arrows into it.",
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
      fill(map.body, drawMap(graph), legend());
      fitNames(map.body);
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
