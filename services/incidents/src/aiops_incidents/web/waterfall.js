// A trace as a waterfall: one row per span, indented by its depth in the call tree, with a bar
// placed by when it started and sized by how long it took, relative to the whole trace.

import { h } from "./dom.js";
import { formatMs } from "./format.js";

/** Spans in call-tree order (each parent followed by its children, by start time), with depth. */
export function treeOrder(spans) {
  const byId = new Map(spans.map((span) => [span.span_id, span]));
  const children = new Map();
  const roots = [];
  for (const span of spans) {
    const parent = span.parent_span_id;
    // A span whose parent is missing from the trace (not stored, or still arriving) is shown
    // as a root rather than dropped.
    if (parent && byId.has(parent) && parent !== span.span_id) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(span);
    } else {
      roots.push(span);
    }
  }
  const ordered = [];
  const visited = new Set();
  const visit = (span, depth) => {
    if (visited.has(span.span_id)) return; // a cycle in bad data: show each span once
    visited.add(span.span_id);
    ordered.push({ span, depth });
    for (const child of children.get(span.span_id) || []) visit(child, depth + 1);
  };
  for (const root of roots) visit(root, 0);
  // Spans only reachable through a cycle still get a row.
  for (const span of spans) if (!visited.has(span.span_id)) visit(span, 0);
  return ordered;
}

/**
 * Which row is the root cause: the span whose "service operation" is the last step of the
 * candidate's span path for this trace; failing that, the deepest span of the candidate's
 * service and operation. Of several, the deepest, and of those a failed one first.
 */
export function findRootCause(rows, { pathEnd, service, operation } = {}) {
  const pick = (matching) => {
    if (matching.length === 0) return null;
    return matching.reduce((best, row) => {
      if (row.depth !== best.depth) return row.depth > best.depth ? row : best;
      if (row.span.is_error && !best.span.is_error) return row;
      return best;
    });
  };
  if (pathEnd) {
    const found = pick(rows.filter(({ span }) => `${span.service} ${span.operation}` === pathEnd));
    if (found) return found;
  }
  if (service) {
    const found = pick(rows.filter(({ span }) => span.service === service && span.operation === operation));
    if (found) return found;
    return pick(rows.filter(({ span }) => span.service === service && span.is_error));
  }
  return null;
}

function startMs(span) {
  const value = Date.parse(span.start_time);
  return Number.isNaN(value) ? 0 : value;
}

/** The waterfall table for `trace` ({trace_id, spans}); `cause` as for findRootCause. */
export function renderWaterfall(trace, cause) {
  const spans = trace.spans || [];
  const rows = treeOrder(spans);
  const root = findRootCause(rows, cause);
  const begin = Math.min(...spans.map(startMs));
  const end = Math.max(...spans.map((span) => startMs(span) + Math.max(0, Number(span.duration_ms) || 0)));
  const totalMs = Math.max(end - begin, 1);

  const tbody = h("tbody");
  for (const row of rows) {
    const { span, depth } = row;
    const isCause = row === root;
    const offsetMs = startMs(span) - begin;
    const durationMs = Math.max(0, Number(span.duration_ms) || 0);
    const bar = h("span", {
      class: `wf-bar${span.is_error ? " wf-bar-error" : ""}${isCause ? " wf-bar-cause" : ""}`,
      title: `starts at +${formatMs(offsetMs)}, takes ${formatMs(durationMs)}`,
    });
    // Positions through the CSSOM: computed numbers, never data.
    bar.style.left = `${((offsetMs / totalMs) * 100).toFixed(2)}%`;
    bar.style.width = `${Math.max((durationMs / totalMs) * 100, 0.3).toFixed(2)}%`;
    const name = h(
      "th",
      { scope: "row", class: "wf-name" },
      h("span", { class: "wf-service" }, span.service),
      " ",
      h("span", { class: "wf-operation mono" }, span.operation),
      span.kind ? h("span", { class: "wf-kind" }, ` (${span.kind})`) : null,
      isCause ? h("span", { class: "badge cause-badge" }, "root cause") : null,
    );
    name.style.paddingLeft = `${0.5 + Math.min(depth, 20) * 1.1}rem`;
    tbody.append(
      h(
        "tr",
        {
          "data-testid": "span",
          "data-service": span.service,
          "data-operation": span.operation,
          "data-span-id": span.span_id,
          "data-depth": depth,
          "data-root-cause": isCause ? "true" : null,
          class: `${span.is_error ? "wf-error" : ""}${isCause ? " wf-cause" : ""}`.trim() || null,
        },
        name,
        h("td", { class: "wf-track-cell" }, h("span", { class: "wf-track" }, bar)),
        h("td", { class: "num" }, formatMs(durationMs)),
        h(
          "td",
          { class: "wf-error-cell" },
          span.is_error ? h("span", {}, h("strong", {}, "error"), span.error_message ? `: ${span.error_message}` : "") : "ok",
        ),
      ),
    );
  }

  return h(
    "table",
    { class: "data-table waterfall-table" },
    h(
      "caption",
      {},
      `Trace ${trace.trace_id}: ${spans.length} spans over ${formatMs(totalMs)}.`,
      root ? " The root-cause span is marked “root cause”." : "",
    ),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Span (service, operation)"),
        h("th", { scope: "col", class: "wf-track-head" }, `Time (0 – ${formatMs(totalMs)})`),
        h("th", { scope: "col" }, "Duration"),
        h("th", { scope: "col" }, "Error"),
      ),
    ),
    tbody,
  );
}
