import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants, hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { ID_PATTERN } from '../domain/problems.js';

/**
 * `compter exec`: runs a job and reports it. Pays `start` (with a fresh run id) while the
 * command starts, passes stdin/stdout/stderr through, then pays `success` or `fail` with the
 * exit code, duration, host and the last 10 KiB of output. compter being slow or down never
 * stops the job and never changes its exit code; the wrapper adds at most `--timeout` seconds
 * after the command ends.
 */

export const EXEC_USAGE = `usage: compter exec --url URL --debt ID [--token T] [--timeout S]
                    [--every D | --cron C [--tz Z]] [--grace D] -- COMMAND [ARG...]

Runs COMMAND (no shell: use -- sh -c '...' for pipes) and reports it to compter:
a start payment as it begins, then success or fail with the exit code, the duration, this
host and the last 10 KiB of its output. Exits with COMMAND's exit code (128+N when killed by
signal N). If compter cannot be reached the command still runs; the reports are retried
with backoff for at most --timeout seconds (default 10) after the command ends.

  --url URL       compter's base URL (or COMPTER_URL)
  --debt ID       the debt this job pays
  --token T       bearer token with the ping scope (or COMPTER_TOKEN; prefer the variable:
                  arguments are visible in the process list)
  --timeout S     seconds the reports may add after the command ends (or COMPTER_EXEC_TIMEOUT)
  --every D, --cron C, --tz Z, --grace D
                  a schedule: creates the debt on first use if it does not exist
`;

/** Output bytes kept for the report (the server keeps a message up to this size). */
export const OUTPUT_TAIL_BYTES = 10 * 1024;
/** Default budget, seconds, for the reports after the command ends. */
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** How long after the command exits its output pipes may stay open (a background child holding them). */
const OUTPUT_DRAIN_MS = 1000;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 2000;
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
/** A terminal sends these to the whole foreground process group: the command already has them. */
const TERMINAL_SIGNALS = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT']);

export interface ExecOptions {
  url: string | null;
  debt: string | null;
  token: string | null;
  timeoutMs: number;
  /** Schedule query parameters that vivify the debt on first use. */
  vivify: Record<string, string>;
  command: string[];
}

const VALUE_OPTIONS = new Set(['url', 'debt', 'token', 'timeout', 'every', 'cron', 'tz', 'grace']);

/** Parses `exec`'s arguments: options, then the command after `--` (or after the first non-option). */
export function parseExecArgs(argv: string[], env: NodeJS.ProcessEnv): { options?: ExecOptions; error?: string; help?: boolean } {
  const values: Record<string, string> = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg === '-h' || arg === '--help') return { help: true };
    if (!arg.startsWith('--')) break;
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!VALUE_OPTIONS.has(name)) return { error: `unknown option ${arg}` };
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) return { error: `${arg} needs a value` };
    values[name] = value;
  }
  const command = argv.slice(i);
  if (command.length === 0) return { error: 'no command to run (put it after --)' };
  const timeoutText = values.timeout ?? env.COMPTER_EXEC_TIMEOUT;
  let timeoutMs = DEFAULT_TIMEOUT_SECONDS * 1000;
  if (timeoutText !== undefined && timeoutText !== '') {
    const seconds = Number(timeoutText);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
      return { error: `--timeout must be a number of seconds between 0 and 3600 (got "${timeoutText}")` };
    timeoutMs = Math.round(seconds * 1000);
  }
  const vivify: Record<string, string> = {};
  for (const name of ['every', 'cron', 'tz', 'grace']) if (values[name] !== undefined) vivify[name] = values[name]!;
  return {
    options: {
      url: values.url ?? (env.COMPTER_URL || null),
      debt: values.debt ?? null,
      token: values.token ?? (env.COMPTER_TOKEN || null),
      timeoutMs,
      vivify,
      command,
    },
  };
}

/** The last `limit` bytes of `buffer` as text, starting on a character boundary, at most `limit` bytes as UTF-8. */
export function tailUtf8(buffer: Buffer, limit: number): string {
  let start = Math.max(0, buffer.length - limit);
  // Step over continuation bytes (10xxxxxx) so the text starts on a whole character.
  for (let n = 0; n < 3 && start < buffer.length && (buffer[start]! & 0xc0) === 0x80; n++) start++;
  let text = buffer.subarray(start).toString('utf8');
  // Invalid bytes decode to U+FFFD (3 bytes); trim from the front until it fits again.
  while (Buffer.byteLength(text, 'utf8') > limit) text = text.slice(Math.max(1, text.length - limit));
  return text;
}

/** The most recent output of a command, bounded: older chunks are dropped as new ones come. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0]!.length >= this.limit) this.bytes -= this.chunks.shift()!.length;
  }

  text(limit = this.limit): string {
    return tailUtf8(Buffer.concat(this.chunks), limit);
  }
}

type ReportResult = { ok: true } | { ok: false; reason: string; isRefused: boolean };

function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

async function refusalReason(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: string } }).error?.message;
    if (message) return `${res.status}: ${message}`;
  } catch {
    // not our JSON error shape
  }
  return `${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

/** Sends payments to one debt, retrying with backoff until a deadline. */
export class PaymentReporter {
  private readonly endpoint: string;
  private readonly headers: Record<string, string>;

  constructor(url: string, debt: string, token: string | null, vivify: Record<string, string>) {
    const query = new URLSearchParams(vivify).toString();
    this.endpoint = `${url.replace(/\/+$/, '')}/v1/debts/${encodeURIComponent(debt)}/payments${query ? `?${query}` : ''}`;
    // It never reads the debt an answer carries, so it asks for none (RFC 7240): 204, nothing to render.
    this.headers = { 'content-type': 'application/json', prefer: 'return=minimal' };
    if (token) this.headers.authorization = `Bearer ${token}`;
  }

  /**
   * POSTs `payment`, retrying network errors, timeouts, 408, 429 and 5xx with exponential
   * backoff (honouring Retry-After) until `deadline` (epoch ms) or until `signal` aborts.
   * Other 4xx answers are final: retrying cannot fix them.
   */
  async send(payment: Record<string, unknown>, deadline: number, signal: AbortSignal): Promise<ReportResult> {
    const body = JSON.stringify(payment);
    let lastReason = 'no attempt made';
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) return { ok: false, reason: lastReason, isRefused: false };
      let retryAfterMs: number | null = null;
      try {
        const res = await fetch(this.endpoint, {
          method: 'POST',
          headers: this.headers,
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(remaining)]),
        });
        if (res.ok) {
          await res.arrayBuffer().catch(() => undefined);
          return { ok: true };
        }
        const reason = await refusalReason(res);
        if (!isRetryable(res.status)) return { ok: false, reason, isRefused: true };
        lastReason = reason;
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
      } catch (err) {
        lastReason = describeError(err);
      }
      const backoff = retryAfterMs ?? Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (Date.now() + backoff >= deadline) return { ok: false, reason: lastReason, isRefused: false };
      // An abort (the job's own signal) ends the wait early; the loop then sees the deadline.
      await delay(backoff, undefined, { signal }).catch(() => undefined);
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}

interface Finished {
  exitCode: number;
  signal: NodeJS.Signals | null;
  spawnError: NodeJS.ErrnoException | null;
}

/** Copies a child's stream to ours and into the tail; a closed stdout of ours never blocks the child. */
function tee(from: Readable, to: Writable, tail: OutputTail): void {
  let isBroken = false;
  to.on('error', () => {
    isBroken = true;
    from.resume();
  });
  from.on('data', (chunk: Buffer) => {
    tail.push(chunk);
    if (isBroken) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

function warn(message: string): void {
  try {
    process.stderr.write(`compter exec: ${message}\n`);
  } catch {
    // stderr closed: nothing else to tell anyone
  }
}

/** What to do about a refusal the user can fix from the command line. */
function hint(result: ReportResult, options: ExecOptions): string {
  if (result.ok || !result.isRefused) return '';
  if (result.reason.startsWith('404') && Object.keys(options.vivify).length === 0)
    return ' (add --every or --cron to create the debt on first use)';
  if (result.reason.startsWith('401')) return ' (set --token or COMPTER_TOKEN)';
  return '';
}

/**
 * Runs `compter exec` with `argv` (the arguments after "exec") and resolves with the exit code
 * the wrapper should exit with: the command's own.
 */
export async function execCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseExecArgs(argv, env);
  if (parsed.help) {
    process.stdout.write(EXEC_USAGE);
    return 0;
  }
  if (!parsed.options) {
    process.stderr.write(`compter exec: ${parsed.error}\n${EXEC_USAGE}`);
    return 2;
  }
  const options = parsed.options;
  let reporter: PaymentReporter | null = null;
  if (!options.url) warn('no --url (or COMPTER_URL): running the command without reporting it');
  else if (!options.debt || !ID_PATTERN.test(options.debt))
    warn(`${options.debt ? `--debt "${options.debt}" is not a debt id` : 'no --debt'}: running the command without reporting it`);
  else if (!/^https?:\/\//i.test(options.url))
    warn(`--url "${options.url}" is not an http(s) URL: running the command without reporting it`);
  else reporter = new PaymentReporter(options.url, options.debt, options.token, options.vivify);

  const runId = randomUUID();
  const host = hostname();
  const tail = new OutputTail(OUTPUT_TAIL_BYTES);
  let finished: Finished | null = null;
  const reportAbort = new AbortController();
  // The wall clock names the start instant for compter; the monotonic clock measures the run,
  // so an NTP step during the job cannot shorten or stretch its duration.
  const startedAt = Date.now();
  const startedMono = performance.now();
  const child = spawn(options.command[0]!, options.command.slice(1), { stdio: ['inherit', 'pipe', 'pipe'] });
  const startAbort = new AbortController();
  // The start report goes out after the spawn and carries the spawn instant, so it never
  // delays the job and compter's record of the start does not depend on when it arrives.
  const started: Promise<ReportResult> = reporter
    ? reporter.send({ kind: 'start', runId, host, at: new Date(startedAt).toISOString() }, startedAt + options.timeoutMs, startAbort.signal)
    : Promise.resolve({ ok: true });
  tee(child.stdout, process.stdout, tail);
  tee(child.stderr, process.stderr, tail);

  const forward = (signal: NodeJS.Signals) => {
    if (finished) {
      // The command is done and we are only reporting: stop now, with its exit code.
      reportAbort.abort();
      startAbort.abort();
      return;
    }
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const forwarded = FORWARDED_SIGNALS.filter((s) => !(process.stdin.isTTY && TERMINAL_SIGNALS.has(s)));
  for (const s of forwarded) process.on(s, forward);

  let spawnError: NodeJS.ErrnoException | null = null;
  child.on('error', (err: NodeJS.ErrnoException) => {
    spawnError = err;
  });
  const result: Finished = await new Promise((resolve) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      if (spawnError) resolve({ exitCode: spawnError.code === 'ENOENT' ? 127 : 126, signal: null, spawnError });
      else if (signal) resolve({ exitCode: 128 + signalNumber(signal), signal, spawnError: null });
      else resolve({ exitCode: code ?? 1, signal: null, spawnError: null });
    };
    // 'close' waits for the output pipes, so the tail is complete. A background process the
    // command left behind may hold them open for ever: then stop reading shortly after 'exit'.
    child.on('close', settle);
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        settle(code, signal);
      }, OUTPUT_DRAIN_MS).unref();
    });
  });
  finished = result;
  const endedAt = Date.now();
  const durationSeconds = (performance.now() - startedMono) / 1000;
  if (result.spawnError) warn(`cannot run "${options.command[0]}": ${result.spawnError.code ?? result.spawnError.message}`);

  try {
    if (!reporter) return result.exitCode;
    const reportDeadline = endedAt + options.timeoutMs;
    // Wait for the start report so the end arrives after it; give up on it halfway through the budget.
    const giveUp = setTimeout(
      () => startAbort.abort(),
      Math.max(0, Math.min(startedAt + options.timeoutMs, endedAt + options.timeoutMs / 2) - Date.now()),
    );
    const start = await started;
    clearTimeout(giveUp);
    if (!start.ok) warn(`could not report the start to compter: ${start.reason}${hint(start, options)}`);
    if (reportAbort.signal.aborted) return result.exitCode;

    const note = result.signal
      ? `[compter exec: killed by ${result.signal}]`
      : result.spawnError
        ? `[compter exec: cannot run "${options.command[0]}": ${result.spawnError.code ?? result.spawnError.message}]`
        : '';
    const output = tail.text(OUTPUT_TAIL_BYTES - Buffer.byteLength(note) - 1);
    const message = note ? `${output}${output && !output.endsWith('\n') ? '\n' : ''}${note}` : output;
    const end = await reporter.send(
      {
        kind: result.exitCode === 0 ? 'success' : 'fail',
        runId,
        exitCode: result.exitCode,
        host,
        durationSeconds,
        ...(message ? { message } : {}),
      },
      reportDeadline,
      reportAbort.signal,
    );
    if (!end.ok && !reportAbort.signal.aborted)
      warn(
        `could not report the ${result.exitCode === 0 ? 'success' : 'failure'} to compter: ` +
          `${end.reason}${start.ok ? hint(end, options) : ''}`,
      );
    return result.exitCode;
  } finally {
    for (const s of forwarded) process.off(s, forward);
  }
}
