#!/usr/bin/env node
import { loadEnv, readConfigFile } from '../config.js';
import { startServer } from '../main.js';

const USAGE = `usage: compter <command>

commands:
  serve                 run the server (configured by COMPTER_* environment variables)
  check-config FILE     validate a compter.yaml and explain every problem
`;

async function serveCommand(): Promise<void> {
  const server = await startServer(loadEnv());
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
  console.log(`${file}: ok (${config.debts.length} debts, ${config.calendars.length} calendars, ${config.slos.length} SLOs)`);
  return 0;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await serveCommand();
      return;
    case 'check-config':
      process.exitCode = checkConfigCommand(rest[0]);
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
