// Rewrites the config, error-code, close-code and RBAC ("who may do what") tables of README.md
// from the compiled schema, error table and RBAC_TABLE (run after npm run build). test/docs checks they agree.
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

let readme = readFileSync('README.md', 'utf8');
for (const table of [config, errors, closes, rbacMarkdown()]) {
  const header = table.split('\n')[0];
  const start = readme.indexOf(header);
  if (start < 0) throw new Error(`README.md has no table starting with ${header}`);
  let end = start;
  while (end < readme.length && readme[end] === '|') end = readme.indexOf('\n', end) + 1 || readme.length;
  readme = readme.slice(0, start) + table + '\n' + readme.slice(end);
}
writeFileSync('README.md', readme);
