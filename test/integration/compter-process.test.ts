import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startCompterProcess } from '../support/compter-process.js';

/*
 * The helper every process-level test starts compter with: a port found free can be taken by
 * another process before compter binds it, and the start must then be retried, not fail.
 */

let dir: string;
let squatter: Server;
let takenPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compter-process-'));
  // Holds the port like any other program would; hangs up on whoever connects.
  squatter = createServer((socket) => socket.destroy());
  takenPort = await new Promise<number>((resolve) =>
    squatter.listen(0, '127.0.0.1', () => resolve((squatter.address() as { port: number }).port)),
  );
});

afterAll(async () => {
  await new Promise((r) => squatter.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('startCompterProcess', () => {
  it('retries on a fresh port when the one it picked was taken meanwhile (EADDRINUSE)', { timeout: 90_000 }, async () => {
    const picked: number[] = [];
    const pickPort = async () => {
      const port = picked.length < 2 ? takenPort : await freePort();
      picked.push(port);
      return port;
    };
    const compter = await startCompterProcess({ COMPTER_DATA_DIR: join(dir, 'retried') }, { pickPort });
    try {
      expect(picked.slice(0, 2)).toEqual([takenPort, takenPort]);
      expect(picked).toHaveLength(3);
      expect(compter.url).toBe(`http://127.0.0.1:${picked[2]}`);
      expect((await fetch(`${compter.url}/healthz`)).status).toBe(200);
    } finally {
      expect(await compter.stop()).toBe(0);
    }
  });

  it('does not retry a start that fails for another reason', { timeout: 60_000 }, async () => {
    let attempts = 0;
    const pickPort = async () => (attempts++, freePort());
    await expect(startCompterProcess({ COMPTER_DATA_DIR: join(dir, 'bad'), COMPTER_STORE: 'no-such-store' }, { pickPort })).rejects.toThrow(
      /exited with 1 before it was ready/,
    );
    expect(attempts).toBe(1);
  });
});
