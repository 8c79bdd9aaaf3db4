// Live updates: the server-sent event stream /api/events (area and alert changes), reconnecting
// with backoff and refreshing everything on each (re)connection.

import { applyAction, applyAlert, loadAlerts } from "./alerts.js";
import { AuthError, api } from "./api.js";
import { applySnapshot, loadAreas } from "./snapshots.js";
import { RECONNECT_MIN_MS, page } from "./state.js";
import { problem, refused, setConnection } from "./status.js";

const RECONNECT_MAX_MS = 30000;

export async function refreshAll() {
  try {
    await Promise.all([loadAreas(), loadAlerts()]);
  } catch (error) {
    problem("refresh", error);
  }
}

// counters on <body data-sse-open data-sse-area data-sse-alert data-sse-action>, for diagnostics
// and tests
function countEvent(name) {
  document.body.dataset[name] = String(Number(document.body.dataset[name] ?? 0) + 1);
}

export function connectEvents() {
  if (page.stopped) return;
  if (page.events) page.events.close();
  const url = new URL("api/events", page.base);
  url.searchParams.set("token", page.token);
  const events = new EventSource(url);
  page.events = events;
  events.addEventListener("open", () => {
    countEvent("sseOpen");
    page.reconnectDelay = RECONNECT_MIN_MS;
    setConnection("live", "live");
    refreshAll(); // anything that changed while we were away
  });
  events.addEventListener("area", (event) => {
    try {
      applySnapshot(JSON.parse(event.data));
      countEvent("sseArea");
    } catch (error) {
      console.warn("coverwatch: bad area event:", error.message);
    }
  });
  events.addEventListener("alert", (event) => {
    try {
      applyAlert(JSON.parse(event.data));
      countEvent("sseAlert");
    } catch (error) {
      console.warn("coverwatch: bad alert event:", error.message);
    }
  });
  events.addEventListener("alert_action", (event) => {
    try {
      applyAction(JSON.parse(event.data));
      countEvent("sseAction");
    } catch (error) {
      console.warn("coverwatch: bad alert action event:", error.message);
    }
  });
  events.addEventListener("error", () => {
    if (page.stopped || page.events !== events) return;
    setConnection("reconnecting", "reconnecting…");
    if (events.readyState === EventSource.CLOSED) {
      // the browser gave up (e.g. an HTTP error on connect): check the token, then retry
      events.close();
      page.events = null;
      clearTimeout(page.reconnectTimer);
      page.reconnectTimer = setTimeout(async () => {
        try {
          await api("config");
        } catch (error) {
          if (error instanceof AuthError) {
            refused(error.status);
            return;
          }
        }
        connectEvents();
      }, page.reconnectDelay);
      page.reconnectDelay = Math.min(page.reconnectDelay * 2, RECONNECT_MAX_MS);
    }
  });
}
