// The API client: the access token (from ?token=, kept for the session), GET /api/* and the
// supervisors' POSTs.

import { page } from "./state.js";

const TOKEN_KEY = "coverwatch.token";

export class AuthError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

export function readToken() {
  let token = null;
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  try {
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    token = fromUrl || sessionStorage.getItem(TOKEN_KEY);
  } catch {
    token = fromUrl;
  }
  if (fromUrl) {
    // keep the token out of the address bar, bookmarks and screenshots; reloads use the session
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return token;
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage unavailable: nothing kept
  }
}

export async function api(path) {
  const response = await fetch(new URL(`api/${path}`, page.base), {
    headers: { Authorization: `Bearer ${page.token}`, Accept: "application/json" },
    cache: "no-store",
  });
  if (response.status === 401 || response.status === 403) throw new AuthError(response.status);
  if (!response.ok) throw new Error(`GET /api/${path}: HTTP ${response.status}`);
  return response.json();
}

export async function apiPost(path, body) {
  const response = await fetch(new URL(`api/${path}`, page.base), {
    method: "POST",
    headers: {
      Authorization: `Bearer ${page.token}`,
      Accept: "application/json",
      "Content-Type": "application/json",
    },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  if (response.status === 401 || response.status === 403) throw new AuthError(response.status);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error ?? `POST /api/${path}: HTTP ${response.status}`);
  return answer;
}
