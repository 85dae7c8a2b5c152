// Rewrites the reference tables generated from code: the config table of docs/configuration.md, the
// error-code and close-code tables of docs/error-codes.md and the RBAC ("who may do what") table of
// docs/security.md, from the compiled schema, error table and RBAC_TABLE (run after npm run build).
// test/docs/readme.test.ts checks they agree.
import { readFileSync, writeFileSync } from 'node:fs';
import { configSchema, envName } from '../dist/src/config/config-schema.js';
import { CloseCodes, ErrorCodes } from '../dist/src/protocol/error-codes.js';
import { rbacMarkdown } from '../dist/src/auth/rbac-markdown.js';

const rows = (header, lines) => [header, ...lines].join('\n');
const config = rows('| variable | default | range | meaning |\n|---|---|---|---|', Object.entries(configSchema).map(([k, s]) => {
  const def = s.secret || s.default === '' ? '(unset)' : '`' + String(s.default) + '`';
  const range = s.type === 'int' ? `${s.min}–${s.max}` : s.values ? s.values.join(', ') : s.type;
  return `| \`${envName(k)}\` | ${def} | ${range} | ${s.doc} |`;
}));
const errors = rows('| code | retry | HTTP | meaning |\n|---|---|---|---|', Object.entries(ErrorCodes).map(([k, e]) => `| \`${k}\` | ${e.retry ? 'yes' : 'no'} | ${e.http} | ${e.message} |`));
const closes = rows('| close code | name | reconnect? | meaning |\n|---|---|---|---|', Object.entries(CloseCodes).map(([k, e]) => `| ${e.code} | \`${k}\` | ${e.retry ? 'yes' : 'no'} | ${e.reason} |`));

/** Each generated table and the file it lives in. */
const tables = [
  ['docs/configuration.md', config],
  ['docs/error-codes.md', errors],
  ['docs/error-codes.md', closes],
  ['docs/security.md', rbacMarkdown()],
];
for (const [file, table] of tables) {
  let text = readFileSync(file, 'utf8');
  const header = table.split('\n')[0];
  const start = text.indexOf(header);
  if (start < 0) throw new Error(`${file} has no table starting with ${header}`);
  let end = start;
  while (end < text.length && text[end] === '|') end = text.indexOf('\n', end) + 1 || text.length;
  text = text.slice(0, start) + table + '\n' + text.slice(end);
  writeFileSync(file, text);
}
