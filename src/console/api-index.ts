/** The small JSON index `GET /` answers API clients: where things are. */
export function apiIndex(version: string, publicUrl: string | undefined, hasSlos: boolean, hasTrends: boolean) {
  const base = publicUrl ? publicUrl.replace(/\/+$/, '') : '';
  return {
    name: 'compter',
    version,
    console: `${base}/`,
    openapi: `${base}/openapi.json`,
    metrics: `${base}/metrics`,
    health: { live: `${base}/healthz`, ready: `${base}/readyz` },
    routes: {
      debts: `${base}/v1/debts`,
      payments: `${base}/v1/debts/{id}/payments`,
      pings: `${base}/ping/{pingId}`,
      ...(hasSlos ? { jobStatus: `${base}/v1/job-status`, slos: `${base}/v1/slos`, calendars: `${base}/v1/calendars/{id}` } : {}),
      ...(hasTrends ? { jobTrends: `${base}/v1/trends/jobs`, sloTrends: `${base}/v1/trends/slos` } : {}),
    },
  };
}
