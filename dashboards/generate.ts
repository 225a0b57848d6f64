/**
 * Writes dashboards/*.json from dashboards/src/ (`npm run dashboards`). With `--check` it
 * writes nothing and exits 1 when a committed file differs from what the sources generate.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allDashboards, renderDashboard } from './src/index.js';

/** The dashboards/ directory, whether this runs from the sources or compiled under dist/. */
function dashboardsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dashboards');
  }
  throw new Error('package.json not found above dashboards/generate');
}

const check = process.argv.includes('--check');
const dir = dashboardsDir();
const stale: string[] = [];
for (const { file, dashboard } of allDashboards()) {
  const path = join(dir, file);
  const text = renderDashboard(dashboard);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (current === text) continue;
  stale.push(file);
  if (!check) writeFileSync(path, text);
}
if (check && stale.length > 0) {
  console.error(`out of date (run npm run dashboards): ${stale.join(', ')}`);
  process.exit(1);
}
console.log(stale.length === 0 ? 'dashboards are up to date' : `wrote ${stale.join(', ')}`);
