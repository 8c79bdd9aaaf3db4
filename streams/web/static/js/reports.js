// The link to the latest daily evaluation report in the top bar (GET /api/reports). The link
// carries the token once: /reports/ exchanges it for a cookie scoped to /reports and redirects
// to the same address without it, so the report's own links work.

import { api } from "./api.js";
import { $ } from "./html.js";
import { page } from "./state.js";

export async function pollLatestReport() {
  const reports = await api("reports");
  const link = $('[data-testid="latest-report"]');
  if (!reports.latest) {
    link.hidden = true;
    return;
  }
  const url = new URL(`reports/${reports.latest}/`, page.base);
  url.searchParams.set("token", page.token);
  link.href = url.href;
  link.textContent = `Report ${reports.latest}`;
  link.title = `Daily evaluation report of ${reports.latest} (all kept reports: /reports/)`;
  link.hidden = false;
}
