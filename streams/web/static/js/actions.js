// What supervisors did with the active alerts (acknowledged, assigned, noted), shown to every
// viewer and updated live over SSE; the buttons that do it, for supervisors.

import { apiPost } from "./api.js";
import { formatTime } from "./clock.js";
import { escapeHtml } from "./html.js";
import { SEVERITY_RANK } from "./palette.js";
import { page } from "./state.js";

// alert_id -> [actions], oldest first
export function setActions(byAlert) {
  page.actions = new Map(Object.entries(byAlert ?? {}).map(([id, v]) => [id, v.actions ?? []]));
}

export function addAction(action) {
  if (!action || typeof action.alert_id !== "string") return;
  const list = page.actions.get(action.alert_id) ?? [];
  const same = (a) =>
    a.at === action.at && a.action === action.action && a.by === action.by && a.note === action.note;
  if (!list.some(same)) list.push(action);
  page.actions.set(action.alert_id, list);
}

// Worse now than when it was last acknowledged (as streams/domain/alert_actions.py says).
export function escalated(alert) {
  const acks = (page.actions.get(alert.alert_id) ?? []).filter((a) => a.action === "acknowledged");
  if (!acks.length) return false;
  const then = SEVERITY_RANK[acks[acks.length - 1].severity] ?? 9;
  return (SEVERITY_RANK[alert.severity] ?? 9) < then;
}

export function actionsHtml(alert) {
  const actions = page.actions.get(alert.alert_id) ?? [];
  const acks = actions.filter((a) => a.action === "acknowledged");
  const assigned = actions.filter((a) => a.action === "assigned");
  const notes = actions.filter((a) => a.note);
  const parts = [];
  if (acks.length) {
    const last = acks[acks.length - 1];
    parts.push(
      `<span class="acked" data-testid="alert-acknowledged">acknowledged by ${escapeHtml(last.by)} ` +
        `at ${escapeHtml(formatTime(last.at))} (${escapeHtml(last.severity)} then)</span>`,
    );
  }
  if (escalated(alert)) {
    parts.push('<span class="escalated" data-testid="alert-escalated">escalated since</span>');
  }
  if (assigned.length) {
    const last = assigned[assigned.length - 1];
    parts.push(
      last.callsign
        ? `<span data-testid="alert-assigned">assigned to <b>${escapeHtml(last.callsign)}</b></span>`
        : '<span data-testid="alert-assigned">assigned</span>',
    );
  }
  const noteItems = notes
    .slice(-3)
    .map(
      (a) =>
        `<li data-testid="alert-note">${escapeHtml(a.note)} <small>${escapeHtml(a.by)} ` +
        `${escapeHtml(formatTime(a.at))}</small></li>`,
    )
    .join("");
  const buttons =
    page.config?.role === "supervisor"
      ? '<div class="alert-actions">' +
        '<button type="button" data-action="acknowledged" data-testid="alert-ack">Acknowledge</button>' +
        '<button type="button" data-action="assigned" data-testid="alert-assign">Assign…</button>' +
        '<button type="button" data-action="noted" data-testid="alert-note-add">Note…</button>' +
        "</div>"
      : "";
  return (
    (parts.length ? `<div class="alert-status">${parts.join(" · ")}</div>` : "") +
    (noteItems ? `<ul class="alert-notes">${noteItems}</ul>` : "") +
    buttons
  );
}

// A supervisor's click on one of the buttons: ask what is needed, then post it.
export async function act(alertId, action, onDone) {
  const body = { action };
  if (action === "assigned") {
    const callsign = window.prompt("Assign to callsign:");
    if (!callsign) return;
    body.callsign = callsign;
  }
  if (action === "noted") {
    const note = window.prompt("Note:");
    if (!note) return;
    body.note = note;
  }
  try {
    addAction(await apiPost(`alerts/${encodeURIComponent(alertId)}/actions`, body));
    onDone();
  } catch (error) {
    window.alert(`Not recorded: ${error.message}`);
  }
}
