import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every `.ts` file under `dir`, recursively. */
function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/** The sources under src/ whose compiled file in dist/ is missing or older than they are. */
export function staleSources(): string[] {
  const configMs = Math.max(mtimeMs(join(root, 'tsconfig.json')), mtimeMs(join(root, 'tsconfig.build.json')));
  return sourcesUnder(join(root, 'src')).filter((source) => {
    const built = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js');
    const builtMs = mtimeMs(built);
    return builtMs < mtimeMs(source) || builtMs < configMs;
  });
}

/**
 * Vitest global setup: process-level tests run the built CLI in dist/, so a stale build would
 * test old code. Rebuilds only when a source is newer than its output (a stat per file when
 * nothing changed).
 */
export default function setup(): void {
  const stale = staleSources();
  if (stale.length === 0) return;
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`the build failed (tsc exit ${r.status}); process-level tests would run stale code in dist/`);
}
