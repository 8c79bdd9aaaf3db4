// Coverwatch live page: areas coloured by coverage, officers, incidents, the active alerts pinned
// worst first above the alert history, and the Impact-vs-comparison dose table. Plain ES modules, no build step: this entry point starts the
// page; static/js/ holds one module per concern (API client, map, markers, table, alert feed,
// live updates, ...). Leaflet is the only library (vendored under static/vendor/leaflet, loaded
// as a classic script that defines window.L).
//
// Data: /api/config and /api/areas.geojson once; /api/areas and /api/alerts on start, on every
// (re)connection of the SSE stream /api/events and every 30 s as a safety net; area and alert
// changes arrive over SSE; officers (supervisor only) and incidents are polled every 5 s, crimes
// and stop-searches of the last 24 h (/api/places) every 30 s, the latest daily report
// (/api/reports) every minute.

import { tickAges, watchActionButtons } from "./js/alerts.js";
import { AuthError, api, readToken } from "./js/api.js";
import { makeFormats } from "./js/clock.js";
import { $, escapeHtml } from "./js/html.js";
import { L } from "./js/leaflet.js";
import { connectEvents, refreshAll } from "./js/live.js";
import { focusArea, initMap, loadGeojson } from "./js/map.js";
import { pollIncidents, pollOfficers } from "./js/markers.js";
import { watchPanel } from "./js/panel.js";
import { pollPlaces } from "./js/places.js";
import { pollLatestReport } from "./js/reports.js";
import { loadAreas } from "./js/snapshots.js";
import { page } from "./js/state.js";
import { problem, refused, setConnection, showMessage } from "./js/status.js";
import { watchFilters } from "./js/table.js";

const POLL_MS = 5000;
const AREAS_REFRESH_MS = 30000;
const REPORTS_POLL_MS = 60000;
const PLACES_POLL_MS = 30000;

// Clicking (or Enter on) an alert or a table row shows its area on the map.
function watchPanelClicks() {
  const panel = $(".panel");
  const open = (event) => {
    if (event.target.closest("a, button, select, summary")) return;
    const item = event.target.closest('[data-testid="alert-item"], [data-testid="dose-row"]');
    if (item?.dataset.areaId) focusArea(item.dataset.areaId);
  };
  panel.addEventListener("click", open);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Enter") open(event);
  });
}

function every(ms, name, task) {
  const run = async () => {
    if (page.stopped) return;
    try {
      await task();
    } catch (error) {
      problem(name, error);
    }
    if (!page.stopped) setTimeout(run, ms);
  };
  run();
}

async function start() {
  page.token = readToken();
  if (!page.token) {
    setConnection("offline", "no token");
    showMessage(
      "This page needs an access token. Open it as <code>" +
        escapeHtml(page.base.href) +
        "?token=YOUR_TOKEN</code> (a viewer or supervisor token of this service).",
    );
    return;
  }
  if (!L) {
    showMessage("The map library failed to load (static/vendor/leaflet/leaflet.js).");
    return;
  }
  try {
    page.config = await api("config");
  } catch (error) {
    if (error instanceof AuthError) {
      refused(error.status);
    } else {
      setConnection("offline", "unreachable");
      showMessage(
        `The service did not answer (${escapeHtml(error.message)}). Reload the page to retry.`,
      );
    }
    return;
  }
  makeFormats(page.config.timezone || "Europe/London");
  const role = $('[data-testid="role"]');
  role.textContent = page.config.role === "supervisor" ? "supervisor" : "viewer · aggregates";
  role.dataset.role = page.config.role;
  document.body.dataset.role = page.config.role;
  initMap();
  watchPanelClicks();
  watchActionButtons();
  watchPanel();
  watchFilters();
  try {
    await loadGeojson();
  } catch (error) {
    problem("areas.geojson", error);
    if (page.stopped) return;
  }
  await refreshAll();
  connectEvents();
  every(POLL_MS, "incidents", pollIncidents);
  every(PLACES_POLL_MS, "places", pollPlaces);
  if (page.config.role === "supervisor") every(POLL_MS, "officers", pollOfficers);
  every(REPORTS_POLL_MS, "reports", pollLatestReport);
  setInterval(() => {
    if (!page.stopped) loadAreas().catch((error) => problem("areas", error));
  }, AREAS_REFRESH_MS);
  setInterval(tickAges, 1000);
  tickAges();
  document.body.dataset.ready = "true";
}
start();
