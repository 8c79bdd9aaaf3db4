// Area snapshots, from /api/areas and the event stream: kept newest first, then drawn.

import { api } from "./api.js";
import { parseTs } from "./format.js";
import { loadGeojson, restyleArea } from "./map.js";
import { page } from "./state.js";
import { problem } from "./status.js";
import { scheduleRender } from "./table.js";

export function applySnapshot(snap) {
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

export async function loadAreas() {
  const body = await api("areas");
  page.clock.observe(body.ts);
  page.ingest = body.ingest ?? null;
  for (const snap of body.areas ?? []) applySnapshot(snap);
}
