// Repeating a refresh without overlapping itself: the next run is scheduled only once the
// previous one finished, so a slow API never piles up requests.

/** Runs `task` now and then every `intervalMs` after each run ends; returns stop(). */
export function poll(task, intervalMs, { immediately = true } = {}) {
  let stopped = false;
  let timer = null;

  async function run() {
    if (stopped) return;
    try {
      await task();
    } catch {
      // The task shows its own errors; a failed run must not end the polling.
    }
    if (!stopped) timer = window.setTimeout(run, intervalMs);
  }

  if (immediately) run();
  else timer = window.setTimeout(run, intervalMs);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

/** Collapses bursts of calls into one call `waitMs` after the last. */
export function debounce(fn, waitMs) {
  let timer = null;
  const debounced = (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), waitMs);
  };
  debounced.cancel = () => window.clearTimeout(timer);
  return debounced;
}
