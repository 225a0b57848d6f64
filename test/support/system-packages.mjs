// The Debian packages compter's tests and benchmarks start as real processes: installed with
// apt-get when missing and running as root, otherwise named with the command to install them.
import { spawnSync } from 'node:child_process';

function onPath(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Installs the packages of `wanted` ({ bin, pkg }: one binary each provides) whose binary is
 * not on PATH; exits 2 with the install command when that is not possible. `who` names what
 * needs them ("the integration tests").
 */
export function ensureSystemPackages(wanted, who, rerun) {
  const missing = [...new Set(wanted.filter((p) => !onPath(p.bin)).map((p) => p.pkg))];
  if (missing.length === 0) return;
  const install = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`${who} need Debian packages that are missing: ${missing.join(', ')}.`);
    console.error(`Install them as root, then run ${rerun} again:\n  ${install}`);
    process.exit(2);
  }
  console.log(`installing ${missing.join(', ')} (needed by ${who})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const cmd of ['apt-get update', `apt-get install -y --no-install-recommends ${missing.join(' ')}`]) {
    const r = spawnSync('sh', ['-c', cmd], { stdio: 'inherit', env });
    if (r.status !== 0) {
      console.error(`"${cmd}" failed (exit ${r.status}); install ${missing.join(', ')} and retry.`);
      process.exit(2);
    }
  }
}
