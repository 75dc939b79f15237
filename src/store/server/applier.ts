import { decode, encode, type Logger, tryDecode, v } from '../../core/index.js';
import { decodeConfChange } from '../../raft/core/conf-change.js';
import type { Entry, Snapshot } from '../../raft/types.js';
import { decodeCommand, type StoreCommand } from '../command.js';
import { DEFAULT_LIMITS, type StoreServerLimits } from './limits.js';
import { type MemberTable, memberTableValidator } from './members.js';
import {
  type ApplyOutcome,
  type LeaseView,
  type MvccPort,
  type RaftApplierPort,
  resultBody,
} from './ports.js';
import type { Waiters } from './waiters.js';

/** What the applier tells the server's lease keeper (every member's, leader or not). */
export interface ApplyHooks {
  leaseGranted(id: number, ttl: number): void;
  leaseRevoked(id: number): void;
  leaseCheckpointed(checkpoints: readonly { id: number; remainingTtl: number }[]): void;
  /** A snapshot replaced the store: every lease is now these. */
  leasesReset(leases: readonly LeaseView[]): void;
  /** The member table changed (a conf change or a member's attributes). */
  membersChanged(): void;
}

/** Counters of the applier. */
export interface ApplierStats {
  /** Normal entries whose data did not decode as a command (skipped on every member alike). */
  malformedEntries: number;
  /** Conf entries whose data did not decode. */
  malformedConfEntries: number;
}

/**
 * The store's side of raft (etcd's applierV3 and the apply loop of etcdserver): every committed
 * entry, in log order, on every member.
 *
 * - A normal entry carries `encodeCommand(requestId, cmd)`: the MVCC store applies it at the
 *   entry's index, and if this member proposed it (a waiter for `requestId` is registered) the
 *   waiter settles with the result. An empty entry (a new leader's no-op) changes nothing.
 * - A conf entry changes the member table (its context carries the member's metadata).
 * - A `member` command records a member's published name and client URLs.
 *
 * Contract: idempotent by raft index (the MVCC store and the member table each skip an index they
 * already applied), so the driver may replay the log's tail after a restart. A malformed entry
 * is skipped and counted, identically on every member (it is the same bytes everywhere); nothing
 * in an entry can make `apply` throw. `snapshot()` is the MVCC image plus the member table, as of
 * the last entry passed to `apply`; `restore()` replaces both. `persist(index)` makes the state
 * durable through `index`, so raft's compaction snapshots hold no image (see the store DESIGN).
 */
export class StoreApplier implements RaftApplierPort {
  readonly stats: ApplierStats = { malformedEntries: 0, malformedConfEntries: 0 };

  constructor(
    private readonly mvcc: MvccPort,
    private readonly members: MemberTable,
    private readonly waiters: Waiters<ApplyOutcome>,
    private readonly hooks: ApplyHooks,
    private readonly logger: Logger,
    private readonly limits: StoreServerLimits = DEFAULT_LIMITS,
  ) {}

  /**
   * Applies entries in order. Consecutive put, delete and txn commands go to the MVCC store as one
   * batch when it can take one (one Storage write for the run); their waiters settle once the
   * batch is applied.
   */
  async apply(entries: readonly Entry[]): Promise<void> {
    let run: Decoded[] = [];
    for (const entry of entries) {
      if (entry.type === 'conf') {
        await this.applyRun(run);
        run = [];
        await this.applyConf(entry);
        continue;
      }
      if (entry.data.length === 0) continue;
      const decoded = this.decode(entry);
      if (decoded === undefined) continue;
      if (this.mvcc.applyBatch !== undefined && BATCHED.has(decoded.cmd.t)) {
        run.push(decoded);
        continue;
      }
      await this.applyRun(run);
      run = [];
      await this.applyNormal(decoded);
    }
    await this.applyRun(run);
  }

  appliedIndex(): number {
    return this.mvcc.appliedIndex;
  }

  /**
   * Makes the state as of raft `index` durable: one synced MVCC write, which also records `index`
   * as applied (the member table is synced on every change already, in the same Storage).
   */
  persist(index: number): Promise<void> {
    return this.mvcc.sync(index);
  }

  async snapshot(): Promise<Uint8Array> {
    return encode({ members: this.members.image(), mvcc: await this.mvcc.snapshot() });
  }

  async restore(snapshot: Snapshot): Promise<void> {
    const image = decode(
      snapshot.data,
      v.object({ members: memberTableValidator(this.limits), mvcc: v.bytes() }),
      Number.MAX_SAFE_INTEGER,
    );
    await this.members.restore({ ...image.members, index: snapshot.meta.index });
    await this.mvcc.restore(image.mvcc, snapshot.meta.index);
    this.hooks.leasesReset(this.mvcc.leases());
    this.hooks.membersChanged();
  }

  /** A normal entry's command, or undefined (counted and logged) when it is malformed. */
  private decode(entry: Entry): Decoded | undefined {
    try {
      const { requestId, cmd } = decodeCommand(entry.data);
      return { index: entry.index, requestId, cmd };
    } catch (err) {
      this.stats.malformedEntries++;
      this.logger.warn({ index: entry.index, err: String(err) }, 'store: skipped a malformed entry');
      return undefined;
    }
  }

  /** Applies a run of put/delete/txn commands as one MVCC batch, then settles their waiters. */
  private async applyRun(run: readonly Decoded[]): Promise<void> {
    if (run.length === 0) return;
    const results = await this.mvcc.applyBatch!(run);
    for (let i = 0; i < run.length; i++) {
      const out = results[i]!;
      this.waiters.trigger(run[i]!.requestId, { result: out.result, revision: out.revision });
    }
  }

  private async applyNormal({ index, requestId, cmd }: Decoded): Promise<void> {
    const result = await this.mvcc.apply(index, cmd);
    if (resultBody(result) !== undefined) await this.afterApply(index, cmd, result);
    this.waiters.trigger(requestId, { result, revision: this.mvcc.revision });
  }

  private async afterApply(index: number, cmd: StoreCommand, result: unknown): Promise<void> {
    switch (cmd.t) {
      case 'leaseGrant': {
        // The store may have chosen the id (cmd.id 0) or raised the TTL: report what it granted.
        const granted = grantedLease(result);
        this.hooks.leaseGranted(granted?.id ?? cmd.id, granted?.ttl ?? cmd.ttl);
        break;
      }
      case 'leaseRevoke':
        this.hooks.leaseRevoked(cmd.id);
        break;
      case 'leaseCheckpoint':
        this.hooks.leaseCheckpointed(cmd.checkpoints);
        break;
      case 'member': {
        const update = decodeMemberUpdate(cmd.data, this.limits);
        if (update !== undefined) {
          await this.members.setPeerUrls(index, update.id, update.peerUrls);
          this.hooks.membersChanged();
          break;
        }
        const attrs = decodeMemberAttributes(cmd.data, this.limits);
        if (attrs !== undefined) {
          await this.members.setAttributes(index, attrs);
          this.hooks.membersChanged();
        }
        break;
      }
      default:
        break;
    }
  }

  private async applyConf(entry: Entry): Promise<void> {
    let cc: ReturnType<typeof decodeConfChange>;
    try {
      cc = decodeConfChange(entry.data);
    } catch (err) {
      this.stats.malformedConfEntries++;
      this.logger.warn({ index: entry.index, err: String(err) }, 'store: skipped a malformed conf entry');
      return;
    }
    if (await this.members.applyConfChange(entry.index, cc)) this.hooks.membersChanged();
  }
}

/** Commands with no side effects beyond the MVCC store, applied in batches. */
const BATCHED: ReadonlySet<StoreCommand['t']> = new Set(['put', 'del', 'txn']);

/** A decoded normal entry. */
interface Decoded {
  readonly index: number;
  readonly requestId: number;
  readonly cmd: StoreCommand;
}

/** A member's published attributes, the payload of a `member` command. */
export interface MemberAttributes {
  readonly id: number;
  readonly name: string;
  readonly clientUrls: readonly string[];
  /** The member's peer URLs; absent in a command that does not change them. */
  readonly peerUrls?: readonly string[];
}

/** Encodes a `member` command's payload. */
export function encodeMemberAttributes(attrs: MemberAttributes): Uint8Array {
  return encode({
    id: attrs.id,
    name: attrs.name,
    clientUrls: [...attrs.clientUrls],
    ...(attrs.peerUrls === undefined ? {} : { peerUrls: [...attrs.peerUrls] }),
  });
}

/** Decodes a `member` command's payload; undefined when malformed. */
export function decodeMemberAttributes(
  data: Uint8Array,
  limits: StoreServerLimits = DEFAULT_LIMITS,
): MemberAttributes | undefined {
  const field = v.string({ maxLength: limits.maxMemberFieldLength });
  const urls = v.array(field, { maxLength: limits.maxMemberUrls });
  const attrs = tryDecode(
    data,
    v.object({
      id: v.uint({ max: Number.MAX_SAFE_INTEGER }),
      name: field,
      clientUrls: urls,
      peerUrls: v.optional(urls),
    }),
  );
  if (attrs === undefined) return undefined;
  const { peerUrls, ...rest } = attrs;
  return peerUrls === undefined ? rest : { ...rest, peerUrls };
}

/**
 * An operator's change of a member's peer URLs (etcd's MemberUpdate, a ConfChangeUpdateNode in
 * etcd; a `member` command here, so raft's configuration types stay as they are). Marked by
 * `update: true`, which attribute payloads never carry.
 */
export interface MemberUpdate {
  readonly id: number;
  readonly peerUrls: readonly string[];
}

/** Encodes a `member` command's payload for a peer URL update. */
export function encodeMemberUpdate(update: MemberUpdate): Uint8Array {
  return encode({ update: true, id: update.id, peerUrls: [...update.peerUrls] });
}

/** Decodes a peer URL update; undefined when `data` is not one (or is malformed). */
export function decodeMemberUpdate(
  data: Uint8Array,
  limits: StoreServerLimits = DEFAULT_LIMITS,
): MemberUpdate | undefined {
  const field = v.string({ maxLength: limits.maxMemberFieldLength });
  return tryDecode(
    data,
    v.object({
      update: v.literal(true),
      id: v.uint({ max: Number.MAX_SAFE_INTEGER }),
      peerUrls: v.array(field, { maxLength: limits.maxMemberUrls }),
    }),
  );
}

/** The id and TTL of a leaseGrant result, when the result carries them. */
function grantedLease(result: unknown): { id: number; ttl: number } | undefined {
  const r = resultBody(result);
  if (r === undefined) return undefined;
  return typeof r.id === 'number' && typeof r.ttl === 'number' ? { id: r.id, ttl: r.ttl } : undefined;
}
