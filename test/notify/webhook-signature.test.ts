import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../src/notify/webhook-signature.js';

const SECRET = 'webhook-test-secret';
const BODY = '{"id":"o1:1","type":"order.created"}';

describe('webhook signature', () => {
  it('is sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">, as a receiver recomputes it with node:crypto alone', () => {
    const expected = createHmac('sha256', SECRET).update(`1700000000.${BODY}`).digest('hex');
    expect(signWebhook(SECRET, 1_700_000_000, BODY)).toBe(`sha256=${expected}`);
  });

  const cases: Array<[string, { secret?: string; body?: string; ts?: string; sig?: string; nowS?: number }, boolean]> = [
    ['the signed body, timestamp and secret', {}, true],
    ['another body', { body: BODY + ' ' }, false],
    ['another secret', { secret: 'other' }, false],
    ['a timestamp other than the signed one', { ts: '1700000001' }, false],
    ['a timestamp 301 s old', { nowS: 1_700_000_301 }, false],
    ['a timestamp 300 s old', { nowS: 1_700_000_300 }, true],
    ['no signature', { sig: '' }, false],
    ['a truncated signature', { sig: signWebhook(SECRET, 1_700_000_000, BODY).slice(0, 20) }, false],
    ['a timestamp that is not a number', { ts: '17e8' }, false],
  ];
  it.each(cases)('verify: %s → %s', (_what, o, ok) => {
    const sig = o.sig ?? signWebhook(SECRET, 1_700_000_000, BODY);
    expect(verifyWebhookSignature(o.secret ?? SECRET, o.body ?? BODY, { signature: sig, timestamp: o.ts ?? '1700000000' }, o.nowS ?? 1_700_000_010)).toBe(ok);
  });
});
