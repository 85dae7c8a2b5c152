import { describe, expect, it } from 'vitest';
import type { AssignmentEvent } from '../../src/orders/assignment-events.js';
import { RecentAssignments } from '../../src/tracking/recent-assignments.js';

const event = (orderId: string, type: AssignmentEvent['type'], state: AssignmentEvent['state'], at: number, driverId?: string): AssignmentEvent =>
  ({ type, orderId, state, attempt: 1, at, ...(driverId ? { driverId } : {}) });

describe('RecentAssignments', () => {
  it('keeps what the newest event said: the accepted driver, none once the order has none, never an older event over a newer one', () => {
    const r = new RecentAssignments(30_000, 10);
    r.note(event('o1', 'assignment.offered', 'offered', 100, 'd1'), 0);
    expect(r.get('o1', 0)).toEqual({ driverId: undefined, at: 100, heardAt: 0 });
    r.note(event('o1', 'assignment.accepted', 'accepted', 200, 'd1'), 1);
    expect(r.get('o1', 1)?.driverId).toBe('d1');
    r.note(event('o1', 'assignment.offered', 'offered', 150, 'd2'), 2); // late, from another gateway
    expect(r.get('o1', 2)?.driverId).toBe('d1');
    r.note(event('o1', 'assignment.completed', 'completed', 300, 'd1'), 3);
    expect(r.get('o1', 3)).toMatchObject({ driverId: undefined, at: 300 });
  });

  it('is trusted only within its TTL, and forgets the orders heard first past its capacity', () => {
    const r = new RecentAssignments(1_000, 2);
    r.note(event('o1', 'assignment.accepted', 'accepted', 1, 'd1'), 0);
    expect(r.get('o1', 1_000)?.driverId).toBe('d1');
    expect(r.get('o1', 1_001)).toBeUndefined();
    r.note(event('o2', 'assignment.accepted', 'accepted', 2, 'd2'), 10);
    r.note(event('o3', 'assignment.accepted', 'accepted', 3, 'd3'), 20);
    expect(r.get('o1', 20)).toBeUndefined();
    expect(r.get('o2', 20)?.driverId).toBe('d2');
    expect(r.get('o3', 20)?.driverId).toBe('d3');
  });
});
