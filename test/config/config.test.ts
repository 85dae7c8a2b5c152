import { describe, expect, it } from 'vitest';
import { type ConfigKey, configSchema, envName } from '../../src/config/config-schema.js';
import { ConfigError, configHelp, loadConfig, selectedStore } from '../../src/config/load-config.js';

const SECRET = 'a-config-test-secret-of-forty-chars-0123';

/** The error `loadConfig(env)` throws (fails the test when it does not throw). */
function errorOf(env: Record<string, string>): Error {
  try {
    loadConfig(env);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('returns every documented default for an empty environment', () => {
    const config = loadConfig({});
    for (const key of Object.keys(configSchema) as ConfigKey[]) {
      expect(config[key], key).toEqual(configSchema[key].default);
    }
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      store: 'auto',
      redisUrl: '',
      staleMs: 30_000,
      offlineMs: 3_600_000,
      maxFutureMs: 30_000,
      maxAgeMs: 86_400_000,
      h3Resolution: 9,
      allowUwsFallback: false,
      logLevel: 'info',
    });
    expect(selectedStore(config)).toBe('memory');
  });

  it('ignores variables without the HEXFLEET_ prefix and treats empty values as unset', () => {
    const config = loadConfig({ PATH: '/usr/bin', HOME: '/root', HEXFLEET_MAX_BATCH: '', PORT: '' });
    expect(config.maxBatch).toBe(500);
    expect(config.port).toBe(8080);
  });

  it('parses each type', () => {
    const config = loadConfig({
      PORT: '0',
      HEXFLEET_MAX_BATCH: '7',
      HEXFLEET_ALLOW_UWS_FALLBACK: 'true',
      HEXFLEET_STORE: 'redis',
      REDIS_URL: 'redis://127.0.0.1:6390/2',
      HEXFLEET_JWT_SECRET: SECRET,
      HEXFLEET_LOG_LEVEL: 'silent',
      HEXFLEET_REDIS_PREFIX: 'hf:test-1.a_b',
    });
    expect(config).toMatchObject({
      port: 0,
      maxBatch: 7,
      allowUwsFallback: true,
      store: 'redis',
      redisUrl: 'redis://127.0.0.1:6390/2',
      jwtSecret: SECRET,
      logLevel: 'silent',
      redisPrefix: 'hf:test-1.a_b',
    });
    expect(selectedStore(config)).toBe('redis');
    expect(selectedStore(loadConfig({ REDIS_URL: 'redis://localhost:6379' }))).toBe('redis');
  });

  it.each([
    ['1', true], ['true', true], ['TRUE', true], ['yes', true],
    ['0', false], ['false', false], ['No', false],
  ])('reads the bool %j as %s', (raw, value) => {
    expect(loadConfig({ HEXFLEET_ALLOW_UWS_FALLBACK: raw }).allowUwsFallback).toBe(value);
  });

  it('derives the variable names from the option keys', () => {
    expect(envName('staleMs')).toBe('HEXFLEET_STALE_MS');
    expect(envName('h3Resolution')).toBe('HEXFLEET_H3_RESOLUTION');
    expect(envName('ratePingsPerSec')).toBe('HEXFLEET_RATE_PINGS_PER_SEC');
    expect(envName('port')).toBe('PORT');
    expect(envName('redisUrl')).toBe('REDIS_URL');
    for (const key of Object.keys(configSchema) as ConfigKey[]) {
      // Upper snake case, and no word starts with a digit (h3Resolution is H3_RESOLUTION, not H_3RESOLUTION).
      expect(envName(key), key).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z][A-Z0-9]*)*$/);
    }
  });

  const bad: { what: string; env: Record<string, string>; names: string[]; message?: RegExp }[] = [
    { what: 'not a number', env: { PORT: 'eighty' }, names: ['PORT'], message: /whole number/ },
    { what: 'not a whole number', env: { HEXFLEET_MAX_BATCH: '2.5' }, names: ['HEXFLEET_MAX_BATCH'], message: /whole number/ },
    { what: 'a number in exponent form', env: { HEXFLEET_STALE_MS: '1e3' }, names: ['HEXFLEET_STALE_MS'], message: /whole number/ },
    { what: 'above the range', env: { PORT: '65536' }, names: ['PORT'], message: /between 0 and 65535/ },
    { what: 'below the range', env: { HEXFLEET_H3_RESOLUTION: '4' }, names: ['HEXFLEET_H3_RESOLUTION'], message: /between 5 and 12/ },
    { what: 'negative', env: { HEXFLEET_RATE_BURST: '-1' }, names: ['HEXFLEET_RATE_BURST'], message: /between/ },
    { what: 'zero where at least 1 is needed', env: { HEXFLEET_MAX_BATCH: '0' }, names: ['HEXFLEET_MAX_BATCH'], message: /between 1 and 10000/ },
    { what: 'a frame limit below 256', env: { HEXFLEET_MAX_FRAME_BYTES: '100' }, names: ['HEXFLEET_MAX_FRAME_BYTES'] },
    { what: 'a bad bool', env: { HEXFLEET_ALLOW_UWS_FALLBACK: 'maybe' }, names: ['HEXFLEET_ALLOW_UWS_FALLBACK'], message: /true or false/ },
    { what: 'a bad store', env: { HEXFLEET_STORE: 'mongo' }, names: ['HEXFLEET_STORE'], message: /auto, memory, redis/ },
    { what: 'a bad log level', env: { HEXFLEET_LOG_LEVEL: 'loud' }, names: ['HEXFLEET_LOG_LEVEL'], message: /one of/ },
    { what: 'an enum in the wrong case', env: { HEXFLEET_STORE: 'Memory' }, names: ['HEXFLEET_STORE'] },
    { what: 'an unknown HEXFLEET_ variable', env: { HEXFLEET_MAX_BATCHES: '5' }, names: ['HEXFLEET_MAX_BATCHES'], message: /unknown/ },
    { what: 'two unknown variables', env: { HEXFLEET_FOO: '1', HEXFLEET_BAR: '2' }, names: ['HEXFLEET_FOO', 'HEXFLEET_BAR'] },
    { what: 'store=redis without REDIS_URL', env: { HEXFLEET_STORE: 'redis' }, names: ['HEXFLEET_STORE', 'REDIS_URL'] },
    { what: 'a REDIS_URL that is not redis://', env: { REDIS_URL: 'http://localhost:6379' }, names: ['REDIS_URL'] },
    {
      what: 'offline shorter than stale',
      env: { HEXFLEET_STALE_MS: '60000', HEXFLEET_OFFLINE_MS: '30000' },
      names: ['HEXFLEET_OFFLINE_MS', 'HEXFLEET_STALE_MS'],
    },
    {
      what: 'retention shorter than offline',
      env: { HEXFLEET_OFFLINE_MS: '7200000', HEXFLEET_RETENTION_MS: '3600000' },
      names: ['HEXFLEET_RETENTION_MS', 'HEXFLEET_OFFLINE_MS'],
    },
    { what: 'a short JWT secret', env: { HEXFLEET_JWT_SECRET: 'short-secret' }, names: ['HEXFLEET_JWT_SECRET'], message: /32 characters/ },
    { what: 'a prefix with a space', env: { HEXFLEET_REDIS_PREFIX: 'hf prod' }, names: ['HEXFLEET_REDIS_PREFIX'] },
    { what: 'a prefix with a brace', env: { HEXFLEET_REDIS_PREFIX: 'hf{1}' }, names: ['HEXFLEET_REDIS_PREFIX'] },
    { what: 'a prefix longer than 64', env: { HEXFLEET_REDIS_PREFIX: 'p'.repeat(65) }, names: ['HEXFLEET_REDIS_PREFIX'] },
  ];

  it.each(bad)('throws ConfigError naming the variable for $what', ({ env, names, message }) => {
    const err = errorOf(env);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.name).toBe('ConfigError');
    for (const name of names) expect(err.message).toContain(name);
    if (message) expect(err.message).toMatch(message);
  });

  it('never prints a secret value in an error', () => {
    expect(errorOf({ HEXFLEET_JWT_SECRET: 'tiny-secret' }).message).not.toContain('tiny-secret');
    expect(errorOf({ REDIS_URL: 'http://:hunter2@localhost' }).message).not.toContain('hunter2');
  });

  it('lists every variable in the --help table, with secrets not shown', () => {
    const help = configHelp();
    for (const key of Object.keys(configSchema) as ConfigKey[]) expect(help).toContain(envName(key));
    expect(help).toContain('HEXFLEET_JWT_SECRET');
    expect(help).toMatch(/HEXFLEET_JWT_SECRET[\s\S]*?default \(unset\)/);
  });
});
