import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { generateToken, hashToken, tokenRecordSchema, type TokenRecord } from '../domain/tokens.js';

export const TOKEN_USAGE = `usage: compter token new --project P --scopes S[,S...] [--applications A[,A...]] [--name N]
       compter token hash < token.txt

  new    prints a fresh random token (line 1; shown only this once) and the compter.yaml
         line that declares it by hash (line 2)
  hash   prints the sha256:<hex> form of the token read from standard input

scopes: ping (payments, pings, job status), read (GET routes), write (define, delete,
        pause, resume; includes read), admin (everything)
`;

/** The compter.yaml `tokens:` entry for a record, one line in YAML flow style. */
export function tokenYamlLine(record: TokenRecord): string {
  // Every field is restricted to [A-Za-z0-9._:-] by the schema, so nothing needs quoting but the hash.
  const fields = [`name: ${record.name}`, `project: ${record.project}`, `scopes: [${record.scopes.join(', ')}]`];
  if (record.applications) fields.push(`applications: [${record.applications.join(', ')}]`);
  fields.push(`hash: "${record.hash}"`);
  return `  - { ${fields.join(', ')} }`;
}

/** Builds a new token and its record from `compter token new` arguments; throws listing every problem. */
export function newToken(args: string[], random: (n: number) => Buffer = randomBytes): { token: string; record: TokenRecord } {
  const { values } = parseArgs({
    args,
    options: { project: { type: 'string' }, scopes: { type: 'string' }, applications: { type: 'string' }, name: { type: 'string' } },
    strict: true,
  });
  const token = generateToken(random);
  const list = (v: string | undefined) =>
    v === undefined
      ? undefined
      : v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const candidate = {
    name: values.name ?? `${values.project ?? 'token'}-${random(3).toString('hex')}`,
    project: values.project,
    scopes: list(values.scopes),
    ...(values.applications === undefined ? {} : { applications: list(values.applications) }),
    hash: hashToken(token),
  };
  const parsed = tokenRecordSchema.safeParse(candidate);
  if (!parsed.success) {
    const flag = (path: PropertyKey[]) => `--${String(path[0])}`;
    throw new Error(
      parsed.error.issues
        .map((i) => `${flag(i.path)}: ${i.path[0] === 'project' && candidate.project === undefined ? 'required' : i.message}`)
        .join('\n'),
    );
  }
  return { token, record: parsed.data };
}

/** `compter token ...`; returns the exit code. */
export async function tokenCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'new') {
    try {
      const { token, record } = newToken(rest);
      process.stdout.write(`${token}\n${tokenYamlLine(record)}\n`);
      process.stderr.write(
        'line 1 is the token: give it to the client now, it is not stored anywhere.\n' +
          'line 2 goes under `tokens:` in compter.yaml; reload with SIGHUP or restart.\n',
      );
      return 0;
    } catch (err) {
      process.stderr.write(`compter token new: ${(err as Error).message}\n\n${TOKEN_USAGE}`);
      return 2;
    }
  }
  if (sub === 'hash') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const token = Buffer.concat(chunks).toString('utf8').trim();
    if (!token) {
      process.stderr.write('compter token hash: no token on standard input\n');
      return 2;
    }
    process.stdout.write(`${hashToken(token)}\n`);
    return 0;
  }
  process.stderr.write(TOKEN_USAGE);
  return 2;
}
