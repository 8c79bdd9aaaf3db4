// The alerts: the active ones pinned on top, worst first (with the nearest available officers
// for a supervisor), and below them the history of recent events, newest first, which can be
// collapsed.

import { act, actionsHtml, addAction, escalated, setActions } from "./actions.js";
import { api } from "./api.js";
import { formatClock, formatTime } from "./clock.js";
import { fmtNumber, formatAge, parseTs } from "./format.js";
import { $, escapeHtml } from "./html.js";
import { nearestFor } from "./nearest.js";
import { GRADE_ORDER, SEVERITY_RANK, STATE_LABELS } from "./palette.js";
import { areaName, page } from "./state.js";
import { renderSummary } from "./table.js";

const FEED_LIMIT = 80;

function alertKey(alert) {
  return `${alert.alert_id}|${alert.event}|${alert.ts}`;
}

export function applyAlert(alert, { render = true } = {}) {
  if (!alert || typeof alert.alert_id !== "string") return;
  page.recent.set(alertKey(alert), alert);
  page.clock.observe(alert.ts);
  const current = page.latestByAlert.get(alert.alert_id);
  if (!current || (parseTs(alert.ts) ?? 0) >= (parseTs(current.ts) ?? 0)) {
    page.latestByAlert.set(alert.alert_id, alert);
  }
  if (render) renderFeed();
}

export function applyAction(action) {
  addAction(action);
  renderFeed();
  // the stream carries no callsign (every viewer gets it): a supervisor asks for it
  if (action?.action === "assigned" && page.config?.role === "supervisor") loadAlerts();
}

// Supervisors' buttons on the pinned alerts.
export function watchActionButtons() {
  $('[data-testid="active-alerts"]').addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const item = button?.closest('[data-testid="alert-item"]');
    if (button && item) act(item.dataset.alertId, button.dataset.action, renderFeed);
  });
}

export async function loadAlerts() {
  const body = await api("alerts");
  setActions(body.actions);
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

function isActive(alert) {
  const latest = page.latestByAlert.get(alert.alert_id);
  return latest !== undefined && alertKey(latest) === alertKey(alert) && alert.event !== "cleared";
}

// Worst first: severity, then the longest standing (oldest since), then the area's name.
export function worstFirst(a, b) {
  return (
    (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9) ||
    (parseTs(a.since) ?? 0) - (parseTs(b.since) ?? 0) ||
    areaName(a.area_id).localeCompare(areaName(b.area_id), "en-GB")
  );
}

function evidenceText(alert) {
  const evidence = alert.evidence ?? {};
  const open = evidence.open_incidents ?? {};
  const openText = GRADE_ORDER.filter((g) => open[g])
    .map((g) => `${open[g]} ${g}`)
    .join(", ");
  return (
    `${escapeHtml(STATE_LABELS[alert.state] ?? alert.state)} since ` +
    `${escapeHtml(formatTime(alert.since))} · officers present ${fmtNumber(evidence.officers_present)}` +
    `${openText ? ` · open: ${escapeHtml(openText)}` : ""}`
  );
}

function alertItem(alert, { active, fresh, pinned }) {
  const severity = alert.event === "cleared" ? "cleared" : (alert.severity ?? "low");
  const now = page.clock.now();
  const aged = pinned ? alert.since : alert.ts;
  return (
    `<li data-testid="alert-item" data-alert-id="${escapeHtml(alert.alert_id)}" ` +
    `data-area-id="${escapeHtml(alert.area_id)}" data-event="${escapeHtml(alert.event)}" ` +
    `data-severity="${escapeHtml(alert.severity)}" tabindex="0" role="button" ` +
    `class="alert sev-${escapeHtml(severity)}${active ? " active" : ""}${fresh ? " fresh" : ""}` +
    `${pinned && escalated(alert) ? " escalated" : ""}">` +
    '<div class="alert-head">' +
    `<span class="sev">${escapeHtml(alert.event === "cleared" ? "cleared" : alert.severity)}</span>` +
    `<span class="alert-area">${escapeHtml(areaName(alert.area_id))}</span>` +
    `<span class="alert-event">${escapeHtml(pinned ? (STATE_LABELS[alert.state] ?? alert.state) : alert.event)}</span>` +
    `<time class="age" data-ts="${escapeHtml(aged)}" datetime="${escapeHtml(aged)}" ` +
    `title="${escapeHtml(formatTime(aged))}">${formatAge(now - (parseTs(aged) ?? now))}</time>` +
    "</div>" +
    `<div class="reason">${escapeHtml(alert.reason)}</div>` +
    `<div class="evidence">${evidenceText(alert)}</div>` +
    (pinned && page.config?.role === "supervisor"
      ? `<div class="nearest" data-testid="alert-nearest">${nearestFor(alert.area_id, renderFeed)}</div>`
      : "") +
    (pinned ? actionsHtml(alert) : "") +
    "</li>"
  );
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
  const active = [...page.latestByAlert.values()].filter((a) => a.event !== "cleared");
  active.sort(worstFirst);
  $('[data-testid="active-alerts"]').innerHTML = active
    .map((alert) => alertItem(alert, { active: true, fresh: false, pinned: true }))
    .join("");
  $('[data-testid="active-alerts-empty"]').hidden = active.length > 0;
  const html = shown.map((alert) => {
    const key = alertKey(alert);
    const fresh = page.feedPrimed && !page.seenAlertKeys.has(key);
    page.seenAlertKeys.add(key);
    return alertItem(alert, { active: isActive(alert), fresh, pinned: false });
  });
  $('[data-testid="alert-feed"]').innerHTML = html.join("");
  $('[data-testid="alert-feed-empty"]').hidden = shown.length > 0;
  $('[data-testid="alert-history-count"]').textContent = String(shown.length);
  page.feedPrimed = true;
  renderSummary();
}

export function tickAges() {
  const now = page.clock.now();
  for (const el of document.querySelectorAll(".alerts time.age")) {
    const t = parseTs(el.dataset.ts);
    if (t !== null) el.textContent = formatAge(now - t);
  }
  const clock = $('[data-testid="service-clock"]');
  const reading = formatClock(now);
  if (reading !== null) clock.textContent = reading;
}
