import { ACTIONS, type Grant, rbacRow } from './rbac-table.js';
import { ROLES } from './tokens.js';

const SCOPE_TEXT: Record<Grant['scope'], string> = { any: 'yes', 'own-driver': 'own driver', 'own-orders': 'own orders' };

/** One cell: `—` denied, else its scope, with `+ MFA` when it needs a second factor. */
function cell(grant: Grant | undefined): string {
  if (!grant) return '—';
  return grant.mfa ? `${SCOPE_TEXT[grant.scope]} + MFA` : SCOPE_TEXT[grant.scope];
}

/**
 * RBAC_TABLE as the "who may do what" table of docs/security.md: one row per action,
 * one column per role (and one for requests without a token). Written into
 * docs/security.md by scripts/readme-tables.mjs; test/docs checks they agree.
 */
export function rbacMarkdown(): string {
  const header = `| action | no token | ${ROLES.join(' | ')} | what |\n|---|---|${ROLES.map(() => '---|').join('')}---|`;
  const rows = ACTIONS.map((action) => {
    const row = rbacRow(action);
    return `| \`${action}\` | ${row.public ? 'yes' : '—'} | ${ROLES.map((r) => cell(row.roles[r])).join(' | ')} | ${row.doc} |`;
  });
  return [header, ...rows].join('\n');
}
