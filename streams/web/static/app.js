// Coverwatch live page: areas coloured by coverage, officers, incidents, alert feed and the
// Impact-vs-comparison dose table. Plain ES module, no build step; Leaflet is the only library
// (vendored under static/vendor/leaflet, loaded as a classic script that defines window.L).
//
// Data: /api/config and /api/areas.geojson once; /api/areas and /api/alerts on start, on every
// (re)connection of the SSE stream /api/events and every 30 s as a safety net; area and alert
// changes arrive over SSE; officers (supervisor only) and incidents are polled every 5 s.

const L = globalThis.L;

const TOKEN_KEY = "coverwatch.token";
const POLL_MS = 5000;
const AREAS_REFRESH_MS = 30000;
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
const FEED_LIMIT = 80;

export const COVERAGE_COLOURS = {
  covered: "#2f9e44",
  at_risk: "#f59f00",
  uncovered: "#e03131",
  unknown: "#868e96",
};
const STATE_LABELS = {
  covered: "covered",
  at_risk: "at risk",
  uncovered: "uncovered",
  unknown: "unknown",
};
const STATE_RANK = { uncovered: 0, at_risk: 1, unknown: 2, covered: 3 };
export const ROLE_COLOURS = {
  response: "#4dabf7",
  neighbourhood: "#b197fc",
  roads: "#f8f9fa",
  offender_management: "#f783ac",
  partnership: "#3bc9db",
};
const OTHER_ROLE_COLOUR = "#ced4da";
export const GRADE_COLOURS = {
  immediate: "#ff2b2b",
  priority: "#ff922b",
  scheduled: "#ffd43b",
  resolution: "#adb5bd",
  ungraded: "#ffffff",
};
const GRADE_ORDER = ["immediate", "priority", "scheduled", "resolution", "ungraded"];
const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

// ---------------------------------------------------------------------------------------------
// small helpers

const $ = (selector, root = document) => root.querySelector(selector);

function escapeHtml(value) {
  return String(value ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

function parseTs(value) {
  const t = typeof value === "string" ? Date.parse(value) : Number.NaN;
  return Number.isFinite(t) ? t : null;
}

function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "–";
  return Number(value).toLocaleString("en-GB", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function formatAge(ms) {
  if (ms === null || !Number.isFinite(ms)) return "";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s < 5 ? "just now" : `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min ago`;
  return `${Math.floor(h / 24)} d ${h % 24} h ago`;
}

function formatMinutes(minutes) {
  if (minutes === null || minutes === undefined || !Number.isFinite(minutes)) return "–";
  const m = Math.max(0, Math.round(minutes));
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

// The service's "now". In production it is the wall clock; a replay or the demo runs on the
// event clock (60x real time), so ages are measured against the latest service time seen,
// extrapolated at the rate the service clock has been observed to move.
class ServiceClock {
  constructor() {
    this.samples = [];
    this.rateValue = 1;
  }

  observe(value) {
    const t = parseTs(value);
    if (t === null) return;
    const last = this.samples.at(-1);
    if (last && t <= last.t) return;
    const w = performance.now();
    this.samples.push({ t, w });
    while (this.samples.length > 2 && w - this.samples[0].w > 120000) this.samples.shift();
    const first = this.samples[0];
    if (w - first.w >= 3000) {
      this.rateValue = Math.min(3600, Math.max(0, (t - first.t) / (w - first.w)));
    }
  }

  now() {
    const last = this.samples.at(-1);
    if (!last) return Date.now();
    // extrapolate at most 30 s of real time past the last sample, then hold
    const dw = Math.min(performance.now() - last.w, 30000);
    return last.t + dw * this.rateValue;
  }
}

// ---------------------------------------------------------------------------------------------
// state

const page = {
  token: null,
  config: null,
  base: new URL(".", document.baseURI),
  map: null,
  timeFmt: null,
  clockFmt: null,
  clock: new ServiceClock(),
  areas: new Map(), // area_id -> {feature, kind, name, layer}
  snapshots: new Map(), // area_id -> snapshot
  recent: new Map(), // alert key -> alert event
  latestByAlert: new Map(), // alert_id -> latest alert event
  seenAlertKeys: new Set(),
  feedPrimed: false,
  officers: new Map(), // pseudonym -> {marker, signature}
  incidents: new Map(), // incident_id -> {marker, signature}
  events: null,
  reconnectDelay: RECONNECT_MIN_MS,
  reconnectTimer: null,
  renderTimer: null,
  stopped: false,
  userMovedMap: false,
  lastGeojsonReload: 0,
};

class AuthError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

// ---------------------------------------------------------------------------------------------
// token, API and messages

function readToken() {
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

function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage unavailable: nothing kept
  }
}

function showMessage(html) {
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

function refused(status) {
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

async function api(path) {
  const response = await fetch(new URL(`api/${path}`, page.base), {
    headers: { Authorization: `Bearer ${page.token}`, Accept: "application/json" },
    cache: "no-store",
  });
  if (response.status === 401 || response.status === 403) throw new AuthError(response.status);
  if (!response.ok) throw new Error(`GET /api/${path}: HTTP ${response.status}`);
  return response.json();
}

function problem(where, error) {
  if (error instanceof AuthError) {
    refused(error.status);
    return;
  }
  // network trouble is expected now and then (worker restart): say so quietly, keep going
  console.warn(`coverwatch: ${where}:`, error?.message ?? error);
}

function setConnection(state, text) {
  const el = $('[data-testid="connection"]');
  el.dataset.state = state;
  el.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// map

function initMap() {
  const map = L.map("map", { zoomSnap: 0.25, zoomDelta: 0.5, preferCanvas: false });
  map.createPane("outline");
  map.getPane("outline").style.zIndex = 350;
  map.createPane("incidents");
  map.getPane("incidents").style.zIndex = 610;
  map.createPane("officers");
  map.getPane("officers").style.zIndex = 620;
  const config = page.config;
  if (config.tile_url) {
    L.tileLayer(config.tile_url, {
      attribution: config.tile_attribution || "",
      maxZoom: 19,
      crossOrigin: true,
    }).addTo(map);
  } else {
    map.getContainer().classList.add("no-tiles");
  }
  map.on("dragstart zoomstart", (event) => {
    if (event.hard !== true && page.fitting !== true) page.userMovedMap = true;
  });
  addLegend(map);
  page.map = map;
  window.addEventListener("resize", () => {
    if (!page.userMovedMap) fitAreas();
  });
}

function fitAreas() {
  let bounds = null;
  for (const area of page.areas.values()) {
    const b = area.layer.getBounds();
    bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
  }
  if (bounds?.isValid()) {
    page.fitting = true;
    page.map.fitBounds(bounds, { padding: [12, 12], animate: false });
    page.fitting = false;
  } else {
    page.map.setView([52.48, -1.9], 11);
  }
}

function addLegend(map) {
  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "legend");
    div.dataset.testid = "legend";
    const states = Object.entries(COVERAGE_COLOURS)
      .map(
        ([state, colour]) =>
          `<li><i class="swatch" style="background:${colour}"></i>${STATE_LABELS[state]}</li>`,
      )
      .join("");
    const grades = GRADE_ORDER.map(
      (grade) => `<li>${incidentSvg(grade, 12)}${grade}</li>`,
    ).join("");
    let officers = "";
    if (page.config.role === "supervisor") {
      const roles = Object.entries(ROLE_COLOURS)
        .map(
          ([role, colour]) =>
            `<li><i class="off off-foot" style="--c:${colour}"></i>${role.replace("_", " ")}</li>`,
        )
        .join("");
      officers =
        `<h3>Officers</h3><ul>${roles}` +
        `<li><i class="off off-foot" style="--c:${OTHER_ROLE_COLOUR}"></i>other role</li>` +
        '<li><i class="off off-foot" style="--c:#888"></i>on foot</li>' +
        '<li><i class="off off-vehicle" style="--c:#888"></i>in vehicle</li>' +
        '<li><i class="off off-foot committed" style="--c:#888"></i>committed to incident</li></ul>';
    }
    div.innerHTML =
      `<h3>Coverage</h3><ul>${states}` +
      '<li><i class="swatch swatch-impact"></i>impact area (thick border)</li>' +
      '<li><i class="swatch swatch-other"></i>patrol area outline</li></ul>' +
      officers +
      `<h3>Open incidents</h3><ul>${grades}</ul>`;
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);
}

function areaStyle(kind, state) {
  const colour = COVERAGE_COLOURS[state] ?? COVERAGE_COLOURS.unknown;
  if (kind === "other") {
    return { color: "#7f93b0", weight: 2, opacity: 0.8, dashArray: "8 6", fill: false };
  }
  const impact = kind === "impact";
  return {
    color: impact ? "#f1f3f5" : colour,
    weight: impact ? 3.5 : 1.5,
    opacity: impact ? 0.95 : 0.9,
    dashArray: impact ? null : "4 3",
    fillColor: colour,
    fillOpacity: impact ? 0.55 : 0.35,
  };
}

function areaState(areaId) {
  return page.snapshots.get(areaId)?.coverage?.state ?? "unknown";
}

function areaTooltip(areaId) {
  const area = page.areas.get(areaId);
  const snap = page.snapshots.get(areaId);
  const name = snap?.name ?? area?.name ?? areaId;
  const kind = snap?.kind ?? area?.kind ?? "";
  const coverage = snap?.coverage ?? {};
  const state = coverage.state ?? "unknown";
  const present = snap?.presence?.officers_present;
  const lastEnd = parseTs(snap?.visits?.last_qualifying_visit_end);
  const since =
    lastEnd === null
      ? (snap?.visits?.minutes_since_last_qualifying_visit ?? null)
      : (page.clock.now() - lastEnd) / 60000;
  const open = snap?.demand?.open_incidents ?? {};
  const openText = GRADE_ORDER.filter((g) => open[g])
    .map((g) => `${open[g]} ${g}`)
    .join(", ");
  const severity = coverage.severity ? ` (${escapeHtml(coverage.severity)})` : "";
  return (
    `<div class="tip-name">${escapeHtml(name)} <small>${escapeHtml(kind)}</small></div>` +
    `<div>State: <b class="state-text state-${escapeHtml(state)}">` +
    `${escapeHtml(STATE_LABELS[state] ?? state)}</b>${severity}</div>` +
    `<div>Officers present: <b>${fmtNumber(present)}</b></div>` +
    `<div>Since last qualifying visit: <b>${
      since === null ? "none recorded" : formatMinutes(since)
    }</b>${coverage.limit_minutes ? ` (limit ${formatMinutes(coverage.limit_minutes)})` : ""}</div>` +
    (openText ? `<div>Open incidents: ${escapeHtml(openText)}</div>` : "")
  );
}

function drawAreas(geojson) {
  for (const area of page.areas.values()) area.layer.remove();
  page.areas.clear();
  const features = [...(geojson.features ?? [])];
  const order = { other: 0, comparison: 1, impact: 2 };
  features.sort((a, b) => (order[kindOf(a)] ?? 1) - (order[kindOf(b)] ?? 1));
  for (const feature of features) {
    const areaId = String(feature.id ?? feature.properties?.area_id);
    const kind = kindOf(feature);
    const group = L.geoJSON(feature, {
      pane: kind === "other" ? "outline" : "overlayPane",
      interactive: kind !== "other",
      style: () => areaStyle(kind, areaState(areaId)),
    });
    const layer = group.getLayers()[0] ?? group;
    group.addTo(page.map);
    if (kind !== "other") {
      layer.bindTooltip(() => areaTooltip(areaId), { sticky: true, className: "area-tip" });
      layer.on("click", () => focusArea(areaId));
    }
    page.areas.set(areaId, { feature, kind, name: feature.properties?.name ?? areaId, layer });
    tagArea(areaId);
  }
  if (!page.userMovedMap) fitAreas();
}

function kindOf(feature) {
  return feature.properties?.kind ?? "other";
}

function tagArea(areaId) {
  const area = page.areas.get(areaId);
  const el = area?.layer.getElement?.();
  if (!el) return;
  el.setAttribute("data-testid", "area-polygon");
  el.setAttribute("data-area-id", areaId);
  el.setAttribute("data-kind", area.kind);
  el.setAttribute("data-state", areaState(areaId));
}

function restyleArea(areaId) {
  const area = page.areas.get(areaId);
  if (!area) return;
  area.layer.setStyle(areaStyle(area.kind, areaState(areaId)));
  tagArea(areaId);
  const tooltip = area.layer.getTooltip?.();
  if (tooltip?.isOpen()) tooltip.setContent(areaTooltip(areaId));
}

function focusArea(areaId) {
  const area = page.areas.get(areaId);
  if (!area) return;
  page.userMovedMap = true;
  page.map.fitBounds(area.layer.getBounds(), { padding: [80, 80], maxZoom: 16 });
  const el = area.layer.getElement?.();
  if (el) {
    el.classList.remove("flash");
    void el.getBoundingClientRect();
    el.classList.add("flash");
  }
  for (const row of document.querySelectorAll('[data-testid="dose-row"].selected')) {
    row.classList.remove("selected");
  }
  document
    .querySelector(`[data-testid="dose-row"][data-area-id="${CSS.escape(areaId)}"]`)
    ?.classList.add("selected");
}

async function loadGeojson() {
  page.lastGeojsonReload = performance.now();
  drawAreas(await api("areas.geojson"));
}

// ---------------------------------------------------------------------------------------------
// area snapshots and the table

function applySnapshot(snap) {
  if (!snap || typeof snap.area_id !== "string") return;
  const current = page.snapshots.get(snap.area_id);
  const t = parseTs(snap.ts);
  if (current && t !== null && (parseTs(current.ts) ?? 0) > t) return; // older than what we have
  page.snapshots.set(snap.area_id, snap);
  page.clock.observe(snap.ts);
  if (page.areas.has(snap.area_id)) {
    restyleArea(snap.area_id);
  } else if (performance.now() - page.lastGeojsonReload > 5000) {
    // an area defined after the page loaded: the definitions are live, so fetch them again
    loadGeojson().catch((error) => problem("areas.geojson", error));
  }
  scheduleRender();
}

async function loadAreas() {
  const body = await api("areas");
  page.clock.observe(body.ts);
  for (const snap of body.areas ?? []) applySnapshot(snap);
}

function scheduleRender() {
  // not requestAnimationFrame: a wall display's browser may be occluded and rAF would pause
  if (page.renderTimer !== null) return;
  page.renderTimer = setTimeout(() => {
    page.renderTimer = null;
    renderTable();
    renderSummary();
  }, 50);
}

function areaName(areaId) {
  return page.snapshots.get(areaId)?.name ?? page.areas.get(areaId)?.name ?? areaId;
}

function areaKind(areaId) {
  return page.snapshots.get(areaId)?.kind ?? page.areas.get(areaId)?.kind ?? "other";
}

function rowFigures(areaId) {
  const snap = page.snapshots.get(areaId);
  const ledger = snap?.coverage?.ledger;
  const doseSeconds = ledger?.dose_seconds?.total;
  return {
    state: snap?.coverage?.state ?? "unknown",
    present: snap?.presence?.officers_present ?? null,
    doseMinutes: Number.isFinite(doseSeconds) ? doseSeconds / 60 : null,
    qualifying: snap?.visits?.qualifying_today ?? ledger?.qualifying_visits ?? null,
    met: ledger?.fidelity?.met ?? null,
    due: ledger?.fidelity?.due ?? null,
    share: ledger?.fidelity?.share ?? null,
  };
}

function fidelityCell(met, due, share) {
  if (due === null || due === undefined) return '<td class="num">–</td>';
  const value = share ?? (due ? met / due : null);
  const pct = value === null ? "–" : `${Math.round(value * 100)}%`;
  const cls = value === null ? "" : value >= 0.999 ? "good" : value >= 0.5 ? "warn" : "bad";
  return `<td class="num fidelity ${cls}" title="${fmtNumber(met)} of ${fmtNumber(due)} met">${pct}</td>`;
}

function stateCell(state) {
  return `<td><span class="state-chip state-${escapeHtml(state)}">${escapeHtml(
    STATE_LABELS[state] ?? state,
  )}</span></td>`;
}

function areaIds() {
  const ids = new Set([...page.areas.keys(), ...page.snapshots.keys()]);
  return [...ids];
}

function renderTable() {
  const ids = areaIds().filter((id) => ["impact", "comparison"].includes(areaKind(id)));
  ids.sort(
    (a, b) =>
      (areaKind(a) === "impact" ? 0 : 1) - (areaKind(b) === "impact" ? 0 : 1) ||
      areaName(a).localeCompare(areaName(b), "en-GB"),
  );
  const selected = $('[data-testid="dose-row"].selected')?.dataset.areaId;
  const totals = {
    impact: { n: 0, present: 0, dose: 0, qualifying: 0, met: 0, due: 0, states: {} },
    comparison: { n: 0, present: 0, dose: 0, qualifying: 0, met: 0, due: 0, states: {} },
  };
  const rows = ids.map((id) => {
    const kind = areaKind(id);
    const f = rowFigures(id);
    const t = totals[kind];
    t.n += 1;
    t.present += f.present ?? 0;
    t.dose += f.doseMinutes ?? 0;
    t.qualifying += f.qualifying ?? 0;
    t.met += f.met ?? 0;
    t.due += f.due ?? 0;
    t.states[f.state] = (t.states[f.state] ?? 0) + 1;
    return (
      `<tr data-testid="dose-row" data-area-id="${escapeHtml(id)}" data-kind="${kind}" ` +
      `data-state="${escapeHtml(f.state)}" class="kind-${kind}${id === selected ? " selected" : ""}">` +
      `<th scope="row" class="area-name" title="${escapeHtml(id)}">${escapeHtml(areaName(id))}</th>` +
      `<td class="kind">${kind === "impact" ? "impact" : "comp."}</td>` +
      stateCell(f.state) +
      `<td class="num">${fmtNumber(f.present)}</td>` +
      `<td class="num">${fmtNumber(f.doseMinutes, 1)}</td>` +
      `<td class="num">${fmtNumber(f.qualifying)}</td>` +
      fidelityCell(f.met, f.due, f.share) +
      "</tr>"
    );
  });
  $('[data-testid="dose-rows"]').innerHTML = rows.join("");
  const totalRow = (kind, label) => {
    const t = totals[kind];
    const states = ["uncovered", "at_risk", "unknown", "covered"]
      .filter((s) => t.states[s])
      .map(
        (s) => `<span class="state-dot state-${s}" title="${STATE_LABELS[s]}">${t.states[s]}</span>`,
      )
      .join("");
    const perArea = t.n ? t.dose / t.n : null;
    return (
      `<tr data-testid="dose-total-${kind}" class="total kind-${kind}">` +
      `<th scope="row">${label} (${t.n})</th><td class="kind">total</td>` +
      `<td class="states">${states}</td>` +
      `<td class="num">${fmtNumber(t.present)}</td>` +
      `<td class="num" title="${fmtNumber(perArea, 1)} min per area">${fmtNumber(t.dose, 1)}` +
      `<small>${fmtNumber(perArea, 1)}/area</small></td>` +
      `<td class="num">${fmtNumber(t.qualifying)}</td>` +
      fidelityCell(t.met, t.due, t.due ? t.met / t.due : null) +
      "</tr>"
    );
  };
  $('[data-testid="dose-totals"]').innerHTML =
    totalRow("impact", "Impact") + totalRow("comparison", "Comparison");
}

function renderSummary() {
  const counts = { covered: 0, at_risk: 0, uncovered: 0, unknown: 0 };
  for (const id of areaIds()) {
    if (areaKind(id) !== "impact") continue; // the banner is about Impact Areas
    const state = areaState(id);
    counts[state in counts ? state : "unknown"] += 1;
  }
  for (const [state, n] of Object.entries(counts)) {
    $(`[data-testid="count-${state}"]`).textContent = String(n);
  }
  let active = 0;
  for (const alert of page.latestByAlert.values()) if (alert.event !== "cleared") active += 1;
  $('[data-testid="count-alerts"]').textContent = String(active);
}

// ---------------------------------------------------------------------------------------------
// alerts

function alertKey(alert) {
  return `${alert.alert_id}|${alert.event}|${alert.ts}`;
}

function applyAlert(alert, { render = true } = {}) {
  if (!alert || typeof alert.alert_id !== "string") return;
  page.recent.set(alertKey(alert), alert);
  page.clock.observe(alert.ts);
  const current = page.latestByAlert.get(alert.alert_id);
  if (!current || (parseTs(alert.ts) ?? 0) >= (parseTs(current.ts) ?? 0)) {
    page.latestByAlert.set(alert.alert_id, alert);
  }
  if (render) renderFeed();
}

async function loadAlerts() {
  const body = await api("alerts");
  for (const alert of body.recent ?? []) applyAlert(alert, { render: false });
  const active = new Set();
  for (const alert of body.active ?? []) {
    applyAlert(alert, { render: false });
    active.add(alert.alert_id);
  }
  // the server's view of what is still active wins over what we pieced together
  for (const [id, alert] of page.latestByAlert) {
    if (alert.event !== "cleared" && !active.has(id)) page.latestByAlert.delete(id);
  }
  renderFeed();
}

function renderFeed() {
  const items = [...page.recent.values()].sort(
    (a, b) =>
      (parseTs(b.ts) ?? 0) - (parseTs(a.ts) ?? 0) ||
      (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9),
  );
  // keep memory bounded: the newest FEED_LIMIT events, plus every active alert's latest event
  const keep = new Set(items.slice(0, FEED_LIMIT).map(alertKey));
  for (const alert of page.latestByAlert.values()) {
    if (alert.event !== "cleared") keep.add(alertKey(alert));
  }
  for (const key of page.recent.keys()) if (!keep.has(key)) page.recent.delete(key);
  for (const [id, alert] of page.latestByAlert) {
    if (alert.event === "cleared" && !keep.has(alertKey(alert))) page.latestByAlert.delete(id);
  }
  const shown = items.filter((a) => keep.has(alertKey(a)));
  const now = page.clock.now();
  const html = shown.map((alert) => {
    const key = alertKey(alert);
    const latest = page.latestByAlert.get(alert.alert_id);
    const active = latest && alertKey(latest) === key && alert.event !== "cleared";
    const fresh = page.feedPrimed && !page.seenAlertKeys.has(key);
    page.seenAlertKeys.add(key);
    const severity = alert.event === "cleared" ? "cleared" : (alert.severity ?? "low");
    const evidence = alert.evidence ?? {};
    const open = evidence.open_incidents ?? {};
    const openText = GRADE_ORDER.filter((g) => open[g])
      .map((g) => `${open[g]} ${g}`)
      .join(", ");
    return (
      `<li data-testid="alert-item" data-alert-id="${escapeHtml(alert.alert_id)}" ` +
      `data-area-id="${escapeHtml(alert.area_id)}" data-event="${escapeHtml(alert.event)}" ` +
      `data-severity="${escapeHtml(alert.severity)}" class="alert sev-${escapeHtml(severity)}` +
      `${active ? " active" : ""}${fresh ? " fresh" : ""}">` +
      '<div class="alert-head">' +
      `<span class="sev">${escapeHtml(alert.event === "cleared" ? "cleared" : alert.severity)}</span>` +
      `<span class="alert-area">${escapeHtml(areaName(alert.area_id))}</span>` +
      `<span class="alert-event">${escapeHtml(alert.event)}</span>` +
      `<time class="age" data-ts="${escapeHtml(alert.ts)}" datetime="${escapeHtml(alert.ts)}" ` +
      `title="${escapeHtml(formatTime(alert.ts))}">${formatAge(now - (parseTs(alert.ts) ?? now))}</time>` +
      "</div>" +
      `<div class="reason">${escapeHtml(alert.reason)}</div>` +
      `<div class="evidence">${escapeHtml(STATE_LABELS[alert.state] ?? alert.state)} since ` +
      `${escapeHtml(formatTime(alert.since))} · officers present ${fmtNumber(evidence.officers_present)}` +
      `${openText ? ` · open: ${escapeHtml(openText)}` : ""}</div>` +
      "</li>"
    );
  });
  $('[data-testid="alert-feed"]').innerHTML = html.join("");
  $('[data-testid="alert-feed-empty"]').hidden = shown.length > 0;
  page.feedPrimed = true;
  renderSummary();
}

function tickAges() {
  const now = page.clock.now();
  for (const el of document.querySelectorAll('[data-testid="alert-feed"] time.age')) {
    const t = parseTs(el.dataset.ts);
    if (t !== null) el.textContent = formatAge(now - t);
  }
  const clock = $('[data-testid="service-clock"]');
  if (page.clockFmt) clock.textContent = page.clockFmt.format(new Date(now));
}

function formatTime(value) {
  const t = parseTs(value);
  return t === null || !page.timeFmt ? "–" : page.timeFmt.format(new Date(t));
}

// ---------------------------------------------------------------------------------------------
// officers and incidents (polled)

function officerIcon(officer) {
  const colour = ROLE_COLOURS[officer.role] ?? OTHER_ROLE_COLOUR;
  const mode = officer.mode === "vehicle" ? "vehicle" : "foot";
  return L.divIcon({
    className: "officer-icon",
    html:
      `<i class="off off-${mode}${officer.committed ? " committed" : ""}" ` +
      `data-testid="officer-marker" data-role="${escapeHtml(officer.role)}" ` +
      `data-mode="${mode}" style="--c:${colour}"></i>`,
    iconSize: [14, 14],
    iconAnchor: [7, 7],
  });
}

function officerTooltip(officer) {
  return (
    `<b>${escapeHtml(officer.callsign ?? "officer")}</b> · ${escapeHtml(
      String(officer.role ?? "").replace("_", " "),
    )} · ${officer.mode === "vehicle" ? "vehicle" : "on foot"}` +
    `${officer.committed ? " · committed" : ""}<br><small>fix ${escapeHtml(
      formatTime(officer.ts),
    )}</small>`
  );
}

async function pollOfficers() {
  const body = await api("officers");
  const seen = new Set();
  for (const officer of body.officers ?? []) {
    if (!Number.isFinite(officer.lat) || !Number.isFinite(officer.lon)) continue;
    const id = officer.officer;
    seen.add(id);
    const signature = `${officer.role}|${officer.mode}|${officer.committed}`;
    const entry = page.officers.get(id);
    if (!entry) {
      const marker = L.marker([officer.lat, officer.lon], {
        icon: officerIcon(officer),
        pane: "officers",
        keyboard: false,
      })
        .bindTooltip(officerTooltip(officer), { direction: "top", offset: [0, -6] })
        .addTo(page.map);
      page.officers.set(id, { marker, signature });
    } else {
      entry.marker.setLatLng([officer.lat, officer.lon]);
      if (entry.signature !== signature) {
        entry.marker.setIcon(officerIcon(officer));
        entry.signature = signature;
      }
      entry.marker.setTooltipContent(officerTooltip(officer));
    }
  }
  for (const [id, entry] of page.officers) {
    if (!seen.has(id)) {
      entry.marker.remove();
      page.officers.delete(id);
    }
  }
}

function incidentSvg(grade, size) {
  const colour = GRADE_COLOURS[grade] ?? GRADE_COLOURS.ungraded;
  return (
    `<svg class="inc" width="${size}" height="${size}" viewBox="0 0 20 20" aria-hidden="true">` +
    `<polygon points="10,1.5 19,18 1,18" fill="${colour}" stroke="#111" stroke-width="2" ` +
    'stroke-linejoin="round"/></svg>'
  );
}

function incidentIcon(incident) {
  const grade = incident.grade ?? "ungraded";
  const size = grade === "immediate" ? 22 : grade === "priority" ? 18 : 15;
  return L.divIcon({
    className: `incident-icon grade-${escapeHtml(grade)}`,
    html: `<span data-testid="incident-marker" data-grade="${escapeHtml(grade)}">${incidentSvg(
      grade,
      size,
    )}</span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

function incidentTooltip(incident) {
  return (
    `<b>${escapeHtml(incident.grade ?? "ungraded")}</b> · ${escapeHtml(
      incident.category ?? "uncategorised",
    )}<br><small>opened ${escapeHtml(formatTime(incident.opened))} · ${escapeHtml(
      incident.status ?? "",
    )}</small>`
  );
}

async function pollIncidents() {
  const body = await api("incidents");
  const seen = new Set();
  for (const incident of body.incidents ?? []) {
    if (!Number.isFinite(incident.lat) || !Number.isFinite(incident.lon)) continue;
    const id = incident.incident_id;
    seen.add(id);
    const signature = `${incident.grade}|${incident.status}|${incident.category}`;
    const entry = page.incidents.get(id);
    if (!entry) {
      const grade = incident.grade ?? "ungraded";
      const marker = L.marker([incident.lat, incident.lon], {
        icon: incidentIcon(incident),
        pane: "incidents",
        keyboard: false,
        zIndexOffset: 100 * (GRADE_ORDER.length - GRADE_ORDER.indexOf(grade)),
      })
        .bindTooltip(incidentTooltip(incident), { direction: "top", offset: [0, -8] })
        .addTo(page.map);
      page.incidents.set(id, { marker, signature });
    } else {
      entry.marker.setLatLng([incident.lat, incident.lon]);
      if (entry.signature !== signature) {
        entry.marker.setIcon(incidentIcon(incident));
        entry.marker.setTooltipContent(incidentTooltip(incident));
        entry.signature = signature;
      }
    }
  }
  for (const [id, entry] of page.incidents) {
    if (!seen.has(id)) {
      entry.marker.remove();
      page.incidents.delete(id);
    }
  }
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

// ---------------------------------------------------------------------------------------------
// server-sent events

async function refreshAll() {
  try {
    await Promise.all([loadAreas(), loadAlerts()]);
  } catch (error) {
    problem("refresh", error);
  }
}

// counters on <body data-sse-open data-sse-area data-sse-alert>, for diagnostics and tests
function countEvent(name) {
  document.body.dataset[name] = String(Number(document.body.dataset[name] ?? 0) + 1);
}

function connectEvents() {
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

// ---------------------------------------------------------------------------------------------
// start

function makeFormats(timeZone) {
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
  try {
    page.timeFmt = new Intl.DateTimeFormat("en-GB", { ...options, timeZone });
    page.clockFmt = new Intl.DateTimeFormat("en-GB", {
      ...options,
      timeZone,
      timeZoneName: "short",
    });
  } catch {
    page.timeFmt = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: "UTC" });
    page.clockFmt = new Intl.DateTimeFormat("en-GB", {
      ...options,
      timeZone: "UTC",
      timeZoneName: "short",
    });
  }
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
  try {
    await loadGeojson();
  } catch (error) {
    problem("areas.geojson", error);
    if (page.stopped) return;
  }
  await refreshAll();
  connectEvents();
  every(POLL_MS, "incidents", pollIncidents);
  if (page.config.role === "supervisor") every(POLL_MS, "officers", pollOfficers);
  setInterval(() => {
    if (!page.stopped) loadAreas().catch((error) => problem("areas", error));
  }, AREAS_REFRESH_MS);
  setInterval(tickAges, 1000);
  tickAges();
  document.body.dataset.ready = "true";
}

start();
