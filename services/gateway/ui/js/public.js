// What the pages a link opens outside the app share (set a password,
// unsubscribe, register): a request without a staff key, its answer read
// as JSON ({} when it is none).

/** fetch(path, init), answered as { status, body }. */
export async function publicRequest(path, init = {}) {
  const res = await fetch(path, init);
  let body = {};
  try {
    body = await res.json();
  } catch (e) {
    body = {};
  }
  return { status: res.status, body };
}

/** A JSON body POSTed (or sent with method) to path. */
export function publicJson(method, path, body) {
  return publicRequest(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
}
