// The fault panel ("#/faults"): break a demo-shop service, one of its instances or inventory's
// database on purpose and watch the platform find it. One form per entry of the API, named as the
// platform names what it finds; the API passes the settings on to the shop.

import { api, isAbort } from "./api.js";
import { h, fill, routeHref } from "./dom.js";
import { formatPercent } from "./format.js";
import { say } from "./messages.js";
import { poll } from "./poll.js";
import { loading, notice } from "./widgets.js";

const REFRESH_MS = 10000;
const MAX_LATENCY_MS = 60000;

export function stateText(state) {
  if (state.reachable === false || state.error_rate === null || state.error_rate === undefined) {
    return "unreachable: the service did not answer, its faults are unknown";
  }
  return `errors ${formatPercent(state.error_rate)}, +${Math.round(Number(state.latency_ms) || 0)} ms`;
}

// What an entry is, when its name alone does not say: an instance of a service, or stock-db,
// which sends no spans of its own.
export function entryNote(state) {
  if (state.service === "stock-db") return "inventory's database, seen only through inventory's calls";
  if (state.node && state.node !== state.service) return `instance of ${state.node}`;
  return null;
}

function faultForm(state, index, onInject) {
  const errorId = `fault-${index}-error-rate`;
  const latencyId = `fault-${index}-latency`;
  const errorInput = h("input", {
    id: errorId,
    name: "error_rate",
    type: "number",
    min: 0,
    max: 100,
    step: "any",
    required: true,
    inputmode: "decimal",
    value: Number(((Number(state.error_rate) || 0) * 100).toFixed(1)),
  });
  const latencyInput = h("input", {
    id: latencyId,
    name: "latency_ms",
    type: "number",
    min: 0,
    max: MAX_LATENCY_MS,
    step: 1,
    required: true,
    inputmode: "numeric",
    value: Math.round(Number(state.latency_ms) || 0),
  });
  const stateLine = h("p", { class: "fault-state", "data-testid": "fault-state" }, stateText(state));
  const button = h("button", { type: "submit" }, "Inject");
  const note = entryNote(state);
  // The platform's series of an instance are its service's; stock-db's go by the name it infers.
  const node = state.node || state.service;
  const form = h(
    "form",
    { class: "panel fault-form", "data-testid": "fault-form", "data-service": state.service },
    h("h2", {}, state.service),
    note ? h("p", { class: "fault-of muted", "data-testid": "fault-of" }, note) : null,
    h("div", { class: "fault-now" }, "Now: ", stateLine),
    h("div", { class: "field" }, h("label", { for: errorId }, "Error rate (%)"), errorInput),
    h("div", { class: "field" }, h("label", { for: latencyId }, "Added latency (ms)"), latencyInput),
    h("div", { class: "form-actions" }, button, " ", h("a", { href: routeHref("services", node), "data-testid": "fault-series" }, `${node} series`)),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const percent = Number(errorInput.value || 0);
    const latency = Number(latencyInput.value || 0);
    if (!(percent >= 0 && percent <= 100) || !(latency >= 0 && latency <= MAX_LATENCY_MS)) {
      say(`Error rate must be 0 to 100 % and latency 0 to ${MAX_LATENCY_MS} ms.`, "error");
      return;
    }
    button.disabled = true;
    try {
      await onInject(state.service, { error_rate: percent / 100, latency_ms: latency });
    } finally {
      button.disabled = false;
    }
  });
  return {
    form,
    update(next, { inputs = false } = {}) {
      stateLine.textContent = stateText(next);
      // The inputs keep what someone is typing, except after a reset.
      if (inputs) {
        errorInput.value = String(Number(((Number(next.error_rate) || 0) * 100).toFixed(1)));
        latencyInput.value = String(Math.round(Number(next.latency_ms) || 0));
      }
    },
  };
}

export function renderFaults(outlet) {
  document.title = "Fault panel · AIOps";
  const body = h("div", { class: "fault-forms" }, loading());
  const resetButton = h("button", { type: "button", class: "danger" }, "Reset all");
  outlet.append(
    h("h1", {}, "Fault panel"),
    h(
      "p",
      {},
      "Inject a fault into a demo-shop service, one of its instances or inventory's database, then watch the ",
      h("a", { href: routeHref("incidents") }, "incident list"),
      ": an incident should open within seconds, naming that service, instance or database as the root cause, and resolve itself about 40 s after you reset it.",
    ),
    h("p", {}, resetButton),
    body,
  );

  const controller = new AbortController();
  const forms = new Map(); // service -> {form, update}

  function draw(services, { inputs = false } = {}) {
    const known = services.map((s) => s.service).join("\n");
    if (known !== [...forms.keys()].join("\n")) {
      forms.clear();
      fill(body);
      services.forEach((state, index) => {
        const entry = faultForm(state, index, inject);
        forms.set(state.service, entry);
        body.append(entry.form);
      });
      if (services.length === 0) fill(body, h("p", {}, "The demo shop has no services."));
      return;
    }
    for (const state of services) forms.get(state.service).update(state, { inputs });
  }

  async function inject(service, settings) {
    try {
      const state = await api(`aiops/demo/faults/${encodeURIComponent(service)}`, { method: "PUT", body: settings });
      const entry = forms.get(service);
      if (entry) entry.update(state);
      say(`${service}: ${stateText(state)}.`, "ok");
    } catch (error) {
      if (!isAbort(error)) say(`Injecting into ${service} failed: ${error.message}`, "error");
    }
  }

  resetButton.addEventListener("click", async () => {
    resetButton.disabled = true;
    try {
      const result = await api("aiops/demo/faults", { method: "DELETE" });
      draw(result.services || [], { inputs: true });
      say("Every demo-shop service is back to normal.", "ok");
    } catch (error) {
      if (!isAbort(error)) say(`Reset failed: ${error.message}`, "error");
    } finally {
      resetButton.disabled = false;
    }
  });

  async function refresh() {
    try {
      const result = await api("aiops/demo/faults", { signal: controller.signal });
      resetButton.hidden = false;
      draw(result.services || []);
    } catch (error) {
      if (isAbort(error)) return;
      forms.clear();
      if (error.status === 404) {
        resetButton.hidden = true;
        fill(body, h("p", { class: "notice" }, "Fault injection is unavailable: no demo shop is configured (set AIOPS_DEMO_SHOP_URLS, or run the platform with aiops up)."));
      } else {
        fill(body, notice(error.message));
      }
    }
  }

  const stop = poll(refresh, REFRESH_MS);
  return () => {
    stop();
    controller.abort();
  };
}
