/** A region name: what HEXFLEET_REGION and the names of HEXFLEET_REGION_ENDPOINTS may hold. */
export const REGION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * HEXFLEET_REGION_ENDPOINTS (`name=https://host:port,...`) as region name →
 * its public base URLs, in the order given (a name may repeat: several
 * endpoints of one region, e.g. one DNS name per provider). Throws a
 * TypeError naming the faulty entry; the caller adds the variable's name.
 */
export function parseRegionEndpoints(value: string): Map<string, string[]> {
  const regions = new Map<string, string[]>();
  if (value.trim() === '') return regions;
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    const url = entry.slice(eq + 1).replace(/\/+$/, '');
    if (eq < 1 || !REGION_NAME.test(name)) throw new TypeError(`"${entry}" is not name=URL with a region name of letters, digits, _ or - (at most 64)`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`"${entry}": ${url} is not a URL`);
    }
    // A base URL: the gateway adds /v1/regions, clients /v1/driver or /v1/track.
    if (!/^https?:$/.test(parsed.protocol) || parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '') {
      throw new TypeError(`"${entry}": the endpoint must be an http:// or https:// base URL without a path (https://host:port)`);
    }
    const urls = regions.get(name) ?? [];
    if (!urls.includes(url)) urls.push(url);
    regions.set(name, urls);
  }
  return regions;
}
