#!/usr/bin/env node
import { loadEnv, readConfigFile } from '../config.js';
import { execCommand } from './exec.js';
import { isTracingRequested } from '../tracing/tracing.js';
import { tokenCommand } from './token.js';
import { nodeVersionProblem } from './node-version.js';

const USAGE = `usage: compter <command>

commands:
  serve                 run the server (configured by COMPTER_* environment variables)
  check-config FILE     validate a compter.yaml and explain every problem
  exec --url URL --debt ID [--token T] [--timeout S] -- COMMAND...
                        run a job and report start, success or fail, exit code, duration
                        and output tail to compter; exits with the job's exit code
  token new ...         make an API token and its compter.yaml line (compter token for help)
`;

async function serveCommand(): Promise<void> {
  const env = loadEnv();
  // The OpenTelemetry SDK is loaded only when an OTLP endpoint is configured (see tracing/).
  if (isTracingRequested()) await import('../tracing/preload.js');
  // Loaded here, not at the top: `compter exec` runs from cron and must start fast.
  const { startServer } = await import('../main.js');
  const server = await startServer(env);
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals > 1) process.exit(1);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`compter: shutdown after ${signal} failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function checkConfigCommand(file: string | undefined): number {
  if (!file) {
    console.error('usage: compter check-config FILE');
    return 2;
  }
  const { config, problems } = readConfigFile(file);
  if (!config) {
    console.error(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) console.error(`  ${p.path}: ${p.message}`);
    return 1;
  }
  console.log(
    `${file}: ok (${config.debts.length} debts, ${config.calendars.length} calendars, ` +
      `${config.slos.length} SLOs, ${config.tokens.length} tokens)`,
  );
  return 0;
}

async function main(argv: string[]): Promise<void> {
  // Checked before the server's modules load: on an older Node they fail with an obscure import error.
  const tooOld = nodeVersionProblem(process.versions.node);
  if (tooOld) {
    process.stderr.write(`compter: ${tooOld}\n`);
    process.exit(1);
  }
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await serveCommand();
      return;
    case 'exec': {
      const code = await execCommand(rest);
      // Exit as soon as the output is flushed: an idle keep-alive socket must not hold the job open.
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
      return process.exit(code);
    }
    case 'check-config':
      process.exitCode = checkConfigCommand(rest[0]);
      return;
    case 'token':
      process.exitCode = await tokenCommand(rest);
      return;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`compter: unknown command "${command}"\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`compter: ${(err as Error).message}`);
  process.exit(1);
});
