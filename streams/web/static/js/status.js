// What the page tells its user: the connection badge, the overlay message, a refused token,
// and quiet warnings for passing trouble.

import { AuthError, forgetToken } from "./api.js";
import { $, escapeHtml } from "./html.js";
import { page } from "./state.js";

export function showMessage(html) {
  const overlay = $('[data-testid="auth-message"]');
  $(".overlay-text", overlay).innerHTML = html;
  overlay.hidden = false;
}

function stopEverything() {
  page.stopped = true;
  if (page.events) page.events.close();
  page.events = null;
  clearTimeout(page.reconnectTimer);
  setConnection("offline", "stopped");
}

export function refused(status) {
  stopEverything();
  if (status === 401) {
    forgetToken();
    showMessage(
      "The access token was <b>refused</b> (HTTP 401). Open this page with a valid token: " +
        "<code>" +
        escapeHtml(new URL(".", document.baseURI).href) +
        "?token=YOUR_TOKEN</code>",
    );
  } else {
    showMessage(
      `This token is not allowed to see this page (HTTP ${status}). Ask for a viewer or ` +
        "supervisor token.",
    );
  }
}

export function problem(where, error) {
  if (error instanceof AuthError) {
    refused(error.status);
    return;
  }
  // network trouble is expected now and then (worker restart): say so quietly, keep going
  console.warn(`coverwatch: ${where}:`, error?.message ?? error);
}

export function setConnection(state, text) {
  const el = $('[data-testid="connection"]');
  el.dataset.state = state;
  el.textContent = text;
}
