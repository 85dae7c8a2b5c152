/**
 * Tile38 (tidwall/tile38, an in-memory geo index server in Go) for
 * bench:nearby-http: the dedicated server issue 10 measures hexfleet
 * against. Nothing of it is in this repository: the benchmark takes a
 * `tile38-server` binary by path (--tile38=PATH or TILE38_BIN) and says how
 * to build one when none is given.
 *
 *   start  tile38-server -h 127.0.0.1 -p <free port> -d <run dir> --appendonly no
 *   load   SET <key> <id> POINT <lat> <lng>, pipelined
 *   stop   SIGTERM by its pid (SIGKILL after 5 s)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stopProcess, track } from '../../kit/child-processes.js';
import { freePort } from '../../kit/free-port.js';
import type { ParkedFleet } from '../lib/parked-fleet.js';

/** How to get a binary, for the report when there is none. */
export const TILE38_BUILD =
  'git clone https://github.com/tidwall/tile38 && cd tile38 && ' +
  'go build -ldflags "-X github.com/tidwall/tile38/core.GitSHA=$(git rev-parse --short HEAD) -X github.com/tidwall/tile38/core.Version=$(git describe --tags --abbrev=0)" ' +
  '-o tile38-server ./cmd/tile38-server';

/** SETs per pipeline while loading: a few hundred kB per round trip. */
const LOAD_CHUNK = 5000;
const READY_TIMEOUT_MS = 20_000;

/** The binary to run, or why there is none (a message that says what to do). */
export function tile38Binary(flag: string | undefined, env: NodeJS.ProcessEnv): { path: string } | { missing: string } {
  const path = flag ?? env.TILE38_BIN;
  const how = `set TILE38_BIN to a tile38-server binary (build: ${TILE38_BUILD})`;
  if (path === undefined || path === '') return { missing: how };
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return { missing: `${path} is not an executable file; ${how}` };
  }
  return { path };
}

export class Tile38Server {
  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
    private readonly logFile: string,
    /** The benchmark's own connection (loading, agreement queries). */
    readonly client: Redis,
  ) {}

  get pid(): number {
    return this.proc.pid ?? NaN;
  }

  /** Starts the server with its data and log under `dir`; resolves once it answers PING. */
  static async start(binary: string, dir: string): Promise<Tile38Server> {
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const logFile = join(dir, 'tile38.log');
    const fd = openSync(logFile, 'a');
    // Not -q: the start-up line carries the version and git commit the binary was built with.
    const proc = spawn(binary, ['-h', '127.0.0.1', '-p', String(port), '-d', dir, '--appendonly', 'no'], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    track(proc);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const failed = (why: string): Error => new Error(`tile38-server ${why}:\n${logTail(logFile)}`);
    while (!(await accepts(port))) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw failed('exited at start');
      if (Date.now() > deadline) {
        await stopProcess(proc);
        throw failed(`did not listen within ${READY_TIMEOUT_MS / 1000} s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // No reconnects: a server gone in the middle of the run is an error, not something to wait for.
    const client = new Redis({ host: '127.0.0.1', port, enableReadyCheck: false, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined); // failures reach the caller through each command's promise
    await client.connect();
    if ((await client.call('PING')) !== 'PONG') throw failed('did not answer PING');
    return new Tile38Server(proc, port, logFile, client);
  }

  /** "1.37.0, git 5b8ce58" from its start-up line ("0.0.0, git 0000000" for a build without -ldflags). */
  version(): string {
    const m = /Tile38 version (\S+), git (\S+)/.exec(this.log());
    return m ? `${m[1]}, git ${m[2]}` : 'unknown version';
  }

  /** Loads every driver of the fleet as a point; returns the objects the collection holds afterwards. */
  async load(key: string, fleet: ParkedFleet): Promise<number> {
    for (let first = 0; first < fleet.size; first += LOAD_CHUNK) {
      const p = this.client.pipeline();
      for (let i = first; i < Math.min(fleet.size, first + LOAD_CHUNK); i++) {
        p.call('SET', key, fleet.ids[i]!, 'POINT', String(fleet.lat[i]!), String(fleet.lng[i]!));
      }
      for (const [err] of (await p.exec()) ?? []) if (err) throw err;
    }
    const stats = (await this.client.call('STATS', key)) as unknown[];
    // RESP STATS: one flat [name, value, …] array per key.
    const flat = (stats[0] ?? []) as unknown[];
    const i = flat.indexOf('num_objects');
    return i >= 0 ? Number(flat[i + 1]) : NaN;
  }

  /** Heap in use (SERVER mem_alloc), bytes. */
  async heapBytes(): Promise<number> {
    const flat = (await this.client.call('SERVER')) as unknown[];
    const i = flat.indexOf('mem_alloc');
    return i >= 0 ? Number(flat[i + 1]) : NaN;
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    await stopProcess(this.proc, 'SIGTERM', 5000);
  }

  private log(): string {
    return readLog(this.logFile);
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function logTail(file: string): string {
  return readLog(file).trimEnd().split('\n').slice(-10).join('\n') || '(no log)';
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
