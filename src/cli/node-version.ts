/**
 * The oldest Node.js compter runs on: the journal checksums its records with `zlib.crc32`,
 * which Node added in 20.15. Keep it equal to `engines.node` in package.json.
 */
export const MIN_NODE_VERSION = '20.15.0';

function parts(version: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Why Node `version` (as in `process.versions.node`) cannot run compter, or null when it can. */
export function nodeVersionProblem(version: string, minimum: string = MIN_NODE_VERSION): string | null {
  const have = parts(version);
  const need = parts(minimum)!;
  if (have === null) return `cannot read the Node.js version "${version}"; compter needs Node.js ${minimum} or newer`;
  for (let i = 0; i < 3; i++) {
    if (have[i]! > need[i]!) return null;
    if (have[i]! < need[i]!)
      return `Node.js ${version} is too old: compter needs Node.js ${minimum} or newer (zlib.crc32, used by the journal)`;
  }
  return null;
}
