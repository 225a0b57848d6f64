import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { TestCompter } from './app-harness.js';

/** A token as a test declares it: the clear text the client sends, and what compter.yaml holds. */
export interface TestToken {
  name: string;
  project: string;
  scopes: string[];
  applications?: string[];
  /** The clear text sent as `Authorization: Bearer <secret>`. */
  secret: string;
}

/** A test token with a recognisable secret (`cpt_test_<name>` padded to 40+ characters). */
export function testToken(name: string, project: string, scopes: string[], applications?: string[]): TestToken {
  const token: TestToken = { name, project, scopes, secret: `cpt_test_${name}_${'x'.repeat(32)}` };
  if (applications) token.applications = applications;
  return token;
}

/** The `tokens:` section for `tokens`, each declared by the SHA-256 of its secret (hashed here independently of compter). */
export function tokensYaml(tokens: readonly TestToken[]): string {
  const lines = tokens.map((t) => {
    const apps = t.applications ? `, applications: [${t.applications.join(', ')}]` : '';
    const hash = createHash('sha256').update(t.secret).digest('hex');
    return `  - { name: ${t.name}, project: ${t.project}, scopes: [${t.scopes.join(', ')}]${apps}, hash: "sha256:${hash}" }`;
  });
  return `tokens:\n${lines.join('\n')}\n`;
}

/** Writes a compter.yaml with `tokens` and any extra YAML after them. */
export async function writeTokenConfig(file: string, tokens: readonly TestToken[], extra = ''): Promise<void> {
  await writeFile(file, tokensYaml(tokens) + extra);
}

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** A request through the app with a bearer token (or none, or a raw Authorization header). */
export async function call(c: TestCompter, method: string, path: string, auth: TestToken | string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (auth !== null) headers.authorization = typeof auth === 'string' ? auth : `Bearer ${auth.secret}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await c.request(path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
