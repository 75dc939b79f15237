import type { ConfChange, NodeId } from '../types.js';
import { type CommandArgs, CommandError, toInt } from './args.js';
import type { AddNodesOptions, InteractionEnv } from './env.js';

/**
 * The transcript language: each command parses its arguments and calls the environment. A
 * command that writes nothing prints `ok`, as datadriven tests do.
 *
 * | command | meaning |
 * | --- | --- |
 * | `add-nodes N [voters=(1,2,3)] [learners=(4)] [index=I] [prevote=B] [checkquorum=B] [election=T] [heartbeat=T] [max-size=B] [max-inflight=N]` | N new nodes (next ids); with a configuration they start from a snapshot at I (default 1, term 1) |
 * | `campaign ID` | the node starts an election (pre-vote first when enabled) |
 * | `tick ID N`, `tick-election ID`, `tick-heartbeat ID` | N ticks, an election timeout's worth, a heartbeat's worth |
 * | `propose ID data` | propose a normal entry |
 * | `propose-conf-change ID add=4 \| addLearner=4 \| remove=2` | propose a membership change |
 * | `process-ready ID...` | handle each node's Ready (persist, queue messages, apply, advance) |
 * | `deliver-msgs [ID...] [drop=(ids)]` | deliver the queued messages to each node (all when none), or drop those to `drop` |
 * | `drop [from=ID] [to=ID]` | drop the queued messages matching both |
 * | `stabilize [ID...]` | process-ready and deliver among the nodes until nothing moves |
 * | `partition (1,2) (3)`, `heal` | groups that cannot talk to each other (unlisted nodes alone) / none |
 * | `read-index ID ctx` | request a linearizable read with context `ctx` |
 * | `transfer-leader FROM TO` | ask leader FROM to hand leadership to TO |
 * | `report-unreachable ID PEER`, `report-snapshot ID PEER ok=B` | the driver's feedback |
 * | `restart ID` | crash the node and start it again from what it persisted |
 * | `compact ID [INDEX]` | snapshot the node's machine at INDEX (default: what it applied) and compact its log |
 * | `status ID`, `raft-log ID`, `applied ID`, `raft-state` | inspect |
 * | `log-level none\|info` | silence (or not) the output of the following commands |
 */
export function runCommand(env: InteractionEnv, args: CommandArgs): void {
  // Own keys only: `toString` is not a command.
  const handler = Object.hasOwn(COMMANDS, args.name) ? COMMANDS[args.name] : undefined;
  if (handler === undefined) throw new CommandError(`unknown command "${args.name}"`);
  handler(env, args);
}

type Handler = (env: InteractionEnv, args: CommandArgs) => void;

const COMMANDS: Record<string, Handler> = {
  'add-nodes': addNodes,
  campaign: (env, args) => env.campaign(oneId(args)),
  tick: (env, args) => {
    const [id, count] = ints(args, 2);
    env.tick(id!, count!);
  },
  'tick-election': (env, args) => env.tickElection(oneId(args)),
  'tick-heartbeat': (env, args) => env.tickHeartbeat(oneId(args)),
  propose: (env, args) => {
    const [id, data] = args.positional();
    if (id === undefined || data === undefined) throw new CommandError('usage: propose ID data');
    args.checkAllUsed();
    env.propose(toInt(id, 'ID'), data);
  },
  'propose-conf-change': proposeConfChange,
  'process-ready': (env, args) => {
    for (const id of ids(args)) env.processReady(id);
  },
  'deliver-msgs': deliverMsgs,
  drop: (env, args) => {
    const from = args.int('from');
    const to = args.int('to');
    args.checkAllUsed();
    env.drop(to, from);
  },
  stabilize: (env, args) => env.stabilize(ids(args)),
  partition: (env, args) => {
    const groups = args.positionalLists().map((g) => g.map((v) => toInt(v, 'partition')));
    args.checkAllUsed();
    if (groups.length < 2) throw new CommandError('usage: partition (1,2) (3)');
    env.setPartition(groups);
  },
  heal: (env, args) => {
    args.checkAllUsed();
    env.heal();
  },
  'read-index': (env, args) => {
    const [id, ctx] = args.positional();
    if (id === undefined || ctx === undefined) throw new CommandError('usage: read-index ID ctx');
    args.checkAllUsed();
    env.readIndex(toInt(id, 'ID'), ctx);
  },
  'transfer-leader': (env, args) => {
    const from = args.int('from');
    const to = args.int('to');
    const pos = args.positional().map((v) => toInt(v, 'ID'));
    args.checkAllUsed();
    const f = from ?? pos[0];
    const t = to ?? pos[from === undefined ? 1 : 0];
    if (f === undefined || t === undefined) throw new CommandError('usage: transfer-leader FROM TO');
    env.transferLeader(f, t);
  },
  'report-unreachable': (env, args) => {
    const [id, peer] = ints(args, 2);
    env.reportUnreachable(id!, peer!);
  },
  'report-snapshot': (env, args) => {
    const ok = args.bool('ok') ?? true;
    const [id, peer] = ints(args, 2);
    env.reportSnapshot(id!, peer!, ok);
  },
  compact: (env, args) => {
    const values = args.positional().map((v) => toInt(v, 'compact'));
    args.checkAllUsed();
    const [id, index] = values;
    if (id === undefined || values.length > 2) throw new CommandError('usage: compact ID [INDEX]');
    env.compact(id, index ?? env.appliedIndex(id));
  },
  restart: (env, args) => env.restart(oneId(args)),
  status: (env, args) => env.status(oneId(args)),
  'raft-log': (env, args) => env.raftLog(oneId(args)),
  applied: (env, args) => env.applied(oneId(args)),
  'raft-state': (env, args) => {
    args.checkAllUsed();
    env.raftState();
  },
  'log-level': (env, args) => {
    const [level] = args.positional();
    args.checkAllUsed();
    if (level !== 'none' && level !== 'info') throw new CommandError('usage: log-level none|info');
    env.quiet = level === 'none';
  },
};

function ints(args: CommandArgs, count: number): number[] {
  const values = args.positional().map((v) => toInt(v, args.name));
  args.checkAllUsed();
  if (values.length !== count)
    throw new CommandError(`${args.name}: expected ${count} numbers, got ${values.length}`);
  return values;
}

function oneId(args: CommandArgs): NodeId {
  return ints(args, 1)[0]!;
}

function ids(args: CommandArgs): NodeId[] {
  const values = args.positional().map((v) => toInt(v, args.name));
  args.checkAllUsed();
  return values;
}

function addNodes(env: InteractionEnv, args: CommandArgs): void {
  const [count] = args.positional();
  if (count === undefined) throw new CommandError('usage: add-nodes N [voters=(...)] ...');
  const options: AddNodesOptions = {};
  const voters = args.ints('voters');
  const learners = args.ints('learners');
  const index = args.int('index');
  const preVote = args.bool('prevote');
  const checkQuorum = args.bool('checkquorum');
  const election = args.int('election');
  const heartbeat = args.int('heartbeat');
  const maxSize = args.int('max-size');
  const maxInflight = args.int('max-inflight');
  if (voters !== undefined) options.voters = voters;
  if (learners !== undefined) options.learners = learners;
  if (index !== undefined) options.index = index;
  if (preVote !== undefined) options.preVote = preVote;
  if (checkQuorum !== undefined) options.checkQuorum = checkQuorum;
  if (election !== undefined) options.electionTicks = election;
  if (heartbeat !== undefined) options.heartbeatTicks = heartbeat;
  if (maxSize !== undefined) options.maxSizePerMsg = maxSize;
  if (maxInflight !== undefined) options.maxInflightMsgs = maxInflight;
  args.checkAllUsed();
  env.addNodes(toInt(count, 'N'), options);
}

function proposeConfChange(env: InteractionEnv, args: CommandArgs): void {
  const [id] = args.positional();
  if (id === undefined) throw new CommandError('usage: propose-conf-change ID add=4|addLearner=4|remove=2');
  const kinds = [
    ['add', 'addNode'],
    ['addLearner', 'addLearner'],
    ['remove', 'removeNode'],
  ] as const;
  let cc: ConfChange | undefined;
  for (const [key, type] of kinds) {
    const nodeId = args.int(key);
    if (nodeId === undefined) continue;
    if (cc !== undefined) throw new CommandError('one change per proposal');
    cc = { type, nodeId };
  }
  args.checkAllUsed();
  if (cc === undefined) throw new CommandError('usage: propose-conf-change ID add=4|addLearner=4|remove=2');
  env.proposeConfChange(toInt(id, 'ID'), cc);
}

function deliverMsgs(env: InteractionEnv, args: CommandArgs): void {
  const drop = args.ints('drop');
  const targets = args.positional().map((v) => toInt(v, 'deliver-msgs'));
  args.checkAllUsed();
  if (drop !== undefined) {
    for (const id of drop) env.drop(id, undefined);
    if (targets.length === 0) return;
  }
  const all =
    targets.length > 0 ? targets : [...new Set(env.inFlight().map((m) => m.to))].sort((a, b) => a - b);
  for (const id of all) env.deliver(id);
}
