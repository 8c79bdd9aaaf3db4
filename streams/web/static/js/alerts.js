// The alert feed, newest first: recent events, each alert's latest, and their ages.

import { api } from "./api.js";
import { formatClock, formatTime } from "./clock.js";
import { fmtNumber, formatAge, parseTs } from "./format.js";
import { $, escapeHtml } from "./html.js";
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

export async function loadAlerts() {
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

export function tickAges() {
  const now = page.clock.now();
  for (const el of document.querySelectorAll('[data-testid="alert-feed"] time.age')) {
    const t = parseTs(el.dataset.ts);
    if (t !== null) el.textContent = formatAge(now - t);
  }
  const clock = $('[data-testid="service-clock"]');
  const reading = formatClock(now);
  if (reading !== null) clock.textContent = reading;
}
