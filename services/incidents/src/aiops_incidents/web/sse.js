// The live incident stream, read with fetch() because EventSource cannot send the
// Authorization header that a platform with read tokens needs.

import { authHeaders, errorFrom } from "./api.js";

const STREAM_PATH = "aiops/incidents/stream";
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;
// The stream delivers at least once; remembering this many event ids drops the repeats.
const SEEN_IDS = 500;

/**
 * A server-sent events parser (the format of the HTML standard): fields per line, `data:` lines
 * joined by newlines, a blank line ends an event, lines starting with ":" are comments.
 */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.lastId = "";
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
  }

  push(text) {
    const buffer = this.buffer + text;
    let lineStart = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      // A "\r" at the very end may be the first half of "\r\n": wait for the next chunk.
      if (c === "\r" && i + 1 === buffer.length) break;
      this.line(buffer.slice(lineStart, i));
      if (c === "\r" && buffer[i + 1] === "\n") i++;
      lineStart = i + 1;
    }
    this.buffer = buffer.slice(lineStart);
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // a comment: the server's keepalive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    // "retry" and unknown fields: ignored, the reconnect policy is ours.
  }

  dispatch() {
    if (this.data.length > 0) {
      this.onEvent({ type: this.type || "message", data: this.data.join("\n"), id: this.lastId });
    }
    this.reset();
  }
}

/**
 * Opens the incident stream and keeps it open: reconnects with a growing delay when it ends or
 * fails. Handlers:
 *   onNotification(notification)  each `incident` event's parsed JSON, repeats dropped
 *   onOpen()                      connected; events missed while away are not replayed, so
 *                                 callers reload what they show
 *   onState({state, message, retryInS})   "open" | "retrying", for a status line
 * Returns {close()}, which aborts the request and stops reconnecting.
 */
export function openIncidentStream({ onNotification, onOpen, onState }) {
  let closed = false;
  let controller = null;
  let retryTimer = null;
  let delayMs = FIRST_RETRY_MS;
  const seen = new Set();

  const report = (state) => {
    if (!closed && onState) onState(state);
  };

  function deliver(event) {
    if (event.type !== "incident") return;
    if (event.id) {
      if (seen.has(event.id)) return;
      seen.add(event.id);
      if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value);
    }
    let notification;
    try {
      notification = JSON.parse(event.data);
    } catch {
      return; // not JSON: nothing this page can show
    }
    if (notification && notification.incident && onNotification) onNotification(notification);
  }

  function retryLater(message) {
    if (closed) return;
    const wait = delayMs + Math.round(Math.random() * 250);
    delayMs = Math.min(delayMs * 2, MAX_RETRY_MS);
    report({ state: "retrying", message, retryInS: Math.round(wait / 1000) });
    retryTimer = window.setTimeout(connect, wait);
  }

  async function connect() {
    if (closed) return;
    controller = new AbortController();
    let response;
    try {
      response = await fetch(STREAM_PATH, {
        headers: authHeaders({ Accept: "text/event-stream" }),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch {
      retryLater("the live stream cannot be reached");
      return;
    }
    if (!response.ok || !response.body) {
      const error = response.ok ? null : await errorFrom(response, "GET");
      retryLater(error ? error.message : "the live stream gave no body");
      return;
    }
    delayMs = FIRST_RETRY_MS;
    report({ state: "open" });
    if (onOpen && !closed) onOpen();
    const parser = new SseParser(deliver);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
    } catch {
      // Aborted by close(), or the connection dropped: both end up below.
    }
    if (!closed) retryLater("the live stream ended");
  }

  connect();

  return {
    close() {
      closed = true;
      window.clearTimeout(retryTimer);
      if (controller) controller.abort();
    },
  };
}
