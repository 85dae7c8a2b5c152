import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rbacMarkdown } from '../../src/auth/rbac-markdown.js';
import { configSchema, envName, type ConfigKey } from '../../src/config/config-schema.js';
import { CloseCodes, ErrorCodes } from '../../src/protocol/error-codes.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README tables are the users' reference: they must list what the code has. */
describe('README', () => {
  it.each(Object.keys(configSchema).map((k) => envName(k as ConfigKey)))('documents %s', (name) => {
    expect(readme).toContain(`| \`${name}\` |`);
  });

  it.each(Object.entries(ErrorCodes))('documents error code %s with its retry advice', (code, spec) => {
    expect(readme).toContain(`| \`${code}\` | ${spec.retry ? 'yes' : 'no'} | ${spec.http} |`);
  });

  it.each(Object.entries(CloseCodes))('documents close code %s', (name, spec) => {
    expect(readme).toContain(`| ${spec.code} | \`${name}\` |`);
  });

  it('documents who may do what: the RBAC table, as generated from RBAC_TABLE (scripts/readme-tables.mjs)', () => {
    expect(readme).toContain(rbacMarkdown());
  });
});
