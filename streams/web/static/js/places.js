// Crimes and stop-searches of the last 24 hours on the map (GET /api/places), polled: small
// dots in panes of their own that the layer toggles hide.

import { api } from "./api.js";
import { formatTime } from "./clock.js";
import { escapeHtml } from "./html.js";
import { L } from "./leaflet.js";
import { PLACE_STYLES } from "./palette.js";
import { page } from "./state.js";

const PANES = { crime: "crimes", stop_search: "searches" };

export function placePanes(map) {
  map.createPane("crimes");
  map.getPane("crimes").style.zIndex = 600;
  map.createPane("searches");
  map.getPane("searches").style.zIndex = 605;
}

function tooltip(place) {
  const label = place.kind === "crime" ? "crime" : "stop-search";
  return (
    `<b>${escapeHtml(label)}</b> · ${escapeHtml(place.what ?? "")}` +
    `${place.outcome ? ` · ${escapeHtml(place.outcome)}` : ""}` +
    `<br><small>${escapeHtml(formatTime(place.ts))}</small>`
  );
}

async function pollKind(kind) {
  const body = await api(`places?kind=${kind}`);
  const shown = page.places[kind];
  const seen = new Set();
  for (const place of body.places ?? []) {
    if (!Number.isFinite(place.lat) || !Number.isFinite(place.lon)) continue;
    const key = `${place.ts}|${place.lat}|${place.lon}|${place.what}`;
    seen.add(key);
    if (shown.has(key)) continue;
    const marker = L.circleMarker([place.lat, place.lon], {
      ...PLACE_STYLES[kind],
      pane: PANES[kind],
      className: `place place-${kind}`,
    })
      .bindTooltip(tooltip(place), { direction: "top" })
      .addTo(page.map);
    marker.getElement()?.setAttribute("data-testid", `${kind}-marker`);
    shown.set(key, marker);
  }
  for (const [key, marker] of shown) {
    if (!seen.has(key)) {
      marker.remove();
      shown.delete(key);
    }
  }
}

export async function pollPlaces() {
  await Promise.all([pollKind("crime"), pollKind("stop_search")]);
}
