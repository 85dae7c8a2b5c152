import { describe, expect, it } from 'vitest';
import { MemoryDriverStore } from '../../src/backend/memory/memory-driver-store.js';
import { MemoryOrderStore } from '../../src/backend/memory/memory-order-store.js';
import { ConfigError } from '../../src/config/load-config.js';
import { topicsOf } from '../../src/eventlog/topics.js';
import { RingPlanner } from '../../src/geo/ring-planner.js';
import { positionRecord } from '../../src/ingest/position-records.js';
import { type ReplayBackend, runReplayCommand } from '../../src/replay/replay-command.js';
import { parseReplayArgs, REPLAY_HELP } from '../../src/replay/replay-options.js';
import { MemoryEventLog } from './memory-event-log.js';

/** `hexfleet replay` flags: every usage error is a ConfigError (exit 2) whose message names the flag. */

const NOW = Date.parse('2026-11-27T12:00:00Z');
const SECRET = 'a-replay-test-secret-that-is-forty-chars';

describe('replay flags', () => {
  it.each([
    [['--to', 'yesterday'], '--to must be an ISO 8601 time'],
    [['--to', '2026-11-28T00:00:00Z'], 'is in the future'],
    [['--from', 'soon'], '--from must be earliest, an ISO 8601 time, or offsets'],
    [['--from', '2026-13-45'], '--from must be an ISO 8601 time'],
    [['--from', '2026-11-27T11:00:00Z', '--to', '2026-11-27T10:00:00Z'], 'is after --to'],
    [['--from', '0:5,0:7'], 'names positions partition 0 twice'],
    [['--from', 'dlq/0:5'], '--from must be earliest'],
    [['--speed', '2'], '--speed replays traffic and needs --url'],
    [['--url', 'ws://127.0.0.1:1'], '--url replays traffic and needs --speed'],
    [['--speed', '0', '--url', 'ws://127.0.0.1:1'], '--speed must be a number above 0'],
    [['--speed', 'fast', '--url', 'ws://127.0.0.1:1'], '--speed must be a number above 0'],
    [['--speed', '2', '--url', 'http://127.0.0.1:1'], '--url must be a ws:// or wss:// URL'],
    [['--speed', '2', '--url', 'ws://127.0.0.1:1', '--dry-run'], '--dry-run applies to rebuilding the stores'],
    [['--speed', '2', '--url', 'ws://127.0.0.1:1', '--from', 'orders/0:1'], 'do not apply to a traffic replay'],
    [['--id-prefix', 'x'], '--id-prefix only applies to a traffic replay'],
    [['--speed', '2', '--url', 'ws://127.0.0.1:1', '--id-prefix', 'a b'], '--id-prefix must be'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--to'], "Option '--to <value>' argument missing"],
  ])('%j → %s', (args, message) => {
    expect(() => parseReplayArgs(args, NOW)).toThrow(ConfigError);
    expect(() => parseReplayArgs(args, NOW)).toThrow(message);
  });

  it('defaults: the whole log up to now, into the stores', () => {
    expect(parseReplayArgs([], NOW)).toEqual({
      mode: 'store',
      window: { positions: { kind: 'earliest' }, orders: { kind: 'earliest' }, to: NOW },
      dryRun: false,
      json: false,
    });
  });

  it('--from takes a time, or offsets per partition with orders/ entries apart', () => {
    const t = parseReplayArgs(['--from', '2026-11-27T11:00:00+01:00', '--to', 'now', '--dry-run', '--json'], NOW);
    expect(t).toMatchObject({ mode: 'store', dryRun: true, json: true, window: { positions: { kind: 'time', at: Date.parse('2026-11-27T10:00:00Z') } } });
    const o = parseReplayArgs(['--from', '0:12,1:0,orders/2:7'], NOW);
    expect(o).toMatchObject({ window: { positions: { kind: 'offsets', offsets: { 0: '12', 1: '0' } }, orders: { kind: 'offsets', offsets: { 2: '7' } } } });
    const p = parseReplayArgs(['--from', '3:4'], NOW);
    expect(p).toMatchObject({ window: { orders: { kind: 'earliest' } } });
  });

  it('traffic: --speed and --url, the driver path added', () => {
    expect(parseReplayArgs(['--speed', '2.5', '--url', 'ws://gw:8080', '--id-prefix', 'replay-'], NOW)).toMatchObject({
      mode: 'traffic',
      speed: 2.5,
      url: 'ws://gw:8080/v1/driver',
      idPrefix: 'replay-',
    });
  });
});

function backend(log: MemoryEventLog | undefined): ReplayBackend {
  const drivers = new MemoryDriverStore(new RingPlanner(9), { staleMs: 30_000, offlineMs: 3_600_000, retentionMs: 86_400_000 });
  return { drivers, orders: new MemoryOrderStore(drivers), log, topics: topicsOf('cmd') };
}

describe('runReplayCommand', () => {
  it('--help prints the help without opening a backend', async () => {
    let out = '';
    const code = await runReplayCommand(['--help'], { backend: () => Promise.reject(new Error('opened')), out: (t) => (out += t) });
    expect(code).toBe(0);
    expect(out).toBe(REPLAY_HELP);
  });

  it('a usage error is thrown before the backend is opened', async () => {
    await expect(runReplayCommand(['--speed', 'x', '--url', 'ws://a:1'], { backend: () => Promise.reject(new Error('opened')) })).rejects.toThrow('--speed must be');
  });

  it('needs the event log', async () => {
    await expect(runReplayCommand([], { backend: async () => backend(undefined) })).rejects.toThrow('set HEXFLEET_KAFKA_BROKERS');
  });

  it('refuses to rebuild the memory store (lost at exit), but dry-runs on it', async () => {
    const log = new MemoryEventLog();
    const topics = topicsOf('cmd');
    log.appendNow(topics.positions, [{ ...positionRecord({ driverId: 'd1', pings: [{ seq: 1, ts: NOW - 5, lat: 1, lng: 2 }] }), timestamp: NOW - 5 }]);
    await expect(runReplayCommand([], { backend: async () => backend(log), now: () => NOW })).rejects.toThrow('set REDIS_URL');
    let out = '';
    const code = await runReplayCommand(['--dry-run', '--json'], { backend: async () => backend(log), now: () => NOW, out: (t) => (out += t), progress: () => {} });
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ dryRun: true, positions: { records: 1, pings: 1, applied: 0 }, undecodable: { count: 0 } });
  });

  it('a traffic replay needs the gateway secret', async () => {
    await expect(
      runReplayCommand(['--speed', '1', '--url', 'ws://127.0.0.1:1'], { backend: async () => backend(new MemoryEventLog()), env: {} }),
    ).rejects.toThrow('HEXFLEET_JWT_SECRET');
    // With it, an empty window is a replay of nothing.
    let out = '';
    const code = await runReplayCommand(['--speed', '1', '--url', 'ws://127.0.0.1:1'], {
      backend: async () => backend(new MemoryEventLog()),
      env: { HEXFLEET_JWT_SECRET: SECRET },
      out: (t) => (out += t),
      progress: () => {},
    });
    expect(code).toBe(0);
    expect(out).toContain('batches sent');
  });
});
