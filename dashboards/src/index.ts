import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { healthDashboard } from './health.js';
import { overviewDashboard } from './overview.js';
import { sloPerformanceDashboard } from './slo-performance.js';
import { trendsDashboard } from './trends.js';

/** A dashboard and the file under dashboards/ it is committed as. */
export interface GeneratedDashboard {
  file: string;
  dashboard: dashboard.Dashboard;
}

/** Every shipped dashboard, built fresh. */
export function allDashboards(): GeneratedDashboard[] {
  return [
    { file: 'compter-overview.json', dashboard: overviewDashboard() },
    { file: 'compter-slo-performance.json', dashboard: sloPerformanceDashboard() },
    { file: 'compter-trends.json', dashboard: trendsDashboard() },
    { file: 'compter-health.json', dashboard: healthDashboard() },
  ];
}

/** The committed text of a dashboard: two-space JSON and a final newline. */
export function renderDashboard(d: dashboard.Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
