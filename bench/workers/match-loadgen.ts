/**
 * Load generator of the match API benchmark: autocannon in its own process,
 * driving `POST /v1/match` at random pickups, each answered match followed on
 * the same connection by `POST /v1/orders/:id/cancel`, so its driver returns
 * to the pool at once. Forked by bench/scenarios/match-api.ts.
 *
 *   config ─▶ "ready"
 *   run    ─▶ warm-up run, drain ─▶ "measuring" ─▶ measured run ─▶ "measured"
 *              ─▶ drain ─▶ "result"
 *   exit   ─▶ exit
 *
 * The sequence is autocannon's `requests` array: [match, cancel]. The match's
 * `setupRequest` makes a fresh order id and body per request; the cancel's
 * returns null when the match was not a 200 (nothing to cancel), which makes
 * autocannon start the next match instead. Latency is timed per request kind
 * here (autocannon's own histogram mixes both kinds, in whole milliseconds).
 */
import autocannon from 'autocannon';
import type { Message } from '../lib/worker.js';
import { pointIn, type Area } from '../lib/driver-sim.js';
import { Histogram } from '../lib/histogram.js';
import type { MatchLoadConfig, MatchLoadKind, MatchRunMessage, MatchRunResult, StatusCounts } from '../lib/match-messages.js';
import { mulberry32 } from '../../src/simulator/rng.js';
import { serveParent, toParent } from '../lib/worker-ipc.js';

/** Cancels in flight at once while draining after a run. */
const DRAIN_CONCURRENCY = 8;
/**
 * Cancel passes over orders that answered 404 or 409 (not created yet, or
 * caught mid-creation), DRAIN_RETRY_MS apart: 5 × 200 ms outlasts any match
 * still inside the gateway when the run stopped.
 */
const DRAIN_PASSES = 5;
const DRAIN_RETRY_MS = 200;
const PROGRESS_MS = 5000;

/** Per-connection state autocannon keeps for the request sequence (its `context`). */
interface Ctx {
  orderId?: string;
  sentAt?: number;
  /** Paced runs: when this match was due. */
  intendedAt?: number;
  /** The match was a 200: the next request of the sequence cancels it. */
  cancel?: boolean;
}

/**
 * The parts of autocannon 8's Client the paced mode hooks into (not in its
 * typings): `_doRequest` sends the next request of the sequence.
 */
interface ClientInternals {
  _doRequest(): void;
  reqsMade: number;
  destroyed: boolean;
  requestIterator: { currentRequestIndex: number; context: Ctx; initialContext: Ctx; rebuildRequest(): void };
}

let config: MatchLoadConfig;
let rand: () => number;
let seq = 0;

serveParent(async (m: Message) => {
  if (m.type === 'config') {
    config = m as MatchLoadConfig;
    rand = mulberry32(config.seed);
    toParent({ type: 'ready' });
  } else if (m.type === 'run') {
    const run = m as MatchRunMessage;
    if (run.warmupS > 0) {
      const warm = new RunState(run.kind, `w${run.kind[0]}`);
      await warm.autocannon(run, run.warmupS);
      await warm.drain();
    }
    const state = new RunState(run.kind, run.kind[0]!);
    toParent({ type: 'measuring' });
    const progress = setInterval(() => toParent({ type: 'progress', text: state.progressLine() } as Message), PROGRESS_MS);
    // autocannon returns a thenable tracker without finally(): adopt it into a real promise.
    const ac = await Promise.resolve(state.autocannon(run, run.durationS)).finally(() => clearInterval(progress));
    toParent({ type: 'measured' });
    const unansweredAtStop = state.unanswered();
    const drain = await state.drain();
    toParent(state.result(ac, unansweredAtStop, drain));
  } else if (m.type === 'exit') {
    process.exit(0);
  }
});

function count(into: StatusCounts, status: number, body: string): void {
  let key = String(status);
  if (status !== 200) {
    try {
      key += ' ' + String((JSON.parse(body) as { code?: string }).code);
    } catch {
      // Not our JSON error shape: the status alone.
    }
  }
  into[key] = (into[key] ?? 0) + 1;
}

function orderBody(orderId: string, area: Area, radiusM: number): string {
  const p = pointIn(area, rand);
  return `{"orderId":"${orderId}","pickup":{"lat":${p.lat},"lng":${p.lng}},"radiusM":${radiusM}}`;
}

/** One autocannon run's bookkeeping. */
class RunState {
  readonly matchLatency = new Histogram();
  readonly matchCorrected = new Histogram();
  readonly sendLag = new Histogram();
  readonly cancelLatency = new Histogram();
  readonly matchStatus: StatusCounts = {};
  readonly cancelStatus: StatusCounts = {};
  readonly drivers = new Set<string>();
  /** Orders sent whose driver may still be reserved: not yet cancelled, not known to have failed. */
  readonly pending = new Set<string>();
  matchSent = 0;
  private answered = 0;
  private started = performance.now();
  private lastLine = { at: performance.now(), ok: 0 };

  constructor(
    readonly kind: MatchLoadKind,
    private readonly tag: string,
  ) {}

  autocannon(run: MatchRunMessage, durationS: number): Promise<autocannon.Result> {
    this.started = performance.now();
    this.lastLine = { at: this.started, ok: 0 };
    const base = { 'content-type': 'application/json', authorization: `Bearer ${config.token}` };
    const match: autocannon.Request = {
      method: 'POST',
      path: '/v1/match',
      setupRequest: (req, context) => {
        const ctx = context as Ctx;
        const orderId = `${this.tag}-${process.pid}-${++seq}`;
        ctx.orderId = orderId;
        ctx.cancel = false;
        ctx.sentAt = performance.now();
        this.pending.add(orderId);
        this.matchSent++;
        return { ...req, body: orderBody(orderId, config.area, config.radiusM) };
      },
      onResponse: (status, body, context) => {
        const ctx = context as Ctx;
        const t = performance.now();
        this.answered++;
        this.matchLatency.record(t - ctx.sentAt!);
        if (ctx.intendedAt !== undefined) {
          this.matchCorrected.record(t - ctx.intendedAt);
          this.sendLag.record(Math.max(0, ctx.sentAt! - ctx.intendedAt));
        }
        count(this.matchStatus, status, body);
        if (status === 200) {
          ctx.cancel = true;
          this.drivers.add((JSON.parse(body) as { driverId: string }).driverId);
        } else if (status === 404 || status === 503 || status === 400) {
          // no_driver / overloaded / invalid: the order failed or never existed, nobody is reserved.
          this.pending.delete(ctx.orderId!);
        }
      },
    };
    const cancel: autocannon.Request = {
      method: 'POST',
      setupRequest: (req, context) => {
        const ctx = context as Ctx;
        if (!ctx.cancel) return null as unknown as autocannon.Request; // autocannon: falsy = skip to the next match
        ctx.sentAt = performance.now();
        return { ...req, path: `/v1/orders/${ctx.orderId}/cancel` };
      },
      onResponse: (status, body, context) => {
        const ctx = context as Ctx;
        this.cancelLatency.record(performance.now() - ctx.sentAt!);
        count(this.cancelStatus, status, body);
        // 200 cancelled, 409 already closed: either way nothing is reserved any more.
        if (status === 200 || status === 409) this.pending.delete(ctx.orderId!);
      },
    };
    const options: autocannon.Options = {
      url: config.url,
      connections: run.connections,
      duration: durationS,
      headers: base,
      requests: [match, cancel],
      timeout: 10,
      setupClient: this.clientHook(run),
    };
    if (run.kind === 'rate') {
      // Two requests per cycle: overallRate counts the cancels too.
      options.overallRate = 2 * run.matchesPerS;
      // autocannon's correction records each latency with an "expected interval"
      // of ceil(1 / per-connection rate) — 1 ms whatever the rate (a unit slip:
      // seconds taken as ms) — which adds a made-up sample for every ms of every
      // response. Raw values here; the paced run does the correction properly.
      options.ignoreCoordinatedOmission = true;
    }
    return autocannon(options);
  }

  /**
   * Runs on each connection before it connects. Always: the first match,
   * which autocannon built when the client was created, is rebuilt at its real
   * send time (fresh order id and timestamp). Paced: each match is held until
   * its slot — connection i of C sends at t0 + i/rate + k·C/rate — so the
   * gateway sees one match every 1/rate s; a connection still busy at its
   * slot sends late, and the lateness is counted in the corrected latency.
   */
  private clientHook(run: MatchRunMessage): (client: autocannon.Client) => void {
    const paced = run.kind === 'paced';
    const spacingMs = 1000 / run.matchesPerS;
    const periodMs = spacingMs * run.connections;
    // 50 ms: every connection is open before its first slot.
    const t0 = performance.now() + 50;
    let index = 0;
    return (client) => {
      const c = client as unknown as ClientInternals;
      const send = c._doRequest.bind(c);
      let nextAt = t0 + index++ * spacingMs;
      c._doRequest = () => {
        const it = c.requestIterator;
        const first = c.reqsMade === 0;
        if (first) this.forget(it.context);
        const nextIsMatch = first || it.currentRequestIndex === 1 || !it.context.cancel;
        if (!nextIsMatch) return send();
        if (!paced) {
          if (first) it.rebuildRequest();
          return send();
        }
        const intendedAt = nextAt;
        nextAt += periodMs;
        // The next match's context is a fresh clone of initialContext (autocannon
        // resets it when the sequence wraps), so the slot travels through it.
        it.initialContext.intendedAt = intendedAt;
        const go = (): void => {
          if (c.destroyed) return;
          if (first) {
            it.context.intendedAt = intendedAt;
            it.rebuildRequest();
          }
          send();
        };
        const wait = intendedAt - performance.now();
        if (wait > 0) setTimeout(go, wait);
        else go();
      };
    };
  }

  /** An order id built but never sent (the creation-time build of a connection's first match). */
  private forget(ctx: Ctx): void {
    if (ctx.orderId !== undefined && this.pending.delete(ctx.orderId)) this.matchSent--;
  }

  unanswered(): number {
    return this.matchSent - this.answered;
  }

  progressLine(): string {
    const now = performance.now();
    const ok = this.matchStatus['200'] ?? 0;
    const rate = ((ok - this.lastLine.ok) * 1000) / (now - this.lastLine.at);
    this.lastLine = { at: now, ok };
    const p99 = (this.kind === 'paced' ? this.matchCorrected : this.matchLatency).percentile(0.99);
    return `${Math.round((now - this.started) / 1000)} s: ${Math.round(rate)} matches/s, p99 so far ${p99.toFixed(2)} ms`;
  }

  /**
   * Cancels every order that may still hold a driver: matches answered but not
   * yet cancelled when the run stopped, and matches whose answer the stop cut
   * off (the gateway may have reserved a driver all the same). Otherwise their
   * offers would expire during the next run and the saga would re-offer them.
   * A match cut off by the stop may still be on its way through the gateway:
   * a cancel that finds no order yet (404), or that races the order's creation
   * (409 "the order is searching", see the report), is tried again a little
   * later. Returns the final status of each order's cancel.
   */
  async drain(): Promise<StatusCounts> {
    const out: StatusCounts = {};
    let ids = [...this.pending];
    this.pending.clear();
    for (let pass = 0; ids.length > 0; pass++) {
      const again: string[] = [];
      const last = pass === DRAIN_PASSES - 1;
      const lane = async (): Promise<void> => {
        for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
          const res = await fetch(`${config.url}/v1/orders/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${config.token}` } });
          const body = await res.text();
          if ((res.status === 404 || res.status === 409) && !last) again.push(id);
          else count(out, res.status, body);
        }
      };
      await Promise.all(Array.from({ length: DRAIN_CONCURRENCY }, lane));
      if (again.length > 0) {
        out[`retried (pass ${pass + 2})`] = again.length;
        await new Promise((r) => setTimeout(r, DRAIN_RETRY_MS));
      }
      ids = again;
    }
    return out;
  }

  result(ac: autocannon.Result, unansweredAtStop: number, drain: StatusCounts): MatchRunResult {
    const codes: Record<string, number> = {};
    for (const [code, v] of Object.entries(ac.statusCodeStats ?? {})) codes[code] = v.count ?? 0;
    const paced = this.kind === 'paced';
    return {
      type: 'result',
      kind: this.kind,
      durationS: ac.duration,
      matchSent: this.matchSent,
      matchStatus: this.matchStatus,
      cancelStatus: this.cancelStatus,
      matchLatency: this.matchLatency.toJSON(),
      matchCorrected: paced ? this.matchCorrected.toJSON() : null,
      sendLag: paced ? this.sendLag.toJSON() : null,
      cancelLatency: this.cancelLatency.toJSON(),
      distinctDrivers: this.drivers.size,
      autocannon: {
        latency: { p50: ac.latency.p50, p90: ac.latency.p90, p99: ac.latency.p99, p99_9: ac.latency.p99_9, max: ac.latency.max, mean: ac.latency.mean },
        requests: ac.requests.total,
        statusCodeStats: codes,
        errors: ac.errors,
        timeouts: ac.timeouts,
        non2xx: ac.non2xx,
        resets: ac.resets,
      },
      unansweredAtStop,
      drain,
    };
  }
}
