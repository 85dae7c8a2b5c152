import { describe, expect, it } from 'vitest';
import { ExpiryWheel } from '../../src/gateway/expiry-wheel.js';

/** The wheel that closes sockets at their token's exp, as a table of expiries against sweep times. */
describe('ExpiryWheel', () => {
  const T = 1_800_000_000_000; // a whole second

  it.each([
    { name: 'a whole-second expiry is due at that second, not before', exp: T + 5000, sweeps: [T + 4999, T + 5000], due: [false, true] },
    { name: 'a fractional expiry is due at the next whole second (never early)', exp: T + 4200, sweeps: [T + 4200, T + 4999, T + 5000], due: [false, false, true] },
    { name: 'an expiry already past when filed is due at the next sweep', exp: T - 10_000, sweeps: [T], due: [true] },
    { name: 'a stalled loop catches up over every second it missed', exp: T + 2000, sweeps: [T + 9000], due: [true] },
  ])('$name', ({ exp, sweeps, due }) => {
    const wheel = new ExpiryWheel<string>(T);
    wheel.add('s', exp);
    expect(sweeps.map((now) => wheel.sweep(now).includes('s'))).toEqual(due);
    expect(wheel.size).toBe(0);
  });

  it('returns each item once; a removed or moved item is not due at its old time', () => {
    const wheel = new ExpiryWheel<string>(T);
    wheel.add('a', T + 1000);
    wheel.add('b', T + 1000);
    wheel.add('c', T + 1000);
    wheel.remove('b', T + 1000);
    wheel.move('c', T + 1000, T + 60_000);
    expect(wheel.sweep(T + 1000)).toEqual(['a']);
    expect(wheel.sweep(T + 1000)).toEqual([]);
    expect(wheel.sweep(T + 59_999)).toEqual([]);
    expect(wheel.sweep(T + 60_000)).toEqual(['c']);
  });
});
