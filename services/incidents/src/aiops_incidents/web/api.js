// Every call to the platform's API: the bearer token, JSON, and errors as readable messages.
//
// Paths are relative ("aiops/..."), resolved against the page at "/": the UI keeps working
// behind a proxy that serves the platform under a path prefix.

const TOKEN_KEY = "aiops.apiToken";

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return ""; // storage can be disabled; the UI then works without a saved token
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Not saved; nothing else to do about it.
  }
}

/** Calls `listener(token)` when another tab changes the saved token. */
export function onTokenChange(listener) {
  const handler = (event) => {
    if (event.key === TOKEN_KEY) listener(event.newValue || "");
  };
  window.addEventListener("storage", handler);
  return () => window.removeEventListener("storage", handler);
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** The message of the platform's error body, `{"error": {"code", "message"}}`, or a fallback. */
async function errorFrom(response, method) {
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    const error = body && body.error;
    if (error && typeof error === "object") {
      code = String(error.code || code);
      if (error.message) message = String(error.message);
    } else if (body && typeof body.detail === "string") {
      message = body.detail;
    }
  } catch {
    // Not JSON (a proxy's page, say): the status line says enough.
  }
  if (response.status === 401 && getToken()) {
    // A token the API does not know is refused even where none is needed.
    message = `Not allowed: the API token was refused; correct or clear "API token" at the top. The API said: ${message}`;
  } else if (response.status === 401 || response.status === 403) {
    const needs =
      method === "GET" ? "this needs an API token with read access" : "this needs a token with write access";
    message = `Not allowed: ${needs} (enter it in "API token" at the top). The API said: ${message}`;
  }
  return new ApiError(response.status, code, message);
}

/**
 * `await api("aiops/incidents?status=open")`, or with `{method: "POST", body: {...}}`.
 * Resolves to the parsed JSON (null for an empty answer); rejects with an ApiError whose message
 * can be shown as is. An AbortError passes through, so callers can ignore cancelled requests.
 */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = authHeaders({ Accept: "application/json" });
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", "The platform's API cannot be reached; is it running?");
  }
  if (!response.ok) throw await errorFrom(response, method);
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, "bad_response", `The API answered ${path} with something that is not JSON.`);
  }
}

export const isAbort = (error) => Boolean(error) && error.name === "AbortError";

/** A query string from an object, skipping empty values: {status: "open", service: ""} -> "?status=open". */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export { errorFrom };
