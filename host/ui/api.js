// The REST API with the user's token. The token lives in sessionStorage (gone when the
// tab closes) and goes in the Authorization header only, never in a URL. A 401 sends
// the user back to the login page; every other refusal is thrown with the server's
// message and field so the page shows what the API said.

const KEY = "keywarden.token";

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  sessionStorage.setItem(KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/** A refusal of the API: HTTP status, the server's message, and the field, reason and
 *  1-based position when the server named them. */
export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && typeof body.message === "string" && body.message) || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.field = body?.field;
    this.reason = body?.reason;
    this.position = body?.position;
    this.refused = body?.refused;
  }
}

/** Authorization headers for `fetch`. */
export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${token() ?? ""}`, ...extra };
}

/** Called on 401: forget the token and show the login page. */
export function signedOut(message) {
  clearToken();
  sessionStorage.setItem("keywarden.loginMessage", message || "Your token was refused; sign in again.");
  location.hash = "#/login";
}

/** The path with query parameters (empty values left out). */
export function withQuery(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}

/** Calls the API. Answers `{ data, headers, status }`; throws ApiError on refusal. */
export async function call(method, path, { query, body, signal } = {}) {
  const headers = authHeaders(body === undefined ? {} : { "Content-Type": "application/json" });
  const response = await fetch(withQuery(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (response.status === 401) {
    const err = new ApiError(401, data);
    signedOut(err.message);
    throw err;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, headers: response.headers, status: response.status };
}

export const get = (path, query, signal) => call("GET", path, { query, signal });
export const post = (path, body) => call("POST", path, { body });
export const patch = (path, body) => call("PATCH", path, { body });
