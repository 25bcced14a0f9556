// The entry point: the token field, the message region, the nav and the routes.

import { getToken, onTokenChange, setToken } from "./api.js";
import { h } from "./dom.js";
import { attachMessageRegion, clearMessage } from "./messages.js";
import { startRouter } from "./router.js";
import { renderOverview } from "./page-overview.js";
import { renderIncidents } from "./page-incidents.js";
import { renderIncident } from "./page-incident.js";
import { renderServiceMap } from "./page-service-map.js";
import { renderSeries } from "./page-series.js";
import { renderFaults } from "./page-faults.js";

const ROUTES = [
  { pattern: /^\/$/, page: renderOverview, nav: "overview" },
  { pattern: /^\/incidents$/, page: renderIncidents, nav: "incidents" },
  { pattern: /^\/incidents\/([^/]+)$/, page: renderIncident, nav: "incidents" },
  { pattern: /^\/services$/, page: renderServiceMap, nav: "services" },
  { pattern: /^\/services\/([^/]+)$/, page: renderSeries, nav: "services" },
  { pattern: /^\/faults$/, page: renderFaults, nav: "faults" },
];

function renderNotFound(outlet, { path }) {
  document.title = "Not found · AIOps";
  outlet.append(
    h("h1", {}, "No such page"),
    h("p", {}, `There is no page at "${path}". Pick one from the navigation above.`),
  );
}

function setUpToken() {
  const input = document.getElementById("api-token");
  const form = document.getElementById("token-form");
  input.value = getToken();
  // Saved on every keystroke: the next request uses it, no button to forget.
  input.addEventListener("input", () => setToken(input.value.trim()));
  input.addEventListener("change", () => setToken(input.value.trim()));
  form.addEventListener("submit", (event) => event.preventDefault());
  // Another tab changed it (the same browser shares the saved token).
  onTokenChange((token) => {
    if (document.activeElement !== input) input.value = token;
  });
}

function setUpSkipLink(main) {
  // "#main" would be taken for a route: focus the content by hand instead.
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
}

function onRoute(route) {
  clearMessage(); // results of the last page's actions do not belong to the next one
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (route && link.dataset.nav === route.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function start() {
  const main = document.getElementById("main");
  attachMessageRegion(document.getElementById("message"));
  setUpToken();
  setUpSkipLink(main);
  startRouter({ outlet: main, routes: ROUTES, notFound: renderNotFound, onRoute });
}

start();
