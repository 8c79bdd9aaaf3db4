// The nearest available officers to an area with an active alert (supervisors only): on duty,
// not committed to an incident and with a live fix, with the distance and a rough ETA by mode.
// Each lookup is an audited officer-level read, so an area's answer is kept for a minute.

import { api } from "./api.js";
import { escapeHtml } from "./html.js";
import { page } from "./state.js";

const KEEP_MS = 60000;
const SHOWN = 3;
const ASKED = 8;
// straight-line distance x detour over a typical urban speed
const DETOUR = 1.3;
const SPEED_MPS = { foot: 1.4, vehicle: 8.0 };

const found = new Map(); // area_id -> {at, officers, pending}

export function etaMinutes(distanceM, mode) {
  const speed = SPEED_MPS[mode] ?? SPEED_MPS.foot;
  return Math.max(1, Math.round((distanceM * DETOUR) / speed / 60));
}

export function available(officers) {
  return officers.filter((o) => !o.committed && (o.health ?? "live") === "live");
}

function centre(areaId) {
  const layer = page.areas.get(areaId)?.layer;
  const bounds = layer?.getBounds?.();
  return bounds?.isValid() ? bounds.getCenter() : null;
}

async function lookUp(areaId, entry, onFound) {
  const at = centre(areaId);
  if (!at) return;
  entry.pending = true;
  try {
    const body = await api(
      `officers/nearest?lat=${at.lat.toFixed(5)}&lon=${at.lng.toFixed(5)}&n=${ASKED}`,
    );
    entry.officers = available(body.officers ?? []).slice(0, SHOWN);
  } catch (error) {
    entry.officers = null;
    console.warn("coverwatch: nearest officers:", error.message);
  } finally {
    entry.at = performance.now();
    entry.pending = false;
  }
  onFound();
}

// The nearest officers' line for an area; starts a lookup (then calls onFound) when none is kept
// or it is over a minute old.
export function nearestFor(areaId, onFound) {
  let entry = found.get(areaId);
  if (!entry) {
    entry = { at: -Infinity, officers: undefined, pending: false };
    found.set(areaId, entry);
  }
  if (!entry.pending && performance.now() - entry.at > KEEP_MS && onFound) {
    lookUp(areaId, entry, onFound);
  }
  if (entry.officers === undefined) return '<span class="muted">nearest officers: looking…</span>';
  if (entry.officers === null) return '<span class="muted">nearest officers: not available</span>';
  if (entry.officers.length === 0) {
    return '<span class="muted">no available officer within 50 km</span>';
  }
  const items = entry.officers.map((o) => {
    const mode = o.mode === "vehicle" ? "vehicle" : "foot";
    const km = (o.distance_m / 1000).toFixed(o.distance_m < 10000 ? 1 : 0);
    return (
      `<li data-testid="nearest-officer" title="${escapeHtml(String(o.role ?? "").replace("_", " "))}">` +
      `<b>${escapeHtml(o.callsign ?? "officer")}</b> ${km} km ` +
      `~${etaMinutes(o.distance_m, mode)} min ${mode === "vehicle" ? "driving" : "on foot"}</li>`
    );
  });
  return `<span class="muted">nearest available:</span> <ul>${items.join("")}</ul>`;
}
