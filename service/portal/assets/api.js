// The JSON API, as the portal calls it: same origin, the session cookie, the
// session's CSRF token on every change, and no challenge that would make the
// browser show its own sign-on dialog (X-Keyholder-Client: portal).
let csrfToken = null;
const etags = new Map(); // path -> the ETag of what a section shows (show, changed)

export function setCsrfToken(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function call(method, path, body) {
  return (await exchange(method, path, body)).data;
}

// show: GET `path` for what a section shows; its ETag is kept, so that `changed` later
// tells whether the server's answer moved on from what is on the screen.
export async function show(path) {
  const { data, etag } = await exchange("GET", path);
  if (etag) etags.set(path, etag);
  return data;
}

async function exchange(method, path, body) {
  const headers = { "X-Keyholder-Client": "portal", Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const answer = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await answer.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!answer.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(answer.status, error.code || "http_" + answer.status, error.message || answer.statusText);
  }
  return { data, etag: answer.headers.get("ETag") };
}

// changed: whether GET `path` answers differently than when last asked by show or
// changed (its ETag; a path never asked is only recorded). Nothing is transferred while
// nothing changed (304).
export async function changed(path) {
  const headers = { "X-Keyholder-Client": "portal", Accept: "application/json" };
  if (etags.has(path)) headers["If-None-Match"] = etags.get(path);
  const answer = await fetch(path, { headers, credentials: "same-origin", cache: "no-store" });
  if (answer.status === 304) return false;
  if (!answer.ok) throw new ApiError(answer.status, "http_" + answer.status, answer.statusText);
  const etag = answer.headers.get("ETag");
  const first = !etags.has(path);
  if (etag) etags.set(path, etag);
  return !first;
}
