// Leaflet, vendored under static/vendor/leaflet and loaded as a classic script that defines
// window.L (undefined if it failed to load).

export const L = globalThis.L;
