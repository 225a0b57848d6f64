#!/usr/bin/env node
// A test-only HTTP front on chdb (ClickHouse's current engine, embedded), answering the part of
// ClickHouse's HTTP interface that @clickhouse/client uses: GET /ping, and POST / with the
// statement in the body (queries, commands) or in `?query=` with the rows in the body (inserts).
// Other URL parameters are ClickHouse settings and apply to that one statement. It lets the
// real ClickHouse adapter run against a current server where only 18.16 is packaged.
//
// usage: chdb-front.mjs <port> <data dir>; prints "listening <port>" once ready.
// CHDB_FRONT_PROFILE='{"setting":value}' applies settings to every statement.
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session } from 'chdb';

const [portArg, dir] = process.argv.slice(2);
// Settings every statement runs with, as a server profile would set them (JSON in the env).
const profile = Object.entries(JSON.parse(process.env.CHDB_FRONT_PROFILE ?? '{}')).map(([k, v]) => [k, String(v)]);
const session = new Session(dir);
// Parameters @clickhouse/client sends that are not settings.
const NOT_SETTINGS = new Set(['query', 'query_id', 'database', 'session_id', 'role', 'default_format']);
// One statement at a time: chdb's session is not concurrent, and ClickHouse's answer to
// concurrent writers is serial anyway for a test's volumes.
let queue = Promise.resolve();

function run(statement, settings, database) {
  const prefix = [];
  if (database) prefix.push(`USE ${database}`);
  for (const [key, value] of settings) {
    if (!/^[a-z_0-9]+$/.test(key)) throw new Error(`Code: 115. DB::Exception: Unknown setting ${key}. (UNKNOWN_SETTING)`);
    prefix.push(`SET ${key} = ${/^-?\d+(\.\d+)?$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`}`);
  }
  try {
    for (const p of prefix) session.query(p);
    // The statement carries its own FORMAT clause when it returns rows.
    return session.query(statement, 'TabSeparated');
  } finally {
    for (const [key] of settings) session.query(`SET ${key} = DEFAULT`);
    if (database) session.query('USE default');
  }
}

function codeOf(message) {
  return /Code: (\d+)/.exec(message)?.[1] ?? '1000';
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://front');
  if (req.method === 'GET' && url.pathname === '/ping') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Ok.\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    queue = queue.then(() => {
      const body = Buffer.concat(chunks).toString('utf8');
      const inUrl = url.searchParams.get('query');
      const statement = inUrl ? `${inUrl}\n${body}` : body;
      const settings = [...profile, ...[...url.searchParams].filter(([k]) => !NOT_SETTINGS.has(k))];
      const queryId = url.searchParams.get('query_id') ?? '';
      try {
        const out = run(statement, settings, url.searchParams.get('database'));
        res.writeHead(200, {
          'content-type': 'text/plain; charset=UTF-8',
          'x-clickhouse-query-id': queryId,
          'x-clickhouse-summary': '{"read_rows":"0","read_bytes":"0","written_rows":"0","written_bytes":"0","total_rows_to_read":"0"}',
        });
        res.end(out);
      } catch (err) {
        const message = String(err?.message ?? err).replace(/^Query failed: /, '');
        res.writeHead(500, {
          'content-type': 'text/plain; charset=UTF-8',
          'x-clickhouse-exception-code': codeOf(message),
          'x-clickhouse-query-id': queryId,
        });
        res.end(message.includes('DB::Exception') ? message : `Code: 1000. DB::Exception: ${message} (UNKNOWN_EXCEPTION)`);
      }
    });
  });
});

server.listen(Number(portArg), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
// The front ends with the process that started it, however that one ends: its stdin is a pipe
// from the parent, so end-of-file means the parent is gone (a killed test worker included).
function shutDown() {
  server.close();
  session.cleanup?.();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.stdin.on('end', shutDown);
process.stdin.on('error', shutDown);
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, shutDown);
