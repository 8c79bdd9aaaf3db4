// The Impact-vs-comparison dose table (worst first, filtered by kind, state and unit) and the
// summary banner of Impact Area states.

import { fmtNumber } from "./format.js";
import { $, escapeHtml } from "./html.js";
import { REASON_LABELS, SEVERITY_RANK, STATE_LABELS } from "./palette.js";
import { areaIds, areaKind, areaName, areaReason, areaState, page } from "./state.js";

// Table rows drawn at most (the worst first; the filters narrow the rest) and how often the table
// is drawn again: every 50 ms with a few areas, up to every 2 s with thousands, whose live
// updates would otherwise keep the page busy redrawing.
const ROWS_SHOWN = 400;

export function scheduleRender() {
  // not requestAnimationFrame: a wall display's browser may be occluded and rAF would pause
  if (page.renderTimer !== null) return;
  const delay = Math.min(2000, 50 + page.snapshots.size / 5);
  page.renderTimer = setTimeout(() => {
    page.renderTimer = null;
    renderTable();
    renderSummary();
  }, delay);
}

function rowFigures(areaId) {
  const snap = page.snapshots.get(areaId);
  const ledger = snap?.coverage?.ledger;
  const doseSeconds = ledger?.dose_seconds?.total;
  return {
    state: snap?.coverage?.state ?? "unknown",
    reason: areaReason(areaId),
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

export const NEVER_VISITED = "no visit recorded since monitoring began";

// Whether an area has had no qualifying visit since monitoring began (its state, covered or not,
// rests on no visit at all).
export function neverVisited(areaId) {
  const visits = page.snapshots.get(areaId)?.visits;
  return visits !== undefined && visits.last_qualifying_visit_end == null;
}

function stateCell(state, reason, never) {
  const why = reason
    ? ` <small class="reason" data-reason="${escapeHtml(reason)}">${escapeHtml(
        REASON_LABELS[reason] ?? reason,
      )}</small>`
    : never
      ? ` <small class="reason" data-testid="never-visited" title="${NEVER_VISITED}">never visited</small>`
      : "";
  return `<td><span class="state-chip state-${escapeHtml(state)}">${escapeHtml(
    STATE_LABELS[state] ?? state,
  )}</span>${why}</td>`;
}

const STATE_RANK = { uncovered: 0, at_risk: 1, unknown: 2, covered: 3 };

// Worst first: Impact Areas before comparison areas, then by state (uncovered first), severity,
// the longest without a qualifying visit (never visited first), and name.
export function worstFirstAreas(a, b) {
  const minutes = (id) => {
    const visits = page.snapshots.get(id)?.visits;
    const value = visits?.minutes_since_last_qualifying_visit;
    return Number.isFinite(value) ? value : Number.POSITIVE_INFINITY;
  };
  return (
    (areaKind(a) === "impact" ? 0 : 1) - (areaKind(b) === "impact" ? 0 : 1) ||
    (STATE_RANK[areaState(a)] ?? 2) - (STATE_RANK[areaState(b)] ?? 2) ||
    (SEVERITY_RANK[areaSeverity(a)] ?? 9) - (SEVERITY_RANK[areaSeverity(b)] ?? 9) ||
    minutes(b) - minutes(a) ||
    areaName(a).localeCompare(areaName(b), "en-GB")
  );
}

function areaSeverity(areaId) {
  return page.snapshots.get(areaId)?.coverage?.severity ?? null;
}

// The units in an area now or with dose there in the last 24 h (the unit "unknown" left out).
function areaUnits(areaId) {
  const snap = page.snapshots.get(areaId);
  const units = new Set(Object.keys(snap?.presence?.by_unit ?? {}));
  for (const [unit, minutes] of Object.entries(snap?.dose?.["24h"]?.by_unit ?? {})) {
    if (minutes > 0) units.add(unit);
  }
  units.delete("unknown");
  return units;
}

function filtered(ids) {
  const kind = $('[data-testid="filter-kind"]')?.value ?? "";
  const state = $('[data-testid="filter-state"]')?.value ?? "";
  const unit = $('[data-testid="filter-unit"]')?.value ?? "";
  return ids.filter(
    (id) =>
      (!kind || areaKind(id) === kind) &&
      (!state || areaState(id) === state) &&
      (!unit || areaUnits(id).has(unit)),
  );
}

// The unit filter offers every unit seen in the areas listed (a unit chosen stays offered).
function offerUnits(ids) {
  const select = $('[data-testid="filter-unit"]');
  if (!select) return;
  const units = new Set(ids.flatMap((id) => [...areaUnits(id)]));
  if (select.value) units.add(select.value);
  const sorted = [...units].sort((a, b) => a.localeCompare(b, "en-GB"));
  const offered = [...select.options].slice(1).map((option) => option.value);
  if (offered.join("\n") === sorted.join("\n")) return;
  const chosen = select.value;
  select.innerHTML =
    '<option value="">all</option>' +
    sorted.map((u) => `<option value="${escapeHtml(u)}">${escapeHtml(u)}</option>`).join("");
  select.value = chosen;
}

export function watchFilters() {
  for (const select of document.querySelectorAll(".filters select")) {
    select.addEventListener("change", scheduleRender);
  }
}

function renderTable() {
  const ids = areaIds().filter((id) => ["impact", "comparison"].includes(areaKind(id)));
  ids.sort(worstFirstAreas);
  offerUnits(ids);
  const matching = filtered(ids);
  const shown = new Set(matching.slice(0, ROWS_SHOWN));
  const selected = page.selectedArea;
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
    if (!shown.has(id)) return "";
    return (
      `<tr data-testid="dose-row" data-area-id="${escapeHtml(id)}" data-kind="${kind}" tabindex="0" ` +
      `data-state="${escapeHtml(f.state)}" class="kind-${kind}${id === selected ? " selected" : ""}">` +
      `<th scope="row" class="area-name" title="${escapeHtml(id)}">${escapeHtml(areaName(id))}</th>` +
      `<td class="kind">${kind === "impact" ? "impact" : "comp."}</td>` +
      stateCell(f.state, f.reason, kind === "impact" && neverVisited(id)) +
      `<td class="num">${fmtNumber(f.present)}</td>` +
      `<td class="num">${fmtNumber(f.doseMinutes, 1)}</td>` +
      `<td class="num">${fmtNumber(f.qualifying)}</td>` +
      fidelityCell(f.met, f.due, f.share) +
      "</tr>"
    );
  });
  const more = matching.length - shown.size;
  if (more > 0) {
    rows.push(
      `<tr class="more" data-testid="dose-more"><td colspan="7">${fmtNumber(more)} more ` +
        "areas, less urgent: filter by kind, state or unit to see them</td></tr>",
    );
  }
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

export function renderSummary() {
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
