import type { Member } from '../api.js';
import type { EtcdErrorName } from '../errors.js';

/**
 * etcd's strict reconfiguration check (`--strict-reconfig-check`, on by default), as etcd 3.4's
 * `mayAddMember`, `mayRemoveMember` and `mayPromoteMember` in etcdserver/server.go: refuse a
 * membership change that would leave the cluster without a quorum of members able to serve.
 *
 * Two signals, as etcd's:
 * - *started*: a member that has published its attributes since it joined (a non-empty name in
 *   the member table, etcd's `Member.IsStarted`). A member added with MemberAdd is not started
 *   until its process runs and publishes. Refusal: `memberNotEnoughStarted`.
 * - *active*: a peer the leader has heard from within the last election timeout (raft's
 *   `recentActive`, plus the driver's time of the last message, so a check right after raft's
 *   check-quorum reset does not see every peer idle). etcd asks its peer transport whether the
 *   stream to the peer has been up for its HealthInterval; Cairn's peers speak over the agent's
 *   transport, and raft's view is the one that decides quorum. The member running the check
 *   counts as active. Refusal: `unhealthy`.
 *
 * Pure: the caller passes the member table and the activity test, and runs the check on the
 * leader (only the leader knows whether followers are active).
 */

/** What a check looks at. */
export interface ReconfigView {
  /** The member running the check (the leader). */
  readonly self: number;
  /** The member table: voters and learners. */
  readonly members: readonly Member[];
  /** Whether peer `id` is active (recently heard from); never asked about `self`. */
  readonly isActive: (id: number) => boolean;
}

/** A membership change to check. */
export type ReconfigChange =
  | { readonly kind: 'add'; readonly isLearner: boolean }
  | { readonly kind: 'remove'; readonly id: number }
  | { readonly kind: 'promote'; readonly id: number };

function voters(view: ReconfigView): Member[] {
  return view.members.filter((m) => !m.isLearner);
}

function isStarted(m: Member): boolean {
  return m.name !== '';
}

function active(view: ReconfigView, id: number): boolean {
  return id === view.self || view.isActive(id);
}

/** etcd's RaftCluster.IsReadyToAddVotingMember: a quorum of the grown cluster is started. */
function readyToAddVoter(view: ReconfigView): boolean {
  const vs = voters(view);
  const members = vs.length + 1;
  const started = vs.filter(isStarted).length;
  // Adding a second member to a one-member cluster (restoring a cluster from one member's data).
  if (started === 1 && members === 2) return true;
  return started >= Math.floor(members / 2) + 1;
}

/** etcd's IsReadyToRemoveVotingMember: the others hold a started quorum of themselves. */
function readyToRemoveVoter(view: ReconfigView, id: number): boolean {
  const others = voters(view).filter((m) => m.id !== id);
  const started = others.filter(isStarted).length;
  return started >= Math.floor(others.length / 2) + 1;
}

/** etcd's IsReadyToPromoteMember: the learner counts as a started voter of the grown cluster. */
function readyToPromote(view: ReconfigView): boolean {
  const vs = voters(view);
  const members = vs.length + 1;
  const started = vs.filter(isStarted).length + 1;
  return started >= Math.floor(members / 2) + 1;
}

/**
 * The etcd error that refuses `change`, or undefined when it may go ahead.
 *
 * - add: a voter needs a started quorum of the grown cluster (`memberNotEnoughStarted`); any add
 *   needs every voter active (`unhealthy`), as etcd's isConnectedFullySince.
 * - remove: a learner always may go; a voter needs the others to hold a started quorum
 *   (`memberNotEnoughStarted`); an inactive voter (down, so not part of the active quorum) may
 *   go; otherwise the active voters but the removed one must still be a quorum of the current
 *   voters (`unhealthy`).
 * - promote: the learner plus the started voters must be a quorum of the grown cluster
 *   (`memberNotEnoughStarted`). Whether the learner caught up is the caller's check, first.
 *
 * @example
 * ```ts
 * const err = reconfigRefusal({ self: 1, members, isActive: (id) => heard(id) }, { kind: 'remove', id: 2 });
 * if (err !== undefined) throw new StoreError(err);
 * ```
 */
export function reconfigRefusal(view: ReconfigView, change: ReconfigChange): EtcdErrorName | undefined {
  switch (change.kind) {
    case 'add': {
      if (!change.isLearner && !readyToAddVoter(view)) return 'memberNotEnoughStarted';
      const allActive = voters(view).every((m) => active(view, m.id));
      return allActive ? undefined : 'unhealthy';
    }
    case 'remove': {
      const target = view.members.find((m) => m.id === change.id);
      if (target?.isLearner === true) return undefined;
      if (!readyToRemoveVoter(view, change.id)) return 'memberNotEnoughStarted';
      if (change.id !== view.self && !view.isActive(change.id)) return undefined;
      const vs = voters(view);
      const activeCount = vs.filter((m) => active(view, m.id)).length;
      return activeCount - 1 < 1 + Math.floor((vs.length - 1) / 2) ? 'unhealthy' : undefined;
    }
    case 'promote':
      return readyToPromote(view) ? undefined : 'memberNotEnoughStarted';
  }
}
