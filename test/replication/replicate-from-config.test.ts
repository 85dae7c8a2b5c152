import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

/** The environment of a gateway of region b with an event log. */
const REGION_B = { HEXFLEET_REGION: 'b', HEXFLEET_KAFKA_BROKERS: '127.0.0.1:9092' };

function errorOf(env: NodeJS.ProcessEnv): Error {
  try {
    loadConfig(env);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('HEXFLEET_REPLICATE_FROM', () => {
  it('takes the other regions, comma-separated (spaces allowed)', () => {
    expect(loadConfig({ ...REGION_B, HEXFLEET_REPLICATE_FROM: 'a, eu-west_2' }).replicateFrom).toBe('a, eu-west_2');
    expect(loadConfig(REGION_B).replicateFrom).toBe('');
  });

  it.each([
    { what: 'a name with a dot (it would read as part of a mirrored topic name)', env: { ...REGION_B, HEXFLEET_REPLICATE_FROM: 'a.x' }, message: /HEXFLEET_REPLICATE_FROM must be region names .* got "a\.x"/ },
    { what: 'an empty entry', env: { ...REGION_B, HEXFLEET_REPLICATE_FROM: 'a,,c' }, message: /HEXFLEET_REPLICATE_FROM must be region names .* got ""/ },
    { what: 'the own region', env: { ...REGION_B, HEXFLEET_REPLICATE_FROM: 'a,b' }, message: /names this gateway's own region "b"/ },
    { what: 'a region twice', env: { ...REGION_B, HEXFLEET_REPLICATE_FROM: 'a,a' }, message: /names a region twice/ },
    { what: 'no HEXFLEET_REGION', env: { HEXFLEET_KAFKA_BROKERS: '127.0.0.1:9092', HEXFLEET_REPLICATE_FROM: 'a' }, message: /HEXFLEET_REPLICATE_FROM needs HEXFLEET_REGION/ },
    { what: 'no event log', env: { HEXFLEET_REGION: 'b', HEXFLEET_REPLICATE_FROM: 'a' }, message: /HEXFLEET_REPLICATE_FROM needs HEXFLEET_KAFKA_BROKERS/ },
  ])('refuses $what with a message naming the variable', ({ env, message }) => {
    const err = errorOf(env);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(message);
  });
});
