// Displacement rings (GET /api/rings.geojson): the buffer around each Impact and comparison area
// where displaced crime would show (the evaluation compares crime there; rings are not tracked
// live). Thin dashed outlines in a pane of their own under the areas, hidden until the
// "Displacement rings" layer is ticked; loaded with the areas' outlines.

import { api } from "./api.js";
import { L } from "./leaflet.js";
import { RING_STYLE } from "./palette.js";
import { page } from "./state.js";

export function ringPane(map) {
  map.createPane("rings");
  map.getPane("rings").style.zIndex = 380;
  map.getPane("rings").style.pointerEvents = "none";
}

export async function loadRings() {
  const body = await api("rings.geojson");
  page.rings?.remove();
  page.rings = L.geoJSON(body, { pane: "rings", interactive: false, style: () => RING_STYLE });
  page.rings.addTo(page.map);
  for (const layer of page.rings.getLayers()) {
    const element = layer.getElement?.();
    if (!element) continue;
    element.setAttribute("data-testid", "ring");
    element.setAttribute("data-ring-of", layer.feature?.properties?.ring_of ?? "");
  }
}
