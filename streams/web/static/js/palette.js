// Colours, labels and orders of coverage states, officer roles and incident grades.

export const COVERAGE_COLOURS = {
  covered: "#2f9e44",
  at_risk: "#f59f00",
  uncovered: "#e03131",
  unknown: "#868e96",
};

// Comparison areas never alert: their states are drawn in muted tones, never the alarm colours.
export const COMPARISON_FILL = "#56647a";
export const COMPARISON_COLOURS = {
  covered: "#7f9c88",
  at_risk: "#a39a7a",
  uncovered: "#9d92b4",
  unknown: "#8a9099",
};

export const STATE_LABELS = {
  covered: "covered",
  at_risk: "at risk",
  uncovered: "uncovered",
  unknown: "unknown",
};

// Why an area is unknown (coverage.reason), and ingest_lag while the service's ingest is behind.
export const REASON_LABELS = {
  feed_silent: "feed silent: no radio reported",
  nobody_on_duty: "nobody on duty",
  feed_degraded: "feed degraded: too few radios on duty reported",
  ingest_lag: "ingest behind: states shown are old",
};

export const ROLE_COLOURS = {
  response: "#4dabf7",
  neighbourhood: "#b197fc",
  roads: "#f8f9fa",
  offender_management: "#f783ac",
  partnership: "#3bc9db",
};

export const OTHER_ROLE_COLOUR = "#ced4da";

export const GRADE_COLOURS = {
  immediate: "#ff2b2b",
  priority: "#ff922b",
  scheduled: "#ffd43b",
  resolution: "#adb5bd",
  ungraded: "#ffffff",
};

export const GRADE_ORDER = ["immediate", "priority", "scheduled", "resolution", "ungraded"];

export const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

// Displacement rings: a thin dashed outline with a faint fill, never a state colour.
export const RING_STYLE = {
  color: "#adb5bd",
  weight: 1,
  opacity: 0.8,
  dashArray: "2 4",
  fillColor: "#adb5bd",
  fillOpacity: 0.08,
};

// Crimes and stop-searches of the last 24 h on the map: rings, never solid like an officer.
export const PLACE_STYLES = {
  crime: { radius: 3.5, color: "#f783ac", weight: 2, fillColor: "#000000", fillOpacity: 0.9 },
  stop_search: { radius: 5, color: "#ffc078", weight: 2, fill: false },
};
