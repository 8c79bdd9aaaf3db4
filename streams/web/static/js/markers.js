// Officers (supervisors only) and open incidents on the map, polled.

import { api } from "./api.js";
import { formatTime } from "./clock.js";
import { escapeHtml } from "./html.js";
import { L } from "./leaflet.js";
import { GRADE_COLOURS, GRADE_ORDER, OTHER_ROLE_COLOUR, ROLE_COLOURS } from "./palette.js";
import { page } from "./state.js";

function officerIcon(officer) {
  const colour = ROLE_COLOURS[officer.role] ?? OTHER_ROLE_COLOUR;
  const mode = officer.mode === "vehicle" ? "vehicle" : "foot";
  const health = officer.health ?? "live";
  return L.divIcon({
    className: "officer-icon",
    html:
      `<i class="off off-${mode}${officer.committed ? " committed" : ""}` +
      `${health === "live" ? "" : " unhealthy"}" ` +
      `data-testid="officer-marker" data-role="${escapeHtml(officer.role)}" ` +
      `data-health="${escapeHtml(health)}" ` +
      `data-mode="${mode}" style="--c:${colour}"></i>`,
    iconSize: [14, 14],
    iconAnchor: [7, 7],
  });
}

function officerTooltip(officer) {
  return (
    `<b>${escapeHtml(officer.callsign ?? "officer")}</b> · ${escapeHtml(
      String(officer.role ?? "").replace("_", " "),
    )} · ${officer.mode === "vehicle" ? "vehicle" : "on foot"}` +
    `${officer.unit ? ` · ${escapeHtml(officer.unit)}` : ""}` +
    `${officer.committed ? " · committed" : ""}` +
    `${officer.health && officer.health !== "live" ? ` · <b>${escapeHtml(officer.health.replace("_", " "))}</b>` : ""}` +
    `<br><small>fix ${escapeHtml(
      formatTime(officer.ts),
    )}</small>`
  );
}

export async function pollOfficers() {
  const body = await api("officers");
  const seen = new Set();
  for (const officer of body.officers ?? []) {
    if (!Number.isFinite(officer.lat) || !Number.isFinite(officer.lon)) continue;
    const id = officer.officer;
    seen.add(id);
    const signature = `${officer.role}|${officer.mode}|${officer.committed}|${officer.health}`;
    const entry = page.officers.get(id);
    if (!entry) {
      const marker = L.marker([officer.lat, officer.lon], {
        icon: officerIcon(officer),
        pane: "officers",
        keyboard: false,
      })
        .bindTooltip(officerTooltip(officer), { direction: "top", offset: [0, -6] })
        .addTo(page.map);
      page.officers.set(id, { marker, signature });
    } else {
      entry.marker.setLatLng([officer.lat, officer.lon]);
      if (entry.signature !== signature) {
        entry.marker.setIcon(officerIcon(officer));
        entry.signature = signature;
      }
      entry.marker.setTooltipContent(officerTooltip(officer));
    }
  }
  for (const [id, entry] of page.officers) {
    if (!seen.has(id)) {
      entry.marker.remove();
      page.officers.delete(id);
    }
  }
}

export function incidentSvg(grade, size) {
  const colour = GRADE_COLOURS[grade] ?? GRADE_COLOURS.ungraded;
  return (
    `<svg class="inc" width="${size}" height="${size}" viewBox="0 0 20 20" aria-hidden="true">` +
    `<polygon points="10,1.5 19,18 1,18" fill="${colour}" stroke="#111" stroke-width="2" ` +
    'stroke-linejoin="round"/></svg>'
  );
}

function incidentIcon(incident) {
  const grade = incident.grade ?? "ungraded";
  const size = grade === "immediate" ? 22 : grade === "priority" ? 18 : 15;
  return L.divIcon({
    className: `incident-icon grade-${escapeHtml(grade)}`,
    html: `<span data-testid="incident-marker" data-grade="${escapeHtml(grade)}">${incidentSvg(
      grade,
      size,
    )}</span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

function incidentTooltip(incident) {
  return (
    `<b>${escapeHtml(incident.grade ?? "ungraded")}</b> · ${escapeHtml(
      incident.category ?? "uncategorised",
    )}<br><small>opened ${escapeHtml(formatTime(incident.opened))} · ${escapeHtml(
      incident.status ?? "",
    )}</small>`
  );
}

export async function pollIncidents() {
  const body = await api("incidents");
  const seen = new Set();
  for (const incident of body.incidents ?? []) {
    if (!Number.isFinite(incident.lat) || !Number.isFinite(incident.lon)) continue;
    const id = incident.incident_id;
    seen.add(id);
    const signature = `${incident.grade}|${incident.status}|${incident.category}`;
    const entry = page.incidents.get(id);
    if (!entry) {
      const grade = incident.grade ?? "ungraded";
      const marker = L.marker([incident.lat, incident.lon], {
        icon: incidentIcon(incident),
        pane: "incidents",
        keyboard: false,
        zIndexOffset: 100 * (GRADE_ORDER.length - GRADE_ORDER.indexOf(grade)),
      })
        .bindTooltip(incidentTooltip(incident), { direction: "top", offset: [0, -8] })
        .addTo(page.map);
      page.incidents.set(id, { marker, signature });
    } else {
      entry.marker.setLatLng([incident.lat, incident.lon]);
      if (entry.signature !== signature) {
        entry.marker.setIcon(incidentIcon(incident));
        entry.marker.setTooltipContent(incidentTooltip(incident));
        entry.signature = signature;
      }
    }
  }
  for (const [id, entry] of page.incidents) {
    if (!seen.has(id)) {
      entry.marker.remove();
      page.incidents.delete(id);
    }
  }
}
