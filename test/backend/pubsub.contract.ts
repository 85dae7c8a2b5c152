import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import type { AssignmentEvent } from '../../src/orders/assignment-events.js';
import type { OfferFrame } from '../../src/protocol/wire-frames.js';
import { ALL_AREAS, type DriverPosition } from '../../src/tracking/position-bus.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The processes of one deployment of an engine: each `open()` is one more
 * gateway's backend (on Redis: the same server and key prefix).
 */
export interface PubSubFixture {
  open(): Promise<Backend>;
  /** Closes every backend opened and removes what they stored. */
  cleanup(): Promise<void>;
}

/** An engine under test. */
export interface PubSubEngine {
  /** A fresh deployment for one case (on Redis: a fresh key prefix). */
  make(): Promise<PubSubFixture>;
  /**
   * Whether backends of one deployment reach each other. False for the
   * memory engine, whose deployment is one process: each memory backend
   * stands for a process of its own and shares nothing with another.
   */
  sharedAcrossProcesses: boolean;
}

/** The driver whose sockets the channel cases attach, unless a case names another. */
const D1 = 'd-1';
const D2 = 'd-2';

/**
 * One pub/sub part of a backend, seen the same way for every case: a message
 * is named by a label, published by a process and heard by the listeners of
 * the processes. For the channel, a listener is a socket of a driver and a
 * publication an offer sent to that driver.
 */
interface Part<M> {
  name: string;
  message(label: string): M;
  label(m: M): string;
  /** Publishes `m` (the channel: sends it to `driverId`); returns what the part's call returns. */
  publish(b: Backend, m: M, driverId?: string): Promise<void> | void;
  /** Subscribes `fn` (the channel: attaches a socket of `driverId`); returns the unsubscribe (detach) function. */
  listen(b: Backend, fn: (m: M) => void, driverId?: string): () => void;
  close(b: Backend): Promise<void>;
}

const positions: Part<readonly DriverPosition[]> = {
  name: 'PositionBus',
  // Two positions, one with every optional field and one without: a batch of one area travels whole and as
  // written (both in Berlin's res-3 area, 831f1dfffffffff; positions of several areas go out one message per area).
  message: (label) => [
    { driverId: label, lat: 52.5200001, lng: 13.4049999, ts: 1_700_000_000_123, hdg: 271.5, spd: 4.25, seq: 17, status: 'busy', vehicle: 'bike' },
    { driverId: `${label}/2`, lat: 52.51, lng: 13.41, ts: 1_700_000_000_124 },
  ],
  label: (m) => m[0]!.driverId,
  publish: (b, m) => b.positions.publish(m),
  // When another gateway published a position (the read index's delay) is stamped in transit: compared apart.
  listen: (b, fn) => b.positions.subscribe((ps) => fn(ps.map(({ publishedAt, ...p }) => {
    if (publishedAt !== undefined && !(publishedAt > 1_700_000_000_000)) throw new Error(`publishedAt ${publishedAt} is not a time`);
    return p;
  }))),
  close: (b) => b.positions.close(),
};

const assignments: Part<AssignmentEvent> = {
  name: 'AssignmentBus',
  message: (label) => ({ type: 'assignment.rejected', orderId: label, state: 'searching', attempt: 2, at: 1_700_000_000_123, driverId: 'd-9', reason: 'rejected' }),
  label: (m) => m.orderId,
  publish: (b, m) => b.assignments.publish(m),
  listen: (b, fn) => b.assignments.subscribe(fn),
  close: (b) => b.assignments.close(),
};

const channel: Part<OfferFrame> = {
  name: 'DriverChannel',
  message: (label) => ({ type: 'offer', orderId: label, pickup: { lat: 52.52, lng: 13.405 }, dropoff: { lat: 52.5, lng: 13.4 }, expiresAt: 1_700_000_020_000 }),
  label: (m) => m.orderId,
  publish: (b, m, driverId = D1) => b.channel.send(driverId, m),
  listen: (b, fn, driverId = D1) => b.channel.attach(driverId, fn),
  close: (b) => b.channel.close(),
};

/** What one listener heard, in order. */
class Inbox<M> {
  readonly got: M[] = [];
  readonly fn = (m: M): void => void this.got.push(m);

  constructor(
    private readonly part: Part<M>,
    private readonly who: string,
  ) {}

  labels(): string[] {
    return this.got.map((m) => this.part.label(m));
  }

  /** Waits until `label` has been heard (a condition, never a fixed sleep); a timeout tells what was heard. */
  async until(label: string): Promise<void> {
    try {
      await waitFor(() => this.labels().includes(label), { what: `${this.who} to hear ${label}` });
    } catch (err) {
      throw new Error(`${(err as Error).message}; heard: [${this.labels().join(', ')}]`);
    }
  }
}

/** `prefix1` … `prefixN`. */
const labels = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/**
 * The conformance suite of the pub/sub parts of a backend — PositionBus,
 * AssignmentBus, DriverChannel — against the guarantees their interfaces
 * state (src/tracking/position-bus.ts, src/tracking/assignment-bus.ts,
 * src/orders/driver-channel.ts): local delivery inside the call, delivery to
 * other processes at most once and in publish order per publisher, never a
 * process's own publication twice, nothing kept or replayed, unsubscribe,
 * detach and close stop delivery, and one failing listener never stops the
 * others. "Nothing more arrives" is always shown by a sentinel published
 * after: each publisher's messages arrive in order, so once the sentinel is
 * heard, everything published before it has been heard too.
 */
export function pubSubContract(name: string, engine: PubSubEngine): void {
  describe(`pub/sub contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    /** Each process follows every area's positions (as a gateway whose read index holds every market does). */
    async function deployment(): Promise<PubSubFixture> {
      const f = await engine.make();
      cleanups.push(() => f.cleanup());
      return {
        cleanup: () => f.cleanup(),
        async open() {
          const b = await f.open();
          await b.positions.follow(ALL_AREAS).ready;
          return b;
        },
      };
    }

    describe.each(PARTS)('$name', (part) => {
      const inbox = (who: string): Inbox<unknown> => new Inbox(part, who);
      const send = async (b: Backend, label: string, driverId?: string): Promise<void> => part.publish(b, part.message(label), driverId);

      it('delivers to every listener of this process inside the call, once each, as published', async () => {
        const f = await deployment();
        const a = await f.open();
        const [one, two] = [inbox('listener 1'), inbox('listener 2')];
        part.listen(a, one.fn);
        part.listen(a, two.fn);
        for (const label of labels('m', 3)) {
          const done = part.publish(a, part.message(label));
          // Before the call's promise (if any) settles, and before any other turn of the event loop.
          expect(one.labels()).toContain(label);
          await done;
        }
        expect(one.got).toEqual(labels('m', 3).map((l) => part.message(l)));
        expect(two.got).toEqual(one.got);
      });

      it('keeps nothing: a listener added after a publication hears only later ones', async () => {
        const f = await deployment();
        const a = await f.open();
        await send(a, 'before');
        const late = inbox('late listener');
        part.listen(a, late.fn);
        await send(a, 'after');
        expect(late.labels()).toEqual(['after']);
        if (engine.sharedAcrossProcesses) {
          const b = await f.open();
          const early = inbox("B's early listener");
          part.listen(b, early.fn);
          await send(a, 'before-b');
          await early.until('before-b');
          const lateB = inbox("B's late listener");
          part.listen(b, lateB.fn);
          await send(a, 'after-b');
          await lateB.until('after-b');
          expect(lateB.labels()).toEqual(['after-b']);
        }
      });

      it('unsubscribe (detach) stops delivery to that listener only, from this process and from others', async () => {
        const f = await deployment();
        const a = await f.open();
        const [gone, stays] = [inbox('unsubscribed listener'), inbox('remaining listener')];
        const off = part.listen(a, gone.fn);
        part.listen(a, stays.fn);
        await send(a, 'm1');
        off();
        off(); // a second call changes nothing
        await send(a, 'm2');
        expect(gone.labels()).toEqual(['m1']);
        expect(stays.labels()).toEqual(['m1', 'm2']);
        if (engine.sharedAcrossProcesses) {
          const b = await f.open();
          await send(b, 'from-b');
          await send(b, 'sentinel');
          await stays.until('sentinel');
          expect(gone.labels()).toEqual(['m1']);
          expect(stays.labels()).toEqual(['m1', 'm2', 'from-b', 'sentinel']);
        }
      });

      it('a listener that throws stops neither the other listeners nor the publication', async () => {
        const f = await deployment();
        const a = await f.open();
        const b = engine.sharedAcrossProcesses ? await f.open() : undefined;
        const [onA, onB] = [inbox('listener after a throwing one'), inbox("B's listener after a throwing one")];
        for (const [backend, heard] of [[a, onA], [b, onB]] as const) {
          if (!backend) continue;
          part.listen(backend, () => {
            throw new Error('listener bug');
          });
          part.listen(backend, heard.fn);
        }
        await expect(settled(() => send(a, 'm1'))).resolves.toBeUndefined();
        await expect(settled(() => send(a, 'm2'))).resolves.toBeUndefined();
        expect(onA.labels()).toEqual(['m1', 'm2']);
        if (b) {
          // A's publication left A although a listener of A threw first, and B's own throwing listener stops nothing.
          await onB.until('m2');
          expect(onB.labels()).toEqual(['m1', 'm2']);
        }
      });

      it('close stops everything: nothing is delivered to or published by a closed part, and its calls do not throw', async () => {
        const f = await deployment();
        const a = await f.open();
        const b = engine.sharedAcrossProcesses ? await f.open() : undefined;
        const [closed, onB] = [inbox('listener of the closed part'), inbox("B's listener")];
        part.listen(a, closed.fn);
        if (b) part.listen(b, onB.fn);
        await send(a, 'm1');
        if (b) await onB.until('m1');
        await part.close(a);
        await part.close(a); // idempotent
        const late = inbox('listener added after close');
        part.listen(a, late.fn);
        await expect(settled(() => send(a, 'm2'))).resolves.toBeUndefined();
        expect(closed.labels()).toEqual(['m1']);
        expect(late.labels()).toEqual([]);
        if (b) {
          // The witnesses ride on another part of the same two backends, still open. One publisher's messages reach
          // a process in the order they were published; on Redis that holds across a backend's parts too (one
          // command connection publishes, one subscriber connection per process receives). Were that not so for
          // some engine, these checks could only miss a leak, never report one that did not happen.
          const q = witnessOf(part);
          const [wOnA, wOnB] = [new Inbox(q, 'witness on A'), new Inbox(q, 'witness on B')];
          q.listen(a, wOnA.fn);
          q.listen(b, wOnB.fn);
          // The closed part published nothing: B heard A's witness, published after m2, and not m2.
          await q.publish(a, q.message('witness-a'));
          await wOnB.until('witness-a');
          expect(onB.labels()).toEqual(['m1']);
          // Nothing reaches the closed part: A heard B's witness, published after from-b, and not from-b.
          await send(b, 'from-b');
          await q.publish(b, q.message('witness-b'));
          await wOnA.until('witness-b');
          expect(closed.labels()).toEqual(['m1']);
          expect(late.labels()).toEqual([]);
        }
      });

      describe('across processes', () => {
        if (!engine.sharedAcrossProcesses) {
          // This engine's deployment is one process (memory): there is no other process to deliver to, so the
          // at-most-once and ordering guarantees across processes have nothing to hold over. What holds instead:
          // another backend of the engine (another process) shares nothing with this one.
          it('another backend of the engine is another world: neither hears the other', async () => {
            const f = await deployment();
            const [a, b] = [await f.open(), await f.open()];
            const [onA, onB] = [inbox('listener on A'), inbox('listener on B')];
            part.listen(a, onA.fn);
            part.listen(b, onB.fn);
            await send(a, 'from-a');
            await send(b, 'from-b');
            expect(onA.labels()).toEqual(['from-a']);
            expect(onB.labels()).toEqual(['from-b']);
          });
          return;
        }

        it('reaches every listener of every other process, once each, in publish order per publisher', async () => {
          const f = await deployment();
          const [a, b, c] = [await f.open(), await f.open(), await f.open()];
          const [first, second] = [inbox("B's first listener"), inbox("B's second listener")];
          part.listen(b, first.fn);
          part.listen(b, second.fn);
          // Two publishers interleaved, none waiting for its previous call: each one's order must still hold.
          const calls: (Promise<void> | void)[] = [];
          for (const [x, y] of labels('a', 30).map((l, i) => [l, `c${i + 1}`] as const)) {
            calls.push(part.publish(a, part.message(x)), part.publish(c, part.message(y)));
          }
          calls.push(part.publish(a, part.message('a-end')), part.publish(c, part.message('c-end')));
          await Promise.all(calls);
          for (const heard of [first, second]) {
            await heard.until('a-end');
            await heard.until('c-end');
            expect(heard.labels().filter((l) => l.startsWith('a'))).toEqual([...labels('a', 30), 'a-end']);
            expect(heard.labels().filter((l) => l.startsWith('c'))).toEqual([...labels('c', 30), 'c-end']);
            expect(heard.got).toHaveLength(62);
          }
          expect(first.got[0]).toEqual(part.message(first.labels()[0]!));
        });

        it('never delivers a process its own publication twice (it hears it once, locally)', async () => {
          const f = await deployment();
          const [a, b] = [await f.open(), await f.open()];
          const [onA, onB] = [inbox('listener on A'), inbox('listener on B')];
          part.listen(a, onA.fn);
          part.listen(b, onB.fn);
          for (const label of labels('m', 20)) await send(a, label);
          // B has heard A's last message, so Redis (or whatever carries it) has passed every message of A on; B's
          // sentinel goes out after that, so it reaches A after any echo of A's own messages would have.
          await onB.until('m20');
          await send(b, 'sentinel');
          await onA.until('sentinel');
          expect(onA.labels()).toEqual([...labels('m', 20), 'sentinel']);
          expect(onB.labels()).toEqual([...labels('m', 20), 'sentinel']);
        });
      });
    });

    describe('DriverChannel addresses drivers', () => {
      it("delivers to every socket of the addressed driver, on every process, and to no other driver's", async () => {
        const f = await deployment();
        const a = await f.open();
        const b = engine.sharedAcrossProcesses ? await f.open() : undefined;
        const sockets = {
          a1: new Inbox(channel, "A's first socket of d-1"),
          a2: new Inbox(channel, "A's second socket of d-1"),
          aOther: new Inbox(channel, "A's socket of d-2"),
          b1: new Inbox(channel, "B's socket of d-1"),
          bOther: new Inbox(channel, "B's socket of d-2"),
        };
        a.channel.attach(D1, sockets.a1.fn);
        a.channel.attach(D1, sockets.a2.fn);
        a.channel.attach(D2, sockets.aOther.fn);
        if (b) {
          b.channel.attach(D1, sockets.b1.fn);
          b.channel.attach(D2, sockets.bOther.fn);
        }
        await a.channel.send(D1, channel.message('o-1'));
        await a.channel.send(D2, channel.message('sentinel'));
        if (b) await sockets.bOther.until('sentinel');
        expect(sockets.a1.labels()).toEqual(['o-1']);
        expect(sockets.a2.labels()).toEqual(['o-1']);
        expect(sockets.aOther.labels()).toEqual(['sentinel']);
        if (b) {
          expect(sockets.b1.labels()).toEqual(['o-1']);
          expect(sockets.bOther.labels()).toEqual(['sentinel']);
        }
      });
    });
  });
}

const PARTS = [positions, assignments, channel] as Part<unknown>[];

/** Another part than `part`, to witness order on the same backends (see the close case). */
function witnessOf(part: Part<unknown>): Part<unknown> {
  return (part === (positions as Part<unknown>) ? assignments : positions) as Part<unknown>;
}

/** The outcome of a call as a promise, whether it throws, rejects or returns. */
function settled(call: () => unknown): Promise<unknown> {
  return Promise.resolve().then(call);
}
