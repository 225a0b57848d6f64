// A real clickhouse-server for the benchmarks, on free loopback ports and a temp directory,
// configured like the test harness (test/support/clickhouse-server.ts) in its smallest form.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './lib.mjs';

function serverCommand() {
  const override = process.env.COMPTER_CLICKHOUSE_SERVER_BIN;
  if (override) return { file: override, args: override.endsWith('/clickhouse') ? ['server'] : [] };
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/bin']) {
    for (const [name, args] of [
      ['clickhouse-server', []],
      ['clickhouse', ['server']],
    ]) {
      try {
        accessSync(join(d, name), constants.X_OK);
        return { file: join(d, name), args };
      } catch {}
    }
  }
  throw new Error('clickhouse-server not found: apt-get install -y clickhouse-server (or set COMPTER_CLICKHOUSE_SERVER_BIN)');
}

/** Starts clickhouse-server; resolves with { url, kill(), start(), stop() } once /ping answers. */
export async function startClickHouse({ maxMemoryBytes = 3_000_000_000 } = {}) {
  const command = serverCommand();
  const dir = mkdtempSync(join(tmpdir(), 'compter-bench-ch-'));
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  const [httpPort, tcpPort, interPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port><tcp_port>${tcpPort}</tcp_port>
  <interserver_http_port>${interPort}</interserver_http_port><interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>1024</max_connections><keep_alive_timeout>3</keep_alive_timeout><max_concurrent_queries>200</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size><mark_cache_size>268435456</mark_cache_size>
  <path>${dir}/data/</path><tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path><format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
  <timezone>UTC</timezone><mlock_executable>false</mlock_executable>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>${maxMemoryBytes}</max_memory_usage><use_uncompressed_cache>0</use_uncompressed_cache></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let child = null;
  let exited = Promise.resolve();
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  async function start() {
    if (child) return;
    const stderr = openSync(join(dir, 'log', 'stderr.log'), 'a');
    child = spawn(command.file, [...command.args, `--config-file=${join(dir, 'config.xml')}`], {
      cwd: dir,
      stdio: ['ignore', 'ignore', stderr],
    });
    closeSync(stderr);
    const me = child;
    exited = new Promise((resolve) =>
      me.once('exit', () => {
        if (child === me) child = null;
        resolve();
      }),
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(`${url}/ping`);
        if ((await res.text()).trim() === 'Ok.') return;
      } catch {}
      if (!child) throw new Error(`clickhouse-server exited during start-up; see ${dir}/log`);
      if (Date.now() > deadline) throw new Error('clickhouse-server did not start within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function kill() {
    child?.kill('SIGKILL');
    await exited;
  }
  async function stop() {
    process.removeListener('exit', onExit);
    await kill();
    rmSync(dir, { recursive: true, force: true });
  }
  await start();
  return { url, dir, start, kill, stop };
}

/** Runs one SQL statement over HTTP; returns the response text. */
export async function clickhouseQuery(url, sql) {
  const res = await fetch(url, { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse answered ${res.status}: ${text.slice(0, 500)}`);
  return text;
}
