import { cellToBoundary, cellToLatLng, getPentagons, gridDiskDistances, latLngToCell } from 'h3-js';
import { describe, expect, it } from 'vitest';
import { distanceM } from '../../src/geo/geodesy.js';
import { RingPlanner, type RingSlice } from '../../src/geo/ring-planner.js';
import { interpolate, randomInDisk, seededRandom } from './geo-fixtures.js';

/**
 * RingPlanner is what makes nearby() exact: after rings 0..k are read, no
 * point outside them may be nearer than bounds[k]. These cases check that
 * claim against real H3 geometry, including where cells are distorted.
 */

type Point = [number, number];

/** Every `step`-th item, so a large ring is checked on an even sample. */
function sample<T>(items: readonly T[], max: number): T[] {
  const step = Math.max(1, Math.ceil(items.length / max));
  return items.filter((_, i) => i % step === 0);
}

/** Points of a cell that must all lie at least the bound away: centre, vertices and points along each edge. */
function cellPoints(cell: string): Point[] {
  const boundary = cellToBoundary(cell);
  const points: Point[] = [cellToLatLng(cell)];
  boundary.forEach((v, i) => {
    const next = boundary[(i + 1) % boundary.length]!;
    for (const t of [0, 0.25, 0.5, 0.75]) points.push(interpolate(v, next, t));
  });
  return points;
}

function randomGlobe(rand: () => number): Point {
  return [(Math.asin(2 * rand() - 1) * 180) / Math.PI, rand() * 360 - 180];
}

function around(seed: number, centers: Point[], spreadM: number, perCenter: number): Point[] {
  const rand = seededRandom(seed);
  return centers.flatMap((c) => [c, ...Array.from({ length: perCenter }, () => randomInDisk(rand, c[0], c[1], spreadM))]);
}

const rand = seededRandom(2024);
const cases: { name: string; resolution: number; radiusM: number; points: Point[] }[] = [
  { name: 'random points on the globe', resolution: 9, radiusM: 1_500, points: Array.from({ length: 25 }, () => randomGlobe(rand)) },
  { name: 'random points on the globe', resolution: 7, radiusM: 8_000, points: Array.from({ length: 25 }, () => randomGlobe(rand)) },
  { name: 'a city', resolution: 9, radiusM: 5_000, points: around(1, [[52.52, 13.405]], 15_000, 6) },
  { name: 'a city', resolution: 7, radiusM: 5_000, points: around(2, [[52.52, 13.405]], 15_000, 6) },
  { name: 'pentagons', resolution: 9, radiusM: 2_000, points: around(3, sample(getPentagons(9), 4).map((p) => cellToLatLng(p)), 1_500, 3) },
  { name: 'pentagons', resolution: 7, radiusM: 10_000, points: around(4, sample(getPentagons(7), 4).map((p) => cellToLatLng(p)), 8_000, 3) },
  { name: 'the poles', resolution: 9, radiusM: 3_000, points: around(5, [[90, 0], [-90, 0], [89.6, 40], [-89.6, -140]], 5_000, 3) },
  { name: 'the antimeridian', resolution: 9, radiusM: 3_000, points: around(6, [[65, 180], [-16.5, -180], [0, 180]], 5_000, 3) },
  // A query on a vertex of its cell is as far from the origin centre as it gets.
  { name: 'cell vertices', resolution: 9, radiusM: 2_000, points: cellToBoundary(latLngToCell(52.52, 13.405, 9)) },
];

describe('RingPlanner', () => {
  describe.each(cases)('$name (res $resolution, radius $radiusM m)', ({ resolution, radiusM, points }) => {
    const plan = (): { q: Point; slices: RingSlice[] }[] => {
      const planner = new RingPlanner(resolution);
      return points.map((q) => ({ q, slices: [...planner.slices(q[0], q[1], radiusM)] }));
    };

    it('slices cover rings 0, 1, 2… of the query cell in order, and stop once the bound covers the radius', () => {
      for (const { q, slices } of plan()) {
        const origin = latLngToCell(q[0], q[1], resolution);
        const rings = slices.flatMap((s) => s.rings);
        const bounds = slices.flatMap((s) => s.bounds);
        const disk = gridDiskDistances(origin, rings.length - 1);
        expect(slices[0]!.firstRing, `${q}`).toBe(0);
        slices.forEach((s, i) => {
          expect(s.rings.length, `${q}`).toBe(s.bounds.length);
          if (i > 0) expect(s.firstRing, `${q}`).toBe(slices[i - 1]!.firstRing + slices[i - 1]!.rings.length);
        });
        rings.forEach((ring, k) => expect([...ring].sort(), `${q} ring ${k}`).toEqual([...disk[k]!].sort()));
        for (let k = 1; k < bounds.length; k++) expect(bounds[k]!, `${q} bound ${k}`).toBeGreaterThanOrEqual(bounds[k - 1]!);
        expect(bounds[bounds.length - 1]!, `${q}`).toBeGreaterThanOrEqual(radiusM);
      }
    });

    it('bounds[k] is a true lower bound: no point of a cell outside rings 0..k is nearer', () => {
      for (const { q, slices } of plan()) {
        const bounds = slices.flatMap((s) => s.bounds);
        const origin = latLngToCell(q[0], q[1], resolution);
        const disk = gridDiskDistances(origin, bounds.length + 1);
        bounds.forEach((bound, k) => {
          for (const ring of [disk[k + 1]!, disk[k + 2]!]) {
            for (const cell of sample(ring, 24)) {
              const nearest = Math.min(...cellPoints(cell).map(([lat, lng]) => distanceM(q[0], q[1], lat, lng)));
              expect(nearest, `query ${q} ring ${k}: cell ${cell}`).toBeGreaterThanOrEqual(bound);
            }
          }
        });
      }
    });
  });
});
