import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { delimiter, join } from 'node:path';

/** A real ClickHouse server owned by one test process, on loopback ports and a temp directory. */
export interface ClickHouseServer {
  /** `http://127.0.0.1:<httpPort>` */
  url: string;
  httpPort: number;
  tcpPort: number;
  /** The temp directory holding config, data and logs; removed by `stop()`. */
  dir: string;
  /** Kills the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** Graceful shutdown (SIGTERM) and start again on the same ports and data. */
  restart(): Promise<void>;
  /** SIGKILL, keeping ports and data: an outage (for spool tests) until `start()`. */
  kill(): Promise<void>;
  /** Starts the server again after `kill()`; waits until `/ping` answers. */
  start(): Promise<void>;
}

export interface StartClickHouseOptions {
  /** How long to wait for `/ping` to answer `Ok.`; default 30 s. */
  startTimeoutMs?: number;
}

const INSTALL_HINT =
  'install Debian package `clickhouse-server` (`apt-get install -y clickhouse-server`), ' +
  'or set COMPTER_CLICKHOUSE_SERVER_BIN to a clickhouse-server binary';

/**
 * Starts a real `clickhouse-server` (Debian's 18.16, or a current single `clickhouse` binary)
 * on free loopback ports with a generated minimal config, and resolves once `GET /ping`
 * answers. Throws with an install hint when no server binary is found.
 */
export async function startClickHouse(options: StartClickHouseOptions = {}): Promise<ClickHouseServer> {
  const command = findServerCommand();
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let lastError: unknown;
  // Free ports are found by binding and releasing them, so another process (a Prometheus
  // started by a parallel suite) can grab one in between: retry with fresh ports.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'compter-clickhouse-'));
    const [httpPort, tcpPort, interserverPort] = (await freePorts(3)) as [number, number, number];
    writeConfig(dir, { httpPort, tcpPort, interserverPort });
    const server = new ManagedServer(command, dir, httpPort, tcpPort, startTimeoutMs);
    try {
      await server.start();
      return server;
    } catch (err) {
      lastError = err;
      await server.stop();
    }
  }
  throw lastError;
}

let shared: Promise<ClickHouseServer> | undefined;

/**
 * One server per test file (vitest runs each file in its own worker), started on first use;
 * call it in `beforeAll`. It is stopped when the worker exits, and a watchdog kills it even
 * if the worker is killed without running exit handlers.
 */
export function getSharedClickHouse(): Promise<ClickHouseServer> {
  if (!shared) {
    shared = startClickHouse();
    shared.catch(() => {
      shared = undefined;
    });
  }
  return shared;
}

interface ServerCommand {
  file: string;
  /** Arguments before `--config-file`: `['server']` for the single-binary layout. */
  args: string[];
}

function findServerCommand(): ServerCommand {
  const override = process.env.COMPTER_CLICKHOUSE_SERVER_BIN;
  if (override) {
    if (!isExecutable(override)) throw new Error(`COMPTER_CLICKHOUSE_SERVER_BIN=${override} is not executable; ${INSTALL_HINT}`);
    return { file: override, args: override.endsWith('/clickhouse') ? ['server'] : [] };
  }
  // /usr/sbin is where Debian puts clickhouse-server, and it is not on every user's PATH.
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const d of dirs) {
    const file = join(d, 'clickhouse-server');
    if (isExecutable(file)) return { file, args: [] };
  }
  for (const d of dirs) {
    const file = join(d, 'clickhouse');
    if (isExecutable(file)) return { file, args: ['server'] };
  }
  throw new Error(`clickhouse-server not found: ${INSTALL_HINT}`);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Ports the kernel considers free right now (all held open together so they differ). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      });
    }),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

interface Ports {
  httpPort: number;
  tcpPort: number;
  interserverPort: number;
}

/**
 * The smallest config 18.16 starts with: it needs explicit `path`/`tmp_path` (trailing
 * slash), a users file with a profile and a quota, and `mark_cache_size` (its built-in
 * default is 5 GiB, only a cap, but keep it small on a CI box). The root element is
 * `<yandex>`, which current ClickHouse still accepts.
 */
function writeConfig(dir: string, ports: Ports): void {
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${dir}/log/clickhouse-server.log</log>
    <errorlog>${dir}/log/clickhouse-server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.httpPort}</http_port>
  <tcp_port>${ports.tcpPort}</tcp_port>
  <interserver_http_port>${ports.interserverPort}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>200</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>67108864</mark_cache_size>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`,
  );
}

class ManagedServer implements ClickHouseServer {
  readonly url: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private watchdog: ChildProcess | undefined;
  private stopped = false;
  // At exit only the kill is synchronous enough to rely on; the watchdog, seeing its stdin
  // close, waits for the server to be gone and removes the directory.
  private readonly onExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  constructor(
    private readonly command: ServerCommand,
    readonly dir: string,
    readonly httpPort: number,
    readonly tcpPort: number,
    private readonly startTimeoutMs: number,
  ) {
    this.url = `http://127.0.0.1:${httpPort}`;
    process.once('exit', this.onExit);
  }

  async start(): Promise<void> {
    if (this.stopped) throw new Error('ClickHouse server was stopped; start a new one');
    if (this.child) return;
    const stderr = openSync(join(this.dir, 'log', 'stderr.log'), 'a');
    const child = spawn(this.command.file, [...this.command.args, `--config-file=${join(this.dir, 'config.xml')}`], {
      cwd: this.dir,
      stdio: ['ignore', 'ignore', stderr],
    });
    closeSync(stderr);
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', () => resolve());
    });
    this.watch(child.pid);
    await this.waitUntilReady(child);
  }

  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    if (this.child) {
      this.child.kill('SIGTERM');
      const graceful = await Promise.race([this.exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!graceful) await this.kill();
    }
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener('exit', this.onExit);
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
    // Everything is cleaned up: the watchdog exits without touching anything.
    this.watchdog?.stdin?.end('done\n');
  }

  /**
   * A shell that outlives the test worker, even one killed with SIGKILL: when its stdin
   * closes without "done", it kills the last server pid it was told about (only if that pid
   * still runs with our config path, so a reused pid is never hit), waits for it to be gone,
   * and removes the directory.
   */
  private watch(pid: number | undefined): void {
    if (pid === undefined) return;
    if (!this.watchdog) {
      const isOurs = '[ -n "$cur" ] && grep -qaF -- "$1" "/proc/$cur/cmdline" 2>/dev/null';
      const script =
        'cur=; while read -r line; do [ "$line" = done ] && exit 0; cur=$line; done; ' +
        `if ${isOurs}; then kill -9 "$cur"; while ${isOurs}; do sleep 0.1; done; fi; rm -rf "$1"`;
      this.watchdog = spawn('sh', ['-c', script, 'watchdog', this.dir], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      this.watchdog.unref();
      this.watchdog.stdin?.on('error', () => undefined);
      // The pipe must not keep the event loop (and thus the test worker) alive.
      (this.watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    }
    this.watchdog.stdin?.write(`${pid}\n`);
  }

  private async waitUntilReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    while (Date.now() < deadline) {
      if (exited || this.child !== child) throw new Error(`clickhouse-server exited during start-up:\n${this.logTail()}`);
      if ((await pingOnce(this.httpPort)) === 'Ok.') return;
      await sleep(25);
    }
    throw new Error(`clickhouse-server did not answer /ping within ${this.startTimeoutMs} ms:\n${this.logTail()}`);
  }

  private logTail(): string {
    const parts: string[] = [];
    for (const name of ['stderr.log', 'clickhouse-server.err.log']) {
      try {
        parts.push(
          readFileSync(join(this.dir, 'log', name), 'utf8')
            .split('\n')
            .slice(-20)
            .join('\n'),
        );
      } catch {
        // no such log yet
      }
    }
    return parts.join('\n');
  }
}

/**
 * GET /ping on a connection of its own, closed afterwards: an idle keep-alive socket (as
 * fetch leaves) makes a graceful 18.16 shutdown wait for it to time out.
 */
function pingOnce(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/ping', agent: false, timeout: 1_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body.trim()));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}
