// The HTTP API (docs/api.md) as the UI uses it: a staff member's session
// (the HttpOnly cookie crm_session, sent by the browser, and the session's
// CSRF token in X-CSRF-Token on every write), or for an integrator an API key
// from sessionStorage; JSON in and out, AIP-193 errors turned into ApiError,
// X-Channel: ui on every request so the audit log says the change came from
// here.

import { t } from "./i18n.js";

const KEY_NAME = "crm.apiKey";

export function getKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY_NAME);
}

// The session's CSRF token (POST /v1/session and GET /v1/session answer it).
// Kept in sessionStorage too, so a reload writes at once; it is worth nothing
// without the cookie, which scripts cannot read.
const CSRF_NAME = "crm.csrf";
let csrf = sessionStorage.getItem(CSRF_NAME) || "";

export function setCsrfToken(token) {
  csrf = token || "";
  if (csrf) sessionStorage.setItem(CSRF_NAME, csrf);
  else sessionStorage.removeItem(CSRF_NAME);
}

// Methods that change nothing: no CSRF token needed.
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** An error answer: status (HTTP), code ("INVALID_ARGUMENT"), message, details. */
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || t("common.serverAnswered", { status }));
    this.name = "ApiError";
    this.status = status;
    this.code = err.status || "";
    this.details = Array.isArray(err.details) ? err.details : [];
    this.retryAfter = 0; // seconds, from a 429's Retry-After
  }
}

/** A network failure, before any answer. */
export class NetworkError extends Error {
  constructor(cause) {
    super(t("common.network"));
    this.name = "NetworkError";
    this.cause = cause;
  }
}

let onUnauthenticated = () => {};
/** fn runs when a request with the stored key or the session is answered
 * 401 (a revoked key, an expired or ended session). */
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

/** A random id for Idempotency-Key. */
export function newRequestKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Sends one request. options: body (JSON value), raw (Blob/bytes) with
 * contentType, headers, key (instead of the stored one), quiet (a 401 is
 * the caller's: the unauthenticated handler does not run), query (object;
 * empty values left out, arrays sent as the parameter repeated), signal (an
 * AbortSignal: an aborted request rejects with the DOMException "AbortError").
 * Resolves {status, data, etag, headers}; data is the parsed JSON, a Blob for
 * other content, or null. Rejects with ApiError (any non-2xx but 304) or
 * NetworkError.
 */
export async function request(method, path, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = options.key ?? getKey();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  else if (csrf && !SAFE.has(method.toUpperCase())) headers.set("X-CSRF-Token", csrf);
  headers.set("X-Channel", "ui");
  let body;
  if (options.body !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(options.body);
  } else if (options.raw !== undefined) {
    headers.set("Content-Type", options.contentType || "application/octet-stream");
    body = options.raw;
  }
  let url = path;
  if (options.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query)) {
      for (const one of Array.isArray(v) ? v : [v]) {
        if (one !== undefined && one !== null && one !== "") q.append(k, String(one));
      }
    }
    const text = q.toString();
    if (text) url += `?${text}`;
  }
  let resp;
  try {
    resp = await fetch(url, { method, headers, body, cache: "no-store", credentials: key ? "omit" : "same-origin", signal: options.signal });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new NetworkError(e);
  }
  const ctype = resp.headers.get("Content-Type") || "";
  let data = null;
  if (resp.status !== 204 && resp.status !== 304) {
    if (ctype.includes("json")) {
      try {
        data = await resp.json();
      } catch {
        data = null;
      }
    } else {
      data = await resp.blob();
    }
  }
  if (!resp.ok && resp.status !== 304) {
    const err = new ApiError(resp.status, data);
    // A session signed in again elsewhere (another tab) has a new CSRF token:
    // ask for it once (GET /v1/session, same origin only) and send again.
    if (resp.status === 403 && !key && !options.csrfRetried && !SAFE.has(method.toUpperCase()) && /csrf/i.test(err.message)) {
      let fresh = "";
      try {
        fresh = (await request("GET", "/v1/session", { quiet: true, key: "" })).data?.csrfToken || "";
      } catch {
        fresh = "";
      }
      if (fresh && fresh !== csrf) {
        setCsrfToken(fresh);
        return request(method, path, { ...options, csrfRetried: true });
      }
    }
    err.retryAfter = Number(resp.headers.get("Retry-After")) || 0;
    if (resp.status === 401 && !options.key && !options.quiet) onUnauthenticated(err);
    throw err;
  }
  const etag = resp.headers.get("ETag") || (data && data.etag ? `"${data.etag}"` : "");
  return { status: resp.status, data, etag, headers: resp.headers };
}

export const get = (path, query, options = {}) => request("GET", path, { ...options, query });

/** True for the rejection of a request its caller aborted. */
export const isAbort = (e) => Boolean(e) && e.name === "AbortError";

/** Percent-encodes an id for a path segment. */
export const seg = (id) => encodeURIComponent(id);
