// The service's "now" and the page's time formats (the service's time zone).

import { parseTs } from "./format.js";

let timeFmt = null;
let clockFmt = null;

// The service's "now". In production it is the wall clock; a replay or the demo runs on the
// event clock (60x real time), so ages are measured against the latest service time seen,
// extrapolated at the rate the service clock has been observed to move.
export class ServiceClock {
  constructor() {
    this.samples = [];
    this.rateValue = 1;
  }

  observe(value) {
    const t = parseTs(value);
    if (t === null) return;
    const last = this.samples.at(-1);
    if (last && t <= last.t) return;
    const w = performance.now();
    this.samples.push({ t, w });
    while (this.samples.length > 2 && w - this.samples[0].w > 120000) this.samples.shift();
    const first = this.samples[0];
    if (w - first.w >= 3000) {
      this.rateValue = Math.min(3600, Math.max(0, (t - first.t) / (w - first.w)));
    }
  }

  now() {
    const last = this.samples.at(-1);
    if (!last) return Date.now();
    // extrapolate at most 30 s of real time past the last sample, then hold
    const dw = Math.min(performance.now() - last.w, 30000);
    return last.t + dw * this.rateValue;
  }
}

// Times of day in the service's time zone (UTC if the browser does not know it).
export function makeFormats(timeZone) {
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
  try {
    timeFmt = new Intl.DateTimeFormat("en-GB", { ...options, timeZone });
    clockFmt = new Intl.DateTimeFormat("en-GB", {
      ...options,
      timeZone,
      timeZoneName: "short",
    });
  } catch {
    timeFmt = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: "UTC" });
    clockFmt = new Intl.DateTimeFormat("en-GB", {
      ...options,
      timeZone: "UTC",
      timeZoneName: "short",
    });
  }
}

export function formatTime(value) {
  const t = parseTs(value);
  return t === null || !timeFmt ? "–" : timeFmt.format(new Date(t));
}

// The service clock's reading for the header, or null before the formats are made.
export function formatClock(ms) {
  return clockFmt ? clockFmt.format(new Date(ms)) : null;
}
