import { describe, expect, it } from 'vitest';
import type { Revocation } from '../../src/auth/revocation-store.js';
import type { BackendKind } from '../../src/backend/backend.js';
import { type BackendHosts, openTestBackend, TEST_TIMING, type TestBackend, uniquePrefix } from '../support/backends.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The RevocationStore contract, one suite for every engine (memory, redis,
 * cluster): what `add`, `list` and `subscribe` guarantee (see
 * src/auth/revocation-store.ts), through backends opened as a gateway opens
 * them, two of them sharing a key prefix as two gateways of one deployment.
 */
export function revocationStoreContract(kind: BackendKind, hosts: BackendHosts): void {
  const revocation = (over: Partial<Revocation>): Revocation => {
    const now = Date.now();
    return { kind: 'jti', value: `jti-${Math.random()}`, at: now, until: now + 60_000, keepUntil: now + 60_000, by: 'ops', ...over };
  };

  describe(`RevocationStore contract (${kind})`, () => {
    /** Two backends of one deployment (for memory: the same one twice, its reach is one process). */
    async function deployment(): Promise<{ a: TestBackend; b: TestBackend; cleanup: () => Promise<void> }> {
      const target = await hosts.target(kind);
      const prefix = uniquePrefix();
      const a = await openTestBackend(kind, { ...(target ? { target } : {}), timing: TEST_TIMING, prefix });
      const b = kind === 'memory' ? a : await openTestBackend(kind, { ...(target ? { target } : {}), timing: TEST_TIMING, prefix });
      return { a, b, cleanup: async () => { await a.cleanup(); if (b !== a) await b.cleanup(); } };
    }

    it('stores a revocation (listed by every backend of the deployment) and delivers it to every listener, the adder\'s synchronously', async () => {
      const { a, b, cleanup } = await deployment();
      try {
        const onA: Revocation[] = [];
        const onB: Revocation[] = [];
        a.backend.revocations.subscribe((r) => onA.push(r));
        b.backend.revocations.subscribe((r) => onB.push(r));
        const r = revocation({});
        const added = a.backend.revocations.add(r);
        await added;
        expect(onA).toEqual([r]);
        await waitFor(() => onB.length === 1, { what: 'the other backend to hear of it' });
        expect(onB).toEqual([r]);
        expect(await b.backend.revocations.list(Date.now())).toEqual([r]);
      } finally {
        await cleanup();
      }
    });

    it('lists only what is still to be kept, and (Redis engines) the key expires with the longest keepUntil', async () => {
      const { a, cleanup } = await deployment();
      try {
        const now = Date.now();
        const gone = revocation({ keepUntil: now + 50 });
        const kept = revocation({ kind: 'sub', value: 'drv-1', until: now, keepUntil: now + 600_000 });
        await a.backend.revocations.add(kept);
        await a.backend.revocations.add(gone);
        expect(await a.backend.revocations.list(now + 100)).toEqual([kept]);
        if (a.data) {
          const ttl = await a.data.pttl(`${a.prefix}:v1:revocations`);
          expect(ttl).toBeGreaterThan(500_000);
          expect(ttl).toBeLessThanOrEqual(600_000);
        }
      } finally {
        await cleanup();
      }
    });
  });
}
