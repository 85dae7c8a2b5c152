import { HexfleetError } from '../protocol/error-codes.js';
import { checkMfa, type MfaPolicy } from './mfa.js';
import { type Action, type Grant, rbacRow } from './rbac-table.js';
import { type Principal, ROLES, TokenError, type TokenService } from './tokens.js';

/** What an action touches, for the scope rules: the driver or the order it concerns. */
export interface Resource {
  driverId?: string;
  orderId?: string;
}

/**
 * The one enforcement of RBAC_TABLE: may `principal` do `action` on
 * `resource`? Returns nothing when it may; otherwise throws a HexfleetError:
 * - `forbidden` (403): the role has no cell in the action's row, or an
 *   `own-driver` action on another driver; the message names the role and
 *   the action;
 * - `not_allowed` (403, the tracking code clients already handle): an
 *   `own-orders` action on an order the token does not cover;
 * - `mfa_required` (403): a cell marked MFA, and the token shows no second
 *   factor recent enough (see checkMfa).
 * A scoped cell needs the resource it is scoped by: without it the action is
 * refused, never waved through. Pure and synchronous (a table lookup and a
 * few comparisons): called on every request and every frame.
 */
export function authorize(principal: Principal, action: Action, resource: Resource | undefined, mfa: MfaPolicy, now: number): void {
  const grant: Grant | undefined = rbacRow(action).roles[principal.role];
  if (!grant) throw new HexfleetError('forbidden', `role ${principal.role} may not ${action} (allowed: ${allowedRoles(action)})`);
  if (grant.scope === 'own-driver') {
    if (resource?.driverId === undefined || resource.driverId !== principal.sub) {
      throw new HexfleetError('forbidden', `role ${principal.role} may ${action} only as its own driver (the token's sub)`);
    }
  } else if (grant.scope === 'own-orders') {
    const orderId = resource?.orderId;
    if (orderId === undefined || !coversOrder(principal, orderId)) {
      throw new HexfleetError('not_allowed', `this token may not ${action} for order "${(orderId ?? '').slice(0, 128)}" (role ${principal.role}: only its own orders)`);
    }
  }
  if (grant.mfa) {
    try {
      checkMfa(principal, mfa, now);
    } catch (err) {
      // One error type out of here, whatever checkMfa throws: frame handlers answer HexfleetErrors with their code.
      if (err instanceof TokenError) throw new HexfleetError(err.code, err.message);
      throw err;
    }
  }
}

/** A customer covers the orders of its `orders` claim; a tracker the one order of its `sub`. */
function coversOrder(p: Principal, orderId: string): boolean {
  if (p.role === 'tracker') return p.sub === orderId;
  return p.orders !== undefined && p.orders.includes(orderId);
}

function allowedRoles(action: Action): string {
  const roles = Object.keys(rbacRow(action).roles);
  return roles.length > 0 ? roles.join(', ') : 'none';
}

/**
 * Token verification plus `authorize`, as the gateway's routes and endpoints
 * use them: built once from the configuration, so call sites pass only the
 * action and what it touches.
 */
export class Authorizer {
  constructor(
    readonly tokens: TokenService,
    readonly mfa: MfaPolicy,
  ) {}

  /**
   * Verifies a token (TokenError `unauthorized` → 401), then authorizes;
   * returns the principal. `resource` may be derived from the principal (a
   * driver's stream is the one its `sub` names).
   */
  verify(token: string | undefined, action: Action, resource?: Resource | ((p: Principal) => Resource)): Principal {
    const principal = this.tokens.verify(token, ROLES);
    authorize(principal, action, typeof resource === 'function' ? resource(principal) : resource, this.mfa, Date.now());
    return principal;
  }

  /** Authorizes an already verified principal (a socket's frames). */
  check(principal: Principal, action: Action, resource: Resource | undefined, now: number): void {
    authorize(principal, action, resource, this.mfa, now);
  }
}
