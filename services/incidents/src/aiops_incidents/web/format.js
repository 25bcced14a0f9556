// Numbers, times and durations in words an on-call engineer reads at a glance.

export const DASH = "—";

const pad = (n) => String(n).padStart(2, "0");

export function parseTime(iso) {
  if (!iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Local time; the date only when it is not today, so recent rows stay short. */
export function formatTime(iso, { seconds = true } = {}) {
  const date = parseTime(iso);
  if (!date) return DASH;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}` + (seconds ? `:${pad(date.getSeconds())}` : "");
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  return `${formatDay(iso)} ${time}`;
}

export function formatDay(iso) {
  const date = parseTime(iso);
  if (!date) return DASH;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function formatClock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return DASH;
  let s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s} s`;
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  if (d > 0) return hours ? `${d} d ${hours} h` : `${d} d`;
  if (hours > 0) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  return s ? `${minutes} min ${s} s` : `${minutes} min`;
}

/** Time still to go, roughly: "~40 s", "~1 min 30 s"; "soon" under a second; "" when unknown. */
export function formatAbout(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "";
  return Number(seconds) < 1 ? "soon" : `~${formatDuration(seconds)}`;
}

/** Seconds between two ISO times, `until` defaulting to now (a running incident). */
export function secondsBetween(fromIso, untilIso) {
  const from = parseTime(fromIso);
  if (!from) return null;
  const until = parseTime(untilIso) || new Date();
  return (until.getTime() - from.getTime()) / 1000;
}

/** A ratio 0..1 as a percentage with at most one decimal: 1 -> "100%", 0.125 -> "12.5%". */
export function formatPercent(ratio) {
  if (ratio === null || ratio === undefined || !Number.isFinite(Number(ratio))) return DASH;
  return `${Number((Number(ratio) * 100).toFixed(1))}%`;
}

export function formatNumber(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return DASH;
  const number = Number(value);
  if (Number.isInteger(number)) return String(number);
  const abs = Math.abs(number);
  return String(Number(number.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : digits)));
}

export function formatMs(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return DASH;
  const ms = Number(value);
  if (ms >= 10000) return `${formatNumber(ms / 1000, 1)} s`;
  return `${formatNumber(ms, 1)} ms`;
}

/** Observed and baseline values are keyed by what they measure; the key says the unit. */
export function formatMeasure(key, value) {
  if (value === null || value === undefined) return DASH;
  if (/ratio|share/.test(key)) return formatPercent(value);
  if (/_ms$|latency|p\d\d/.test(key)) return formatMs(value);
  return formatNumber(value);
}

/** A change's versions: "1.4.2 → 1.5.0", or the new one alone, or "" when it names none. */
export function changeVersions(change) {
  if (change.old_version && change.new_version) return `${change.old_version} → ${change.new_version}`;
  return change.new_version || "";
}

export const KIND_WORDS = {
  error_ratio: "errors",
  latency: "slow",
  traffic_drop: "traffic dropped",
  traffic_surge: "traffic surged",
  multivariate: "unusual behaviour",
  saturation: "running out",
  log_surge: "error logs surged",
  metric: "far from normal",
};

/**
 * What a node of the service graph is: a service sends spans; the others are peers inferred
 * from their callers' client spans. Older answers have no kind: a service.
 */
export const NODE_KIND_WORDS = {
  service: "service",
  database: "database",
  cache: "cache",
  messaging: "messaging",
  http: "HTTP API",
};

export const INFERRED_WORDS = "inferred from callers' spans (sends no spans itself)";

/** true for a peer inferred from its callers' spans; a missing kind is a service. */
export function isInferred(kind) {
  return Boolean(kind) && kind !== "service";
}

/** "database", "HTTP API"; a kind this page does not know yet as it is. */
export function nodeKindWord(kind) {
  return NODE_KIND_WORDS[kind || "service"] || String(kind);
}

/** "payment", or "payment (payment-2)" when the cause is one instance of it. */
export function causeName(cause) {
  return cause.instance ? `${cause.service} (${cause.instance})` : String(cause.service);
}

/** "payment (payment-2) POST /payment error_ratio": the test hook's form of a root cause. */
export function rootCauseText(cause) {
  return cause ? `${causeName(cause)} ${cause.operation} ${cause.kind}` : DASH;
}
