import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What a child process printed and how it ended. */
export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` to its end with `env` added to this process's environment. */
export function runProcess(command: string, args: string[], env: Record<string, string>): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs test/support/sentry-sdk-app.ts as its own Node process, as a user's application runs:
 * the SDK instruments that process only, never the test's. The file is type-checked with the
 * rest; here it is only transpiled, into node_modules so `@sentry/node` resolves from it.
 */
export async function runSentrySdkApp(env: Record<string, string>): Promise<ProcessRun> {
  const source = await readFile(join(root, 'test', 'support', 'sentry-sdk-app.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const dir = join(root, 'node_modules', '.cache', 'compter-tests');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'sentry-sdk-app.mjs');
  await writeFile(file, outputText);
  return runProcess(process.execPath, [file], env);
}
