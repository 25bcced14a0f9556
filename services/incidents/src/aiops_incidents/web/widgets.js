// Small pieces shared by the pages: badges that say their meaning in words (colour is only
// a second cue), sections with a heading, and in-page notices for failed loads.

import { h } from "./dom.js";
import { INFERRED_WORDS, formatAbout, isInferred, nodeKindWord } from "./format.js";

export const SEVERITIES = ["critical", "high", "medium", "low"];
export const STATUSES = ["open", "acknowledged", "resolved"];

export function severityBadge(severity) {
  return h("span", { class: `badge severity-${safeClass(severity)}` }, String(severity));
}

export function statusBadge(status, attrs = {}) {
  return h("span", { class: `badge status-${safeClass(status)}`, ...attrs }, String(status));
}

/** "ok", "failing"…; a learning service says how long it has to go: "learning · ~40 s". */
export function healthBadge(health, learningRemainingS = null) {
  const remaining = health === "learning" ? formatAbout(learningRemainingS) : "";
  return h("span", { class: `badge health-${safeClass(health)}` }, remaining ? `${health} · ${remaining}` : String(health));
}

/**
 * "database", "cache"…: what an inferred peer is, beside its name. Nothing for a service (or a
 * kind an older answer does not give).
 */
export function nodeKindBadge(kind) {
  if (!isInferred(kind)) return null;
  return h(
    "span",
    { class: `badge node-kind node-kind-${safeClass(kind)}`, title: `${nodeKindWord(kind)}: ${INFERRED_WORDS}`, "data-node-kind": kind },
    nodeKindWord(kind),
  );
}

/** Only known words become class names; anything else gets a neutral style. */
function safeClass(word) {
  return /^[a-z_]+$/.test(String(word)) ? String(word) : "unknown";
}

/** A <section> with an <h2>; `body` is the element the caller fills later. */
export function section(title, attrs = {}) {
  const body = h("div", { class: "section-body" });
  const element = h("section", { class: "panel", ...attrs }, h("h2", {}, title), body);
  return { element, body };
}

/** A notice in the page itself, for a part that failed to load (never the console). */
export function notice(text, kind = "error") {
  const label = kind === "error" ? "Could not load: " : "";
  return h("p", { class: `notice notice-${kind}` }, label ? h("strong", {}, label) : null, text);
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading" }, text);
}

/** A <table> with a caption (optional) and column headers <th scope="col">. */
export function table(columns, { caption, className = "data-table", attrs = {} } = {}) {
  const tbody = h("tbody");
  const element = h(
    "table",
    { class: className, ...attrs },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column)))),
    tbody,
  );
  return { element, tbody };
}

/** A bar of `ratio` (0..1) with the number beside it, for scores and shares. */
export function scoreBar(ratio, label) {
  const share = Math.max(0, Math.min(1, Number(ratio) || 0));
  const percent = `${Math.round(share * 100)}%`;
  return h(
    "span",
    { class: "score" },
    h(
      "span",
      { class: "score-track", role: "img", "aria-label": `${label || "score"} ${percent}` },
      fillTo(h("span", { class: "score-fill" }), share),
    ),
    h("span", { class: "score-value" }, percent),
  );
}

/** Sets a width in %, through the CSSOM (which a strict Content-Security-Policy still allows). */
export function fillTo(element, share) {
  element.style.width = `${(Math.max(0, Math.min(1, share)) * 100).toFixed(1)}%`;
  return element;
}
