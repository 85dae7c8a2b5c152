import { cellToLatLng, gridDisk, latLngToCell } from 'h3-js';
import { describe, expect, it } from 'vitest';
import { parseMarkets } from '../../src/geo/market-area.js';
import { MarketCoverage } from '../../src/readindex/market-coverage.js';
import { destination, seededRandom } from '../geo/geo-fixtures.js';

describe('HEXFLEET_MARKETS', () => {
  const berlin = latLngToCell(52.52, 13.405, 3);
  it.each([
    ['', undefined],
    [' ', undefined],
    [berlin, [berlin]],
    ['52.52,13.405', [berlin]],
    [`52.52, 13.405 ,${berlin}`, [berlin]],
    [`${latLngToCell(52.52, 13.405, 9)}`, [berlin]],
    ['48.137,11.575,52.52,13.405', [latLngToCell(48.137, 11.575, 3), berlin]],
    ['-33.8688,151.2093', [latLngToCell(-33.8688, 151.2093, 3)]],
  ])('"%s" names %j', (raw, areas) => {
    expect(parseMarkets(raw, 3)).toEqual(areas);
  });

  it.each([
    ['52.52', 'HEXFLEET_MARKETS must be a comma list of H3 cells and lat,lng points, got "52.52" (entry 1)'],
    ['berlin', 'HEXFLEET_MARKETS must be a comma list of H3 cells and lat,lng points, got "berlin" (entry 1)'],
    [`${berlin},13.4`, 'HEXFLEET_MARKETS must be a comma list of H3 cells and lat,lng points, got "13.4" (entry 2)'],
    ['91,13', 'HEXFLEET_MARKETS: point 91,13 is outside [-90, 90] × [-180, 180]'],
    [latLngToCell(52.52, 13.405, 1), `HEXFLEET_MARKETS: ${latLngToCell(52.52, 13.405, 1)} is coarser (res 1) than an area (HEXFLEET_REDIS_AREA_RESOLUTION=3); name its areas or points in them`],
  ])('"%s" is refused: %s', (raw, message) => {
    expect(() => parseMarkets(raw, 3)).toThrow(message);
  });
});

/** Whether every point of the circle, sampled on 8 radii × 64 bearings, lies in a held area. */
function bruteCovers(held: ReadonlySet<string>, res: number, lat: number, lng: number, radiusM: number): boolean {
  for (let step = 0; step <= 8; step++) {
    for (let b = 0; b < 64; b++) {
      const [plat, plng] = destination(lat, lng, (b * 360) / 64, (radiusM * step) / 8);
      if (!held.has(latLngToCell(plat, plng, res))) return false;
    }
  }
  return true;
}

describe('MarketCoverage', () => {
  // Pentagon-adjacent, antimeridian and ordinary markets at two resolutions.
  const cases = [
    { name: 'Berlin, res 3, one area', res: 3, markets: [latLngToCell(52.52, 13.405, 3)] },
    { name: 'Berlin, res 3, a disk of 7', res: 3, markets: gridDisk(latLngToCell(52.52, 13.405, 3), 1) },
    { name: 'Fiji across the antimeridian, res 3', res: 3, markets: gridDisk(latLngToCell(-17.7, 179.99, 3), 1) },
    { name: 'Munich, res 6 (the tests\' cluster areas)', res: 6, markets: gridDisk(latLngToCell(48.137, 11.575, 6), 1) },
  ];

  it.each(cases)('$name: never says covered when a point of the circle is outside the markets', ({ res, markets }) => {
    // HEXFLEET_NEARBY_MAX_RADIUS_M's default: at res 6 the fence reaches 20 km out.
    const coverage = new MarketCoverage(markets, res, 20_000);
    const held = new Set(markets);
    const rand = seededRandom(11);
    let covered = 0;
    for (let q = 0; q < 400; q++) {
      const [clat, clng] = cellToLatLng(markets[Math.floor(rand() * markets.length)]!);
      const [lat, lng] = destination(clat, clng, rand() * 360, rand() * (res === 3 ? 80_000 : 4_000));
      const radiusM = rand() * (res === 3 ? 60_000 : 3_000);
      if (!coverage.covers(lat, lng, radiusM)) continue;
      covered++;
      expect(bruteCovers(held, res, lat, lng, radiusM), `query ${q} (${lat}, ${lng}) r ${radiusM}`).toBe(true);
    }
    // Not a check that passes by saying no: a good share of the queries are answered locally.
    expect(covered).toBeGreaterThan(40);
  });

  it('a radius above the largest one allowed is never covered; a point outside the markets never', () => {
    const market = latLngToCell(52.52, 13.405, 3);
    const coverage = new MarketCoverage([market], 3, 5_000);
    expect(coverage.covers(...cellToLatLng(market), 5_000)).toBe(true);
    expect(coverage.covers(...cellToLatLng(market), 5_001)).toBe(false);
    expect(coverage.covers(48.137, 11.575, 1)).toBe(false);
  });
});
