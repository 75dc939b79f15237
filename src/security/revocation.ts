import { CairnError } from '../core/errors.js';
import { type SecurityLimits, securityLimits } from './limits.js';

/**
 * Revoked token ids.
 *
 * Revoking an id revokes every token of its family (a minted token and all its attenuations). An
 * entry can carry the time after which it is useless because every token it revokes has expired:
 * the minted token's own expiry, which no attenuation can extend (an attenuated token's earlier
 * expiry is not enough, as its parent outlives it). {@link prune} drops such entries. The list is bounded: when full, revoking throws
 * `LIMIT_EXCEEDED` rather than forgetting an older revocation, which would silently restore a
 * token.
 *
 * Getting revocations to every node (through the store, or a config push) is the job of the
 * brick above; this is the set each node consults.
 */

/** One revocation. */
export interface Revocation {
  /** The token id, 32 hex digits. */
  readonly id: string;
  /** Milliseconds since the epoch after which the entry may be dropped; `undefined` keeps it forever. */
  readonly untilMs: number | undefined;
}

const ID_PATTERN = /^[0-9a-f]{32}$/;

/** A bounded set of revoked token ids. */
export class RevocationList {
  private readonly entries = new Map<string, number | undefined>();
  private readonly limits: SecurityLimits;

  /** @param limits - override of `maxRevokedTokens` */
  constructor(limits: Partial<SecurityLimits> = {}) {
    this.limits = securityLimits(limits);
  }

  /** Revoked ids held now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Revokes token id `id`. Revoking an id again keeps the later of the two `untilMs`.
   *
   * @param untilMs - when every token of the family has expired; default never
   * @throws CairnError `INVALID_ARGUMENT` for a malformed id, `LIMIT_EXCEEDED` when the list is full
   */
  revoke(id: string, untilMs?: number): void {
    if (!ID_PATTERN.test(id))
      throw new CairnError('INVALID_ARGUMENT', `"${id.slice(0, 40)}" is not a token id (32 hex digits)`);
    if (untilMs !== undefined && !Number.isFinite(untilMs)) {
      throw new CairnError('INVALID_ARGUMENT', `revocation end ${untilMs} is not a finite time`);
    }
    if (this.entries.has(id)) {
      const old = this.entries.get(id);
      this.entries.set(id, old === undefined || untilMs === undefined ? undefined : Math.max(old, untilMs));
      return;
    }
    if (this.entries.size >= this.limits.maxRevokedTokens) {
      throw new CairnError(
        'LIMIT_EXCEEDED',
        `${this.entries.size} tokens are revoked, the limit maxRevokedTokens=${this.limits.maxRevokedTokens}; prune expired entries or raise the limit`,
        {
          details: {
            limit: 'maxRevokedTokens',
            value: this.entries.size + 1,
            max: this.limits.maxRevokedTokens,
          },
        },
      );
    }
    this.entries.set(id, untilMs);
  }

  /** True when token id `id` is revoked. A bound function: pass it as `verifyToken`'s `isRevoked`. */
  readonly isRevoked = (id: string): boolean => this.entries.has(id);

  /** Drops entries whose `untilMs` is at or before `nowMs`; returns how many. */
  prune(nowMs: number): number {
    let dropped = 0;
    for (const [id, untilMs] of this.entries) {
      if (untilMs !== undefined && untilMs <= nowMs) {
        this.entries.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  /** Every entry, for persisting or sending to other nodes; {@link revoke} each to load them. */
  list(): Revocation[] {
    return [...this.entries].map(([id, untilMs]) => ({ id, untilMs }));
  }
}
