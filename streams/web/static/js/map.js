// The map: areas coloured by coverage (Impact Areas in the state colours, comparison areas muted),
// their labels at closer zooms, tooltips, click to focus; the collapsible legend, the layer
// toggles and the reset-view control; fitting the view to the areas until the user moves it.

import { api } from "./api.js";
import { formatMinutes, fmtNumber, parseTs } from "./format.js";
import { escapeHtml } from "./html.js";
import { L } from "./leaflet.js";
import { incidentSvg } from "./markers.js";
import { openPanel } from "./panel.js";
import { placePanes } from "./places.js";
import { addTimeControl } from "./replay.js";
import { loadRings, ringPane } from "./rings.js";
import {
  COMPARISON_COLOURS,
  COMPARISON_FILL,
  COVERAGE_COLOURS,
  GRADE_ORDER,
  OTHER_ROLE_COLOUR,
  REASON_LABELS,
  ROLE_COLOURS,
  STATE_LABELS,
} from "./palette.js";
import { areaReason, page, shownState } from "./state.js";

export function initMap() {
  const map = L.map("map", { zoomSnap: 0.25, zoomDelta: 0.5, preferCanvas: false });
  map.createPane("outline");
  map.getPane("outline").style.zIndex = 350;
  map.createPane("labels");
  map.getPane("labels").style.zIndex = 450;
  map.getPane("labels").style.pointerEvents = "none";
  placePanes(map);
  ringPane(map);
  map.createPane("incidents");
  map.getPane("incidents").style.zIndex = 610;
  map.createPane("officers");
  map.getPane("officers").style.zIndex = 620;
  const config = page.config;
  if (config.tile_url) {
    L.tileLayer(config.tile_url, {
      attribution: config.tile_attribution || "",
      maxZoom: 19,
      crossOrigin: true,
    }).addTo(map);
  } else {
    map.getContainer().classList.add("no-tiles");
  }
  map.on("dragstart zoomstart", (event) => {
    if (event.hard !== true && page.fitting !== true) page.userMovedMap = true;
  });
  addResetView(map);
  addLayerToggles(map);
  addLegend(map);
  addTimeControl(map, restyleArea);
  map.on("zoomend", () => showLabels(map));
  page.map = map;
  window.addEventListener("resize", () => {
    if (!page.userMovedMap) fitAreas();
  });
}

const LABEL_ZOOM = 13;
const LEGEND_OPEN_MIN_HEIGHT = 1000;

function showLabels(map) {
  map.getContainer().classList.toggle("labels-far", map.getZoom() < LABEL_ZOOM);
}

// Layers a user can hide: each a class on the map's container that CSS acts on; the rings
// start hidden.
function addLayerToggles(map) {
  const layers = [
    ["incidents", "Incidents", true],
    ["crimes", "Crimes (24 h)", true],
    ["searches", "Stop-searches (24 h)", true],
    ["comparison", "Comparison areas", true],
    ["rings", "Displacement rings", false],
    ["outline", "Patrol outlines", true],
    ["labels", "Area labels", true],
  ];
  if (page.config.role === "supervisor") layers.unshift(["officers", "Officers", true]);
  for (const [name, , shown] of layers) {
    map.getContainer().classList.toggle(`hide-${name}`, !shown);
  }
  const control = L.control({ position: "topleft" });
  control.onAdd = () => {
    const div = L.DomUtil.create("div", "layer-toggles");
    div.dataset.testid = "layer-toggles";
    div.innerHTML =
      "<h3>Layers</h3>" +
      layers
        .map(
          ([name, label, shown]) =>
            `<label><input type="checkbox"${shown ? " checked" : ""} data-testid="layer-${name}" ` +
            `data-layer="${name}"> ${label}</label>`,
        )
        .join("");
    div.addEventListener("change", (event) => {
      const input = event.target;
      map.getContainer().classList.toggle(`hide-${input.dataset.layer}`, !input.checked);
    });
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  control.addTo(map);
}

function addResetView(map) {
  const control = L.control({ position: "topleft" });
  control.onAdd = () => {
    const button = L.DomUtil.create("button", "reset-view");
    button.type = "button";
    button.dataset.testid = "reset-view";
    button.title = "Show every area";
    button.textContent = "⤢";
    button.addEventListener("click", () => {
      page.userMovedMap = false;
      fitAreas();
    });
    L.DomEvent.disableClickPropagation(button);
    return button;
  };
  control.addTo(map);
}

function fitAreas() {
  let bounds = null;
  for (const area of page.areas.values()) {
    const b = area.layer.getBounds();
    bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
  }
  if (bounds?.isValid()) {
    page.fitting = true;
    page.map.fitBounds(bounds, { padding: [12, 12], animate: false });
    page.fitting = false;
  } else {
    page.map.setView([52.48, -1.9], 11);
  }
}

function addLegend(map) {
  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "legend");
    div.dataset.testid = "legend";
    // folded at first on a map too short to show it beside the areas; a click opens it
    if (map.getSize().y < LEGEND_OPEN_MIN_HEIGHT) div.classList.add("collapsed");
    div.addEventListener("click", (event) => {
      if (event.target.closest('[data-testid="legend-toggle"]')) div.classList.toggle("collapsed");
    });
    const states = Object.entries(COVERAGE_COLOURS)
      .map(
        ([state, colour]) =>
          `<li><i class="swatch" style="background:${colour}"></i>${STATE_LABELS[state]}</li>`,
      )
      .join("");
    const grades = GRADE_ORDER.map(
      (grade) => `<li>${incidentSvg(grade, 12)}${grade}</li>`,
    ).join("");
    let officers = "";
    if (page.config.role === "supervisor") {
      const roles = Object.entries(ROLE_COLOURS)
        .map(
          ([role, colour]) =>
            `<li><i class="off off-foot" style="--c:${colour}"></i>${role.replace("_", " ")}</li>`,
        )
        .join("");
      officers =
        `<h3>Officers</h3><ul>${roles}` +
        `<li><i class="off off-foot" style="--c:${OTHER_ROLE_COLOUR}"></i>other role</li>` +
        '<li><i class="off off-foot" style="--c:#888"></i>on foot</li>' +
        '<li><i class="off off-vehicle" style="--c:#888"></i>in vehicle</li>' +
        '<li><i class="off off-foot committed" style="--c:#888"></i>committed to incident</li>' +
        '<li><i class="off off-foot unhealthy" style="--c:#888"></i>stuck, stale or off duty</li></ul>';
    }
    div.innerHTML =
      '<button type="button" class="legend-toggle" data-testid="legend-toggle" ' +
      'title="Show or hide the legend">Legend</button><div class="legend-body">' +
      `<h3>Impact Area coverage</h3><ul>${states}` +
      `<li><i class="swatch swatch-comparison" style="background:${COMPARISON_FILL}"></i>` +
      "comparison area (muted, never alerts)</li>" +
      '<li><i class="swatch swatch-other"></i>patrol area outline</li>' +
      '<li><i class="swatch swatch-ring"></i>displacement ring (when shown)</li></ul>' +
      officers +
      `<h3>Open incidents</h3><ul>${grades}</ul>` +
      '<h3>Last 24 h</h3><ul><li><i class="dot dot-crime"></i>crime</li>' +
      '<li><i class="dot dot-search"></i>stop-search</li></ul></div>';
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);
}

export function areaStyle(kind, state) {
  if (kind === "other") {
    return { color: "#7f93b0", weight: 2, opacity: 0.8, dashArray: "8 6", fill: false };
  }
  if (kind === "comparison") {
    return {
      color: COMPARISON_COLOURS[state] ?? COMPARISON_COLOURS.unknown,
      weight: 1.5,
      opacity: 0.9,
      dashArray: "4 3",
      fillColor: COMPARISON_FILL,
      fillOpacity: 0.3,
    };
  }
  return {
    color: "#f1f3f5",
    weight: 3.5,
    opacity: 0.95,
    dashArray: null,
    fillColor: COVERAGE_COLOURS[state] ?? COVERAGE_COLOURS.unknown,
    fillOpacity: 0.55,
  };
}

function areaTooltip(areaId) {
  const area = page.areas.get(areaId);
  const snap = page.snapshots.get(areaId);
  const name = snap?.name ?? area?.name ?? areaId;
  const kind = snap?.kind ?? area?.kind ?? "";
  const coverage = snap?.coverage ?? {};
  const state = coverage.state ?? "unknown";
  const present = snap?.presence?.officers_present;
  const units = Object.entries(snap?.presence?.by_unit ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([unit, count]) => `${count} ${unit}`)
    .join(", ");
  const lastEnd = parseTs(snap?.visits?.last_qualifying_visit_end);
  const since =
    lastEnd === null
      ? (snap?.visits?.minutes_since_last_qualifying_visit ?? null)
      : (page.clock.now() - lastEnd) / 60000;
  const open = snap?.demand?.open_incidents ?? {};
  const openText = GRADE_ORDER.filter((g) => open[g])
    .map((g) => `${open[g]} ${g}`)
    .join(", ");
  const severity = coverage.severity ? ` (${escapeHtml(coverage.severity)})` : "";
  const reason = areaReason(areaId);
  return (
    `<div class="tip-name">${escapeHtml(name)} <small>${escapeHtml(kind)}</small></div>` +
    `<div>State: <b class="state-text state-${escapeHtml(state)}">` +
    `${escapeHtml(STATE_LABELS[state] ?? state)}</b>${severity}</div>` +
    (reason
      ? `<div class="reason" data-reason="${escapeHtml(reason)}">Why: ${escapeHtml(
          REASON_LABELS[reason] ?? reason,
        )}</div>`
      : "") +
    `<div>Officers present: <b>${fmtNumber(present)}</b>` +
    `${units ? ` <small data-testid="units-present">(${escapeHtml(units)})</small>` : ""}</div>` +
    (since === null
      ? `<div data-testid="tip-never-visited"><b>No visit recorded since monitoring began</b>` +
        `${coverage.limit_minutes ? ` (limit ${formatMinutes(coverage.limit_minutes)})` : ""}</div>`
      : `<div>Since last qualifying visit: <b>${formatMinutes(since)}</b>` +
        `${coverage.limit_minutes ? ` (limit ${formatMinutes(coverage.limit_minutes)})` : ""}</div>`) +
    (openText ? `<div>Open incidents: ${escapeHtml(openText)}</div>` : "")
  );
}

function drawAreas(geojson) {
  for (const area of page.areas.values()) area.group.remove();
  page.areas.clear();
  const features = [...(geojson.features ?? [])];
  const order = { other: 0, comparison: 1, impact: 2 };
  features.sort((a, b) => (order[kindOf(a)] ?? 1) - (order[kindOf(b)] ?? 1));
  for (const feature of features) {
    const areaId = String(feature.id ?? feature.properties?.area_id);
    const kind = kindOf(feature);
    const group = L.geoJSON(feature, {
      pane: kind === "other" ? "outline" : "overlayPane",
      interactive: kind !== "other",
      style: () => areaStyle(kind, shownState(areaId)),
    });
    const layer = group.getLayers()[0] ?? group;
    group.addTo(page.map);
    if (kind !== "other") {
      layer.bindTooltip(() => areaTooltip(areaId), { sticky: true, className: "area-tip" });
      layer.on("click", () => focusArea(areaId));
      const name = feature.properties?.name ?? areaId;
      L.marker(layer.getBounds().getCenter(), {
        icon: L.divIcon({
          className: `area-label label-${kind}`,
          html: `<span data-testid="area-label">${escapeHtml(name)}</span>`,
          iconSize: null,
        }),
        interactive: false,
        keyboard: false,
        pane: "labels",
      }).addTo(group);
    }
    page.areas.set(areaId, {
      feature,
      kind,
      name: feature.properties?.name ?? areaId,
      layer,
      group,
    });
    tagArea(areaId);
  }
  if (!page.userMovedMap) fitAreas();
  showLabels(page.map);
}

function kindOf(feature) {
  return feature.properties?.kind ?? "other";
}

function tagArea(areaId) {
  const area = page.areas.get(areaId);
  const el = area?.layer.getElement?.();
  if (!el) return;
  el.setAttribute("data-testid", "area-polygon");
  el.setAttribute("data-area-id", areaId);
  el.setAttribute("data-kind", area.kind);
  el.setAttribute("data-state", shownState(areaId));
}

export function restyleArea(areaId) {
  const area = page.areas.get(areaId);
  if (!area) return;
  const state = shownState(areaId);
  if (area.drawnState !== state) {
    // the style is the kind's and the state's: most updates (an idle area's refresh) keep both
    area.drawnState = state;
    area.layer.setStyle(areaStyle(area.kind, state));
    tagArea(areaId);
  }
  const tooltip = area.layer.getTooltip?.();
  if (tooltip?.isOpen()) tooltip.setContent(areaTooltip(areaId));
}

export function focusArea(areaId) {
  const area = page.areas.get(areaId);
  if (!area) return;
  page.userMovedMap = true;
  // the area panel opens over the map's right side: keep the area to its left
  const panelWidth = Math.min(440, page.map.getSize().x * 0.6);
  page.map.fitBounds(area.layer.getBounds(), {
    paddingTopLeft: [80, 80],
    paddingBottomRight: [panelWidth + 40, 80],
    maxZoom: 16,
  });
  const el = area.layer.getElement?.();
  if (el) {
    el.classList.remove("flash");
    void el.getBoundingClientRect();
    el.classList.add("flash");
  }
  page.selectedArea = areaId;
  for (const row of document.querySelectorAll('[data-testid="dose-row"].selected')) {
    row.classList.remove("selected");
  }
  document
    .querySelector(`[data-testid="dose-row"][data-area-id="${CSS.escape(areaId)}"]`)
    ?.classList.add("selected");
  openPanel(areaId);
}

export async function loadGeojson() {
  page.lastGeojsonReload = performance.now();
  drawAreas(await api("areas.geojson"));
  await loadRings();
}
