// The area panel: opened by clicking an area, an alert or a table row. Today's coverage
// timeline (states over time), the visits on the same axis (qualifying, drive-through, inferred
// told apart), dose by role, mode, activity and unit, demand, and for a supervisor the nearest
// available officers and who was there (pseudonyms; that read is audited); a link to the latest
// daily report once one exists. Read from
// GET /api/areas/{id} when opened and every 30 s while open.

import { api } from "./api.js";
import { formatTime } from "./clock.js";
import { fmtNumber, formatMinutes, parseTs } from "./format.js";
import { $, escapeHtml } from "./html.js";
import { nearestFor } from "./nearest.js";
import { GRADE_ORDER, REASON_LABELS, STATE_LABELS } from "./palette.js";
import { page } from "./state.js";
import { NEVER_VISITED } from "./table.js";

const REFRESH_MS = 30000;
const VISIT_BARS = 14;

let shown = null; // {areaId, body, timer}

export function openPanel(areaId) {
  if (shown?.areaId !== areaId) {
    closePanel();
    shown = { areaId, body: null, timer: setInterval(() => load(areaId), REFRESH_MS) };
  }
  const panel = $('[data-testid="area-panel"]');
  panel.hidden = false;
  panel.dataset.areaId = areaId;
  $('[data-testid="legend"]')?.classList.add("collapsed"); // the map left beside it is narrow
  render();
  load(areaId);
}

export function closePanel() {
  if (shown) clearInterval(shown.timer);
  shown = null;
  const panel = $('[data-testid="area-panel"]');
  panel.hidden = true;
  delete panel.dataset.areaId;
}

export function watchPanel() {
  const panel = $('[data-testid="area-panel"]');
  panel.addEventListener("click", (event) => {
    if (event.target.closest('[data-testid="area-panel-close"]')) closePanel();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && shown) closePanel();
  });
}

async function load(areaId) {
  try {
    const body = await api(`areas/${encodeURIComponent(areaId)}`);
    if (shown?.areaId !== areaId) return;
    shown.body = body;
    render();
  } catch (error) {
    console.warn("coverwatch: area panel:", error.message);
  }
}

function render() {
  if (!shown) return;
  const areaId = shown.areaId;
  const body = shown.body ?? page.snapshots.get(areaId) ?? { name: areaId };
  const coverage = body.coverage ?? {};
  const state = coverage.state ?? "unknown";
  const reason = coverage.reason ?? null;
  const supervisor = page.config?.role === "supervisor";
  const lastEnd = body.visits?.last_qualifying_visit_end ?? null;
  $('[data-testid="area-panel-body"]').innerHTML =
    `<header><h2>${escapeHtml(body.name ?? areaId)} <small>${escapeHtml(body.kind ?? "")}</small></h2>` +
    `<span class="state-chip state-${escapeHtml(state)}">${escapeHtml(STATE_LABELS[state] ?? state)}</span>` +
    `${coverage.severity ? ` <b>${escapeHtml(coverage.severity)}</b>` : ""}` +
    (reason ? ` <small>${escapeHtml(REASON_LABELS[reason] ?? reason)}</small>` : "") +
    "</header>" +
    `<p class="panel-line">${
      lastEnd
        ? `Last qualifying visit ended ${escapeHtml(formatTime(lastEnd))}`
        : `<b data-testid="panel-never-visited">${NEVER_VISITED[0].toUpperCase()}${NEVER_VISITED.slice(1)}</b>`
    }${coverage.limit_minutes ? ` · limit ${formatMinutes(coverage.limit_minutes)}` : ""}</p>` +
    section("Today", timeline(body), "area-timeline-section") +
    section(
      "Visits today",
      `<p class="panel-line">${fmtNumber(body.visits?.qualifying_today)} qualifying, ` +
        `${fmtNumber(body.visits?.drive_throughs_today)} drive-throughs</p>` +
        (supervisor ? visitBars(body) : ""),
    ) +
    section("Dose today (officer-minutes)", dose(body)) +
    section("Demand", demand(body)) +
    reportLink() +
    (supervisor
      ? section(
          "Nearest available officers",
          `<div data-testid="panel-nearest">${nearestFor(areaId, render)}</div>`,
        ) + section("Who was there today", whoWasThere(body))
      : "");
}

// The latest daily report, where the area's history is (once the reports exist).
function reportLink() {
  const latest = $('[data-testid="latest-report"]');
  if (!latest || latest.hidden || !latest.href) return "";
  return section(
    "History",
    `<a data-testid="panel-report" href="${escapeHtml(latest.href)}" target="_blank" ` +
      `rel="noopener noreferrer">${escapeHtml(latest.textContent)}</a> (the daily evaluation ` +
      "report: this area against its comparison areas)",
  );
}

function section(title, html, testid = "") {
  return `<section${testid ? ` data-testid="${testid}"` : ""}><h3>${title}</h3>${html}</section>`;
}

// The axis: from the first state change or visit today (at most 24 h back) to now.
function axis(body) {
  const now = page.clock.now();
  const times = [
    ...(body.coverage_history_today ?? []).map((c) => parseTs(c.ts)),
    ...(body.visits_recent ?? []).map((v) => parseTs(v.start)),
  ].filter((t) => t !== null);
  const start = Math.max(Math.min(...times, now - 3600000), now - 86400000);
  return { start, end: now, span: Math.max(now - start, 1) };
}

function timeline(body) {
  const changes = body.coverage_history_today ?? [];
  const { start, end, span } = axis(body);
  const pct = (t) => (100 * (Math.min(Math.max(t, start), end) - start)) / span;
  const segments = changes.map((change, i) => {
    const from = parseTs(change.ts) ?? start;
    const to = parseTs(changes[i + 1]?.ts) ?? end;
    return (
      `<i class="seg state-${escapeHtml(change.state)}" data-testid="timeline-segment" ` +
      `data-state="${escapeHtml(change.state)}" style="left:${pct(from)}%;width:${Math.max(pct(to) - pct(from), 0.4)}%" ` +
      `title="${escapeHtml(STATE_LABELS[change.state] ?? change.state)} from ${escapeHtml(formatTime(change.ts))}"></i>`
    );
  });
  return (
    `<div class="timeline" data-testid="area-timeline">${segments.join("") || '<span class="muted">no state change today</span>'}</div>` +
    `<div class="axis"><span>${escapeHtml(formatTime(new Date(start).toISOString()))}</span>` +
    `<span>now ${escapeHtml(formatTime(new Date(end).toISOString()))}</span></div>`
  );
}

function visitKind(visit) {
  if (visit.inferred) return "inferred";
  if (visit.qualifying) return "qualifying";
  if (visit.drive_through) return "drive-through";
  return "short";
}

function visitBars(body) {
  const visits = (body.visits_recent ?? []).slice(0, VISIT_BARS);
  if (!visits.length) return "";
  const { start, end, span } = axis(body);
  const pct = (t) => (100 * (Math.min(Math.max(t, start), end) - start)) / span;
  const bars = visits.map((visit) => {
    const from = parseTs(visit.start) ?? start;
    const to = parseTs(visit.end) ?? end;
    const kind = visitKind(visit);
    return (
      `<div class="visit-lane"><i class="visit visit-${kind}" data-testid="visit-bar" data-kind="${kind}" ` +
      `style="left:${pct(from)}%;width:${Math.max(pct(to) - pct(from), 0.6)}%" ` +
      `title="${escapeHtml(kind)} · ${escapeHtml(visit.role ?? "")} ${escapeHtml(visit.mode ?? "")} · ` +
      `${escapeHtml(formatTime(visit.start))}–${visit.end ? escapeHtml(formatTime(visit.end)) : "now"}"></i></div>`
    );
  });
  return (
    `<div class="visits" data-testid="visit-bars">${bars.join("")}</div>` +
    '<p class="legend-line"><i class="visit visit-qualifying"></i> qualifying ' +
    '<i class="visit visit-drive-through"></i> drive-through ' +
    '<i class="visit visit-inferred"></i> inferred <i class="visit visit-short"></i> short</p>'
  );
}

function minutesTable(title, seconds) {
  const rows = Object.entries(seconds ?? {})
    .filter(([, s]) => s > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([name, s]) => `<tr><th>${escapeHtml(name.replace("_", " "))}</th><td>${fmtNumber(s / 60, 1)}</td></tr>`);
  return rows.length ? `<table class="mini"><caption>${title}</caption>${rows.join("")}</table>` : "";
}

function dose(body) {
  const ledger = body.coverage?.ledger?.dose_seconds ?? {};
  const hour = body.dose?.["24h"]?.by_unit ?? {};
  const byUnit = Object.fromEntries(Object.entries(hour).map(([unit, m]) => [unit, m * 60]));
  const tables = [
    minutesTable("role", ledger.by_role),
    minutesTable("mode", ledger.by_mode),
    minutesTable("activity", ledger.by_activity),
    minutesTable("unit (24 h)", byUnit),
  ].join("");
  return (
    `<p class="panel-line">${fmtNumber((ledger.total ?? 0) / 60, 1)} officer-minutes today</p>` +
    `<div class="minis">${tables}</div>`
  );
}

function demand(body) {
  const d = body.demand ?? {};
  const open = d.open_incidents ?? {};
  const openText = GRADE_ORDER.filter((g) => open[g]).map((g) => `${open[g]} ${g}`).join(", ");
  const crimes = Object.entries(d.crimes_24h?.by_category ?? {})
    .map(([c, n]) => `${fmtNumber(n)} ${escapeHtml(c)}`)
    .join(", ");
  return (
    `<p class="panel-line">Open incidents: ${openText ? escapeHtml(openText) : "none"}</p>` +
    `<p class="panel-line">Last hour: ${fmtNumber(d.incidents_1h?.total)} incidents, ` +
    `${fmtNumber(d.crimes_1h?.total)} crimes, ${fmtNumber(d.stop_searches_1h?.total)} stop-searches</p>` +
    `<p class="panel-line">24 h: ${fmtNumber(d.incidents_24h?.total)} incidents, ` +
    `${fmtNumber(d.crimes_24h?.total)} crimes${crimes ? ` (${crimes})` : ""}, ` +
    `${fmtNumber(d.stop_searches_24h?.total)} stop-searches; harm ${fmtNumber(d.harm_24h)}</p>`
  );
}

function whoWasThere(body) {
  const visits = body.visits_recent ?? [];
  if (!visits.length) return '<p class="muted">nobody today</p>';
  const officers = new Map();
  for (const v of visits) {
    const seen = officers.get(v.officer) ?? { role: v.role, unit: v.unit, seconds: 0 };
    seen.seconds += v.credited_seconds ?? v.seconds ?? 0;
    officers.set(v.officer, seen);
  }
  const rows = [...officers.entries()]
    .sort(([, a], [, b]) => b.seconds - a.seconds)
    .map(
      ([officer, o]) =>
        `<tr data-testid="panel-officer"><th>${escapeHtml(officer)}</th><td>${escapeHtml(
          String(o.role ?? "").replace("_", " "),
        )}</td><td>${escapeHtml(o.unit ?? "")}</td><td>${fmtNumber(o.seconds / 60, 0)} min</td></tr>`,
    );
  return `<table class="mini who">${rows.join("")}</table>`;
}
