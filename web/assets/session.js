// The signed-in session of this tab: the access token lives in memory only,
// the refresh token in sessionStorage (so it survives a reload of the tab
// and dies with it). Tabs that share one refresh token (a duplicated tab, a
// window opened from the console) rotate it one at a time: a refresh runs
// under the Web Lock "goflix-refresh", the rotating tab announces the new
// pair on the BroadcastChannel "goflix-session" and marks the old token as
// rotated (a lock named after its digest, held while the tab lives), so a
// tab that still holds the old token waits for the announcement instead of
// presenting it — presenting a rotated token is reuse, and the server then
// revokes the whole family, signing every tab out.

const REFRESH_KEY = "goflix.refresh";
const REFRESH_LOCK = "goflix-refresh";
const ROTATED_PREFIX = "goflix-rotated:";
/** An access token this close to expiry is refreshed before use. */
const EXPIRY_MARGIN_MS = 30_000;
/** How long a tab waits for the announcement of a rotation it saw marked. */
const ANNOUNCEMENT_WAIT_MS = 5_000;

const channel = "BroadcastChannel" in self ? new BroadcastChannel("goflix-session") : null;
let access = null; // { token, expiresAt }
const signedOutListeners = new Set();
const announcementWaiters = new Set();

channel?.addEventListener("message", (event) => {
  const message = event.data;
  if (message?.type === "rotated" && sessionStorage.getItem(REFRESH_KEY) === message.from) {
    sessionStorage.setItem(REFRESH_KEY, message.to);
    access = { token: message.access, expiresAt: message.expiresAt };
    for (const wake of announcementWaiters) wake();
  } else if (message?.type === "signed-out" && sessionStorage.getItem(REFRESH_KEY) === message.token) {
    forget();
  }
});

/** Calls `listener` when this tab's session ends (sign-out, revoked family). */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
}

/** Whether this tab holds a session (it may still turn out to be revoked). */
export function hasSession() {
  return sessionStorage.getItem(REFRESH_KEY) !== null;
}

/** Signs in with e-mail and password; throws an Error with the server's message. */
export async function signIn(email, password) {
  const body = await tokenRequest({ grant_type: "password", username: email, password });
  sessionStorage.setItem(REFRESH_KEY, body.refresh_token);
  access = fromBody(body);
}

/** Ends the session on the server and in every tab that shares it. */
export async function signOut() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  forget();
  if (token) {
    channel?.postMessage({ type: "signed-out", token });
    await fetch("/api/v1/auth/revoke", {
      method: "POST",
      body: new URLSearchParams({ token, token_type_hint: "refresh_token" }),
    }).catch(() => {});
  }
}

/** A valid access token, refreshed when needed; throws when signed out. */
export async function accessToken() {
  if (access && access.expiresAt - Date.now() > EXPIRY_MARGIN_MS) return access.token;
  return refresh();
}

/**
 * `fetch` of an API path with the bearer token; a JSON `json` becomes the
 * body, else `body` (a FormData) is sent as it is. A 401 refreshes once and
 * retries. Resolves to the Response.
 */
export async function api(path, { method = "GET", json, body, headers = {}, signal } = {}) {
  const send = async (token) => {
    const init = { method, signal, body, headers: { ...headers, Authorization: `Bearer ${token}` } };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    return fetch(path, init);
  };
  let response = await send(await accessToken());
  if (response.status === 401 && hasSession()) {
    access = null;
    response = await send(await accessToken());
  }
  return response;
}

/** `api` for a JSON answer: resolves to the body, throws an Error with the API's message. */
export async function apiJson(path, options) {
  const response = await api(path, options);
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.message ?? body?.error_description ?? `${response.status} ${response.statusText}`;
    throw Object.assign(new Error(message), { status: response.status, body });
  }
  return body;
}

/** Rotates the refresh token under the cross-tab lock; resolves to an access token. */
function refresh() {
  return navigator.locks.request(REFRESH_LOCK, async () => {
    let token = sessionStorage.getItem(REFRESH_KEY);
    if (!token) throw signedOut();
    if (await isRotated(token)) {
      await announcement(token);
      if (sessionStorage.getItem(REFRESH_KEY) === token) {
        // Its successor went to a tab that closed before telling this one:
        // presenting it again would revoke the family for everyone.
        forget();
        throw signedOut();
      }
      token = sessionStorage.getItem(REFRESH_KEY);
    }
    // Another tab may have rotated while this one queued for the lock.
    if (access && access.expiresAt - Date.now() > EXPIRY_MARGIN_MS) return access.token;
    let body;
    try {
      body = await tokenRequest({ grant_type: "refresh_token", refresh_token: token });
    } catch (error) {
      if (error.status === 400 || error.status === 401) {
        forget();
        throw signedOut();
      }
      throw error;
    }
    sessionStorage.setItem(REFRESH_KEY, body.refresh_token);
    access = fromBody(body);
    await markRotated(token);
    channel?.postMessage({ type: "rotated", from: token, to: body.refresh_token, access: access.token, expiresAt: access.expiresAt });
    return access.token;
  });
}

async function isRotated(token) {
  const name = ROTATED_PREFIX + (await digest(token));
  const { held } = await navigator.locks.query();
  return held.some((lock) => lock.name === name);
}

/** Holds the lock naming `token` rotated for as long as this tab lives. */
async function markRotated(token) {
  const name = ROTATED_PREFIX + (await digest(token));
  await new Promise((granted) => {
    navigator.locks.request(name, () => {
      granted();
      return new Promise(() => {});
    });
  });
}

/** Resolves once this tab has learnt `token`'s successor, or after a wait. */
function announcement(token) {
  return new Promise((resolve) => {
    const wake = () => {
      if (sessionStorage.getItem(REFRESH_KEY) !== token) done();
    };
    const done = () => {
      announcementWaiters.delete(wake);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, ANNOUNCEMENT_WAIT_MS);
    announcementWaiters.add(wake);
    wake();
  });
}

async function digest(text) {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(bytes).slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function tokenRequest(fields) {
  const response = await fetch("/api/v1/auth/token", { method: "POST", body: new URLSearchParams(fields) });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error_description ?? body?.error?.message ?? `sign-in failed (${response.status})`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  return body;
}

function fromBody(body) {
  return { token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
}

function forget() {
  const had = hasSession() || access !== null;
  sessionStorage.removeItem(REFRESH_KEY);
  access = null;
  if (had) for (const listener of signedOutListeners) listener();
}

function signedOut() {
  return Object.assign(new Error("signed out"), { status: 401 });
}
