// The page's state: what it has loaded and drawn, its timers and its event stream, and the
// lookups on it that every part of the page shares.

import { ServiceClock } from "./clock.js";

export const RECONNECT_MIN_MS = 1000;

export const page = {
  token: null,
  config: null,
  base: new URL(".", document.baseURI),
  map: null,
  clock: new ServiceClock(),
  areas: new Map(), // area_id -> {feature, kind, name, layer (its polygon), group (with its label)}
  snapshots: new Map(), // area_id -> snapshot
  recent: new Map(), // alert key -> alert event
  latestByAlert: new Map(), // alert_id -> latest alert event
  actions: new Map(), // alert_id -> supervisors' actions on it, oldest first
  seenAlertKeys: new Set(),
  feedPrimed: false,
  officers: new Map(), // pseudonym -> {marker, signature}
  incidents: new Map(), // incident_id -> {marker, signature}
  places: { crime: new Map(), stop_search: new Map() }, // key -> marker
  rings: null, // the displacement rings' layer
  selectedArea: null, // the area last focused (its table row is marked, whatever the filters)
  replay: null, // {at, states} while the time control shows a past instant
  replayOfficers: null, // the officers' layer of that instant
  events: null,
  reconnectDelay: RECONNECT_MIN_MS,
  reconnectTimer: null,
  renderTimer: null,
  stopped: false,
  userMovedMap: false,
  lastGeojsonReload: 0,
  ingest: null, // {lag_s, bound_s, lagging} from /api/areas
};

// Why an area's state cannot be trusted: its judged reason, else ingest_lag while the ingest is
// behind (null: none).
export function areaReason(areaId) {
  const reason = page.snapshots.get(areaId)?.coverage?.reason ?? null;
  return reason ?? (page.ingest?.lagging ? "ingest_lag" : null);
}

export function areaState(areaId) {
  return page.snapshots.get(areaId)?.coverage?.state ?? "unknown";
}

// The state the map shows: the live one, or while the time control replays an instant, the one
// the area had then (the alerts, the table and the header stay live).
export function shownState(areaId) {
  if (page.replay) return page.replay.states[areaId] ?? "unknown";
  return areaState(areaId);
}

export function areaName(areaId) {
  return page.snapshots.get(areaId)?.name ?? page.areas.get(areaId)?.name ?? areaId;
}

export function areaKind(areaId) {
  return page.snapshots.get(areaId)?.kind ?? page.areas.get(areaId)?.kind ?? "other";
}

export function areaIds() {
  const ids = new Set([...page.areas.keys(), ...page.snapshots.keys()]);
  return [...ids];
}
