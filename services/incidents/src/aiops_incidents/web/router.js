// Hash routes ("#/incidents/<id>"), so the server only ever serves "/".
//
// A page is a function render(outlet, {params, query}) that builds its view into `outlet` and
// returns a cleanup function: the router calls it before the next page renders, which is where
// pages stop their timers and cancel their streams.

export function startRouter({ outlet, routes, notFound, onRoute }) {
  let cleanup = null;
  let firstRender = true;

  function runCleanup() {
    if (cleanup) {
      try {
        cleanup();
      } finally {
        cleanup = null;
      }
    }
  }

  function render() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, search = ""] = hash.split("?");
    runCleanup();
    outlet.replaceChildren();
    let route = null;
    let params = [];
    for (const candidate of routes) {
      const match = candidate.pattern.exec(path);
      if (match) {
        try {
          params = match.slice(1).map(decodeURIComponent);
          route = candidate;
        } catch {
          route = null; // a malformed %-escape: no such page
        }
        break;
      }
    }
    const page = route ? route.page : notFound;
    try {
      cleanup = page(outlet, { params, query: new URLSearchParams(search), path }) || null;
    } catch (error) {
      // A bug in one page must not leave a blank screen or an uncaught exception.
      const message = document.createElement("p");
      message.className = "notice";
      message.textContent = `This page failed to draw: ${error && error.message ? error.message : error}`;
      outlet.append(message);
    }
    if (onRoute) onRoute(route);
    // After a navigation, move focus to the new page's heading so that keyboard and screen
    // reader users start there; on the first load the browser's own focus start is right.
    if (!firstRender) {
      const heading = outlet.querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: false });
      }
    }
    firstRender = false;
  }

  window.addEventListener("hashchange", render);
  // Leaving the whole page: end streams and timers cleanly rather than having them cut.
  window.addEventListener("pagehide", runCleanup);
  render();
}

/** Changes the query part of the current hash route without re-rendering the page. */
export function replaceQuery(params) {
  const [path] = (location.hash.replace(/^#/, "") || "/").split("?");
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  history.replaceState(null, "", `#${path}${text ? `?${text}` : ""}`);
}
