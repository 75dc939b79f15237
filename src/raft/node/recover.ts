import { bootstrapState, decodeConfChange, RaftCore } from '../core/index.js';
import { ProgressTracker } from '../core/tracker.js';
import { RaftError } from '../errors.js';
import { MemoryRaftLog } from '../memory-log.js';
import type { ConfState, Entry } from '../types.js';
import type { RaftNodeOptions, ResolvedOptions } from './options.js';
import { isStateMachineMarker } from './snapshot-marker.js';

const EMPTY_CONF: ConfState = Object.freeze({ voters: [], learners: [] });

/** What a node starts from: its core, the in-memory log mirroring the durable one, positions. */
export interface RecoveredState {
  readonly core: RaftCore;
  readonly log: MemoryRaftLog;
  /** The index the core starts from as applied. */
  readonly applied: number;
  /** Entries up to here are not given to the applier again (it reported them applied). */
  readonly skipThrough: number;
  /** The configuration as of `applied`. */
  readonly confState: ConfState;
}

/**
 * Builds a node's starting state from its log store and application.
 *
 * - First start (nothing stored) with `bootstrap`: etcd's bootstrap, one committed conf entry per
 *   member, synced before anything else; the core knows the configuration at once and the
 *   entries are applied like any committed entry.
 * - Otherwise (restart, or a joining node with an empty log): the stored snapshot, entries and
 *   hard state go into the in-memory log. When the application is behind the snapshot it is
 *   restored from it; behind a metadata-only snapshot (its data is the application's own durable
 *   state) the start is refused with RaftError `CORRUPT`. The core resumes at `max(snapshot index, appliedIndex())` (capped by the
 *   log's end), and the conf entries up to there, which the core will not replay, are folded
 *   into the configuration it starts with.
 */
export async function recoverState(
  options: RaftNodeOptions,
  settings: ResolvedOptions,
): Promise<RecoveredState> {
  const loaded = await options.logStore.load();
  const log = new MemoryRaftLog();
  const fresh = loaded.snapshot === undefined && loaded.entries.length === 0 && loaded.hardState.term === 0;
  let applied = 0;
  let skipThrough = 0;
  let confState: ConfState = EMPTY_CONF;
  if (fresh && options.bootstrap !== undefined) {
    const boot = bootstrapState(options.bootstrap);
    await options.logStore.save(boot.hardState, boot.entries, true);
    log.append(boot.entries);
    log.setHardState(boot.hardState);
    log.setConfState(boot.confState);
    confState = boot.confState;
  } else {
    const snap = loaded.snapshot;
    const snapIndex = snap?.meta.index ?? 0;
    if (snap !== undefined && snapIndex > 0) log.applySnapshot(snap);
    log.append(loaded.entries);
    log.setHardState(loaded.hardState);
    const appIndex = options.applier.appliedIndex();
    if (snap !== undefined && snapIndex > 0 && appIndex < snapIndex) {
      if (isStateMachineMarker(snap.data)) {
        // The state machine was durable at the snapshot's index before it was saved: being behind
        // it now means lost or corrupt state, and the log below the snapshot is gone.
        throw new RaftError(
          'CORRUPT',
          `raft node ${options.id}: the state machine's durable applied index ${appIndex} is below the ` +
            `metadata-only snapshot at ${snapIndex} (its data lives in the state machine); refusing to start`,
        );
      }
      await options.applier.restore(snap);
    }
    applied = Math.max(snapIndex, Math.min(appIndex, log.lastIndex()));
    skipThrough = Math.max(applied, appIndex);
    confState = foldConfChanges(snap?.meta.confState ?? EMPTY_CONF, loaded.entries, snapIndex, applied);
    log.setConfState(confState);
  }
  const core = new RaftCore({
    id: options.id,
    electionTicks: settings.electionTicks,
    heartbeatTicks: settings.heartbeatTicks,
    rng: options.rng.child('raft-core'),
    log,
    applied,
    ...(options.preVote === undefined ? {} : { preVote: options.preVote }),
    ...(options.checkQuorum === undefined ? {} : { checkQuorum: options.checkQuorum }),
    ...(options.maxSizePerMsg === undefined ? {} : { maxSizePerMsg: options.maxSizePerMsg }),
    ...(options.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: options.maxInflightMsgs }),
    deferCommitOnlyAppends: options.deferCommitOnlyAppends ?? true,
  });
  return { core, log, applied, skipThrough, confState };
}

/**
 * The configuration after the conf entries in (`from`, `through`] of `entries`, starting from
 * `base`: what a restarted node had applied before it stopped. Uses the core's own rule for one
 * change, so the fold and the live path cannot disagree.
 */
export function foldConfChanges(
  base: ConfState,
  entries: readonly Entry[],
  from: number,
  through: number,
): ConfState {
  let cs = base;
  for (const e of entries) {
    if (e.index <= from || e.index > through || e.type !== 'conf') continue;
    cs = ProgressTracker.applyChange(cs, decodeConfChange(e.data)) ?? cs;
  }
  return cs;
}
