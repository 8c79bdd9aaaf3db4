// The time control: a slider under the map that replays the last hours (GET /api/replay?at=;
// COVERWATCH_REPLAY_HOURS, 3 by default, 0: no time control).
// While it is off "live", the areas on the map take the states they had then, the live officers
// and incidents are hidden and, for a supervisor, the officers are drawn where they were (that
// read is audited); the alerts, the table and the header stay live. "Live" goes back.

import { api } from "./api.js";
import { formatClock } from "./clock.js";
import { formatMinutes } from "./format.js";
import { escapeHtml } from "./html.js";
import { L } from "./leaflet.js";
import { OTHER_ROLE_COLOUR, ROLE_COLOURS } from "./palette.js";
import { areaIds, page } from "./state.js";

const SETTLE_MS = 250;

let control = null;
let pending = null;
let asked = 0;

export function addTimeControl(map, restyle) {
  const hours = page.config.replay_hours ?? 0;
  if (!hours) return; // the time control is off
  const minutes = hours * 60 - 1; // whole minutes back, all within the service's hours
  map.createPane("replay");
  map.getPane("replay").style.zIndex = 625;
  const bar = L.control({ position: "bottomleft" });
  bar.onAdd = () => {
    const div = L.DomUtil.create("div", "time-control");
    div.dataset.testid = "time-control";
    div.innerHTML =
      `<div class="time-row"><label>Last ${hours} h <input type="range" ` +
      `data-testid="time-slider" min="-${minutes}" max="0" step="1" value="0"></label>` +
      '<button type="button" data-testid="time-live" disabled>Live</button></div>' +
      '<div data-testid="time-shown" class="time-shown">live</div>';
    const slider = div.querySelector("input");
    slider.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(() => show(Number(slider.value), restyle), SETTLE_MS);
    });
    div.querySelector("button").addEventListener("click", () => {
      slider.value = "0";
      show(0, restyle);
    });
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  bar.addTo(map);
  control = bar.getContainer();
}

async function show(minutesBack, restyle) {
  const ask = ++asked;
  if (minutesBack === 0) {
    leave(restyle);
    return;
  }
  const at = new Date(page.clock.now() + minutesBack * 60000);
  at.setUTCSeconds(0, 0);
  let body;
  try {
    body = await api(`replay?at=${encodeURIComponent(at.toISOString())}`);
  } catch (error) {
    if (ask === asked) {
      control.querySelector('[data-testid="time-shown"]').textContent = `no replay: ${error.message}`;
    }
    return;
  }
  if (ask !== asked) return; // the slider moved on meanwhile
  page.replay = { at: body.at, states: body.states ?? {} };
  page.map.getContainer().classList.add("replaying");
  control.querySelector('[data-testid="time-live"]').disabled = false;
  const shown = control.querySelector('[data-testid="time-shown"]');
  shown.textContent = `replay of ${formatClock(Date.parse(body.at)) ?? body.at}, ${formatMinutes(
    -minutesBack,
  )} ago: not live`;
  shown.classList.add("replaying");
  drawOfficers(body.officers ?? []);
  for (const areaId of areaIds()) restyle(areaId);
}

function leave(restyle) {
  if (!page.replay) return;
  page.replay = null;
  page.map.getContainer().classList.remove("replaying");
  control.querySelector('[data-testid="time-live"]').disabled = true;
  const shown = control.querySelector('[data-testid="time-shown"]');
  shown.textContent = "live";
  shown.classList.remove("replaying");
  drawOfficers([]);
  for (const areaId of areaIds()) restyle(areaId);
}

function drawOfficers(officers) {
  page.replayOfficers?.remove();
  page.replayOfficers = L.layerGroup(
    officers.map((officer) => {
      const colour = ROLE_COLOURS[officer.role] ?? OTHER_ROLE_COLOUR;
      const mode = officer.mode === "vehicle" ? "vehicle" : "foot";
      return L.marker([officer.lat, officer.lon], {
        pane: "replay",
        keyboard: false,
        interactive: false,
        icon: L.divIcon({
          className: "officer-icon",
          html:
            `<i class="off off-${mode} replayed" data-testid="replay-officer" ` +
            `data-role="${escapeHtml(officer.role)}" style="--c:${colour}"></i>`,
          iconSize: [14, 14],
          iconAnchor: [7, 7],
        }),
      });
    }),
  ).addTo(page.map);
}
