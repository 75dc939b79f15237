import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../../src/core/index.js';
import { encodeStateMessage, makeKvRecord, ScuttlebuttState } from '../../src/membership/state/index.js';
import { makeAliveRecord, memberKey } from '../../src/membership/swim/index.js';
import { SYNC_BUDGET_LIMITS } from '../../src/membership/sync/budget.js';
import { SYNC_FRAME_BYTES, SYNC_MAX_WANT } from '../../src/membership/sync/session.js';
import { type SummarizedMember, writeSummary } from '../../src/membership/sync/summary.js';
import {
  CHANNEL_STATE,
  CHANNEL_SYNC,
  encodeSyncFrame,
  type SyncFrame,
  syncFrameDecoder,
} from '../../src/membership/wire.js';
import { MEMBERSHIP_CHANNEL } from '../../src/node/membership-role.js';
import { NodeIdentity, type SignedRecord } from '../../src/security/index.js';
import { TransportMux } from '../../src/transport/mux.js';
import { NetTransport } from '../../src/transport/net/net-transport.js';
import type { Stream, Transport } from '../../src/transport/types.js';
import { find, members, type Node, POLL_MS, startNode, stopAll, waitViews } from './agent-cluster.js';
import { get } from './agent-helpers.js';

/**
 * A hostile peer against a real `cairn agent` (the victim), speaking membership's wire format from
 * this process over the project's own transport and mux:
 * (a) push frames of 16,384 forged alive records, many pushes on one stream, and a done of forged
 *     records the victim was made to ask for by a summary of 16,384 members: every stream is closed,
 *     the done's records cost at most the victim's verification budget, and the victim stays alive
 *     in the other nodes' views;
 * (b) minted identities sending Scuttlebutt state: the victim keeps none of it;
 * (c) the victim's RSS stays bounded.
 * The event-loop stall the attack caused on the victim is printed as a diagnostic (a figure, not a
 * pass/fail threshold). Every wait is bounded.
 */

const FORGED = 16_384;

/** The victim's metrics: `name{labels} value` lines as a map. */
async function metrics(node: Node): Promise<Map<string, number>> {
  const res = await get(`${node.http}/metrics`);
  assert.equal(res.status, 200);
  const out = new Map<string, number>();
  for (const line of res.text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The value of metric `name` (with label `label`, e.g. `counter="x"`, when given); NaN when absent. */
function value(m: Map<string, number>, name: string, label?: string): number {
  for (const [key, v] of m) {
    const bare = key === name || key.startsWith(`${name}{`);
    if (bare && (label === undefined || key.includes(label))) return v;
  }
  return Number.NaN;
}

function stat(m: Map<string, number>, counter: string): number {
  return value(m, 'cairn_membership_stat', `counter="${counter}"`);
}

/** Polls `check` every POLL_MS until it holds; fails after `attempts` polls. */
async function until(what: string, check: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  assert.fail(`${what}: not reached after ${attempts} polls`);
}

/** Dials the victim's sync channel, sends `frames`, and resolves once the victim closed the stream. */
async function exchange(
  sync: Transport,
  victim: Node,
  frames: SyncFrame[],
  onFrame?: (stream: Stream, bytes: Uint8Array) => void,
) {
  const stream = await sync.dial(victim.gossip, { timeoutMs: 5_000 });
  const closed = new Promise<void>((resolve) => stream.onClose(() => resolve()));
  if (onFrame !== undefined) stream.onFrame((bytes) => onFrame(stream, bytes));
  for (const frame of frames) if (stream.open) stream.send(encodeSyncFrame(frame));
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref());
  assert.notEqual(await Promise.race([closed, timeout]), 'timeout', 'the victim closed the stream');
}

describe('a hostile peer on the push-pull channel of an agent', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-hostile-sync-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('closes out-of-phase streams, bounds verifications and state, and the victim stays alive', async (t) => {
    const nodes: Node[] = [];
    let attacker: NetTransport | undefined;
    let watch: ReturnType<typeof watchVictim> | undefined;
    try {
      nodes.push(await startNode(dir, 'h0', []));
      nodes.push(...(await Promise.all(['h1', 'victim'].map((name) => startNode(dir, name, [nodes[0]!])))));
      const victim = nodes[2]!;
      const others = nodes.slice(0, 2);
      await waitViews('every node lists all 3 alive', nodes, (list) =>
        nodes.every((n) => find(list, n)?.state === 'alive'),
      );

      // Mallory: her own identity and address, and 16,384 minted identities.
      attacker = await NetTransport.create({ host: '127.0.0.1', port: 0 });
      const channel = new TransportMux(attacker).channel(MEMBERSHIP_CHANNEL);
      const inner = new TransportMux(channel);
      const sync = inner.channel(CHANNEL_SYNC);
      const state = inner.channel(CHANNEL_STATE);
      const rng = Rng.fromSeed('hostile-membership-sync');
      const mallory = NodeIdentity.fromSeed(rng.bytes(32));
      const minted = Array.from({ length: FORGED }, () => NodeIdentity.fromSeed(rng.bytes(32)));
      const aliveOf = (id: NodeIdentity) =>
        makeAliveRecord(id, { generation: 1, incarnation: 0, address: sync.localAddress, name: 'm' });
      const own = aliveOf(mallory);
      // Records "by" each minted node: a valid alive payload with a signature of random bytes.
      const forged: SignedRecord[] = minted.map((id) => ({
        ...own,
        node: id.nodeId,
        signature: rng.bytes(64),
      }));
      const syn = encodeStateMessage(
        new ScuttlebuttState({ identity: mallory, generation: 1, initialHeartbeat: false }).createSyn(),
      );
      const empty = new Uint8Array(0);

      const before = await metrics(victim);
      const rssBefore = value(before, 'process_resident_memory_bytes');
      watch = watchVictim(others, victim);
      const lagMs = async () =>
        Math.round(value(await metrics(victim), 'nodejs_eventloop_lag_max_seconds') * 1000);

      // (a) One push of 16,384 forged records, four times; then a stream of many pushes.
      for (let i = 0; i < 4; i++)
        await exchange(sync, victim, [{ t: 'push', have: empty, alive: forged, state: syn }]);
      t.diagnostic(`oversized pushes closed; victim's event-loop lag max ${await lagMs()} ms`);
      const push: SyncFrame = { t: 'push', have: empty, alive: [own], state: syn };
      await exchange(
        sync,
        victim,
        Array.from({ length: 64 }, () => push),
      );
      t.diagnostic(`many pushes closed; lag max ${await lagMs()} ms`);
      // A summary of 16,384 members the victim lacks: it asks for as many as its budget checks at
      // once, and gets forged records.
      const fake: SummarizedMember[] = minted.map((id) => ({
        id: id.nodeId,
        key: memberKey(id.nodeId),
        generation: 1,
        incarnation: 0,
        status: 'alive',
        aliveRecord: own,
      }));
      const have = new Uint8Array(writeSummary((visit) => fake.forEach(visit), FORGED).bytes);
      let wanted = -1;
      await exchange(sync, victim, [{ t: 'push', have, alive: [own], state: syn }], (stream, bytes) => {
        const want = pullWants(bytes);
        wanted = want.length;
        stream.send(encodeSyncFrame({ t: 'done', alive: want.map((j) => forged[j]!) }));
      });
      assert.equal(wanted, SYNC_MAX_WANT, 'the victim asked for what its budget can check');
      t.diagnostic(`forged done sent and closed; lag max ${await lagMs()} ms`);

      const afterSync = await metrics(victim);
      const errors = stat(afterSync, 'syncProtocolErrors') - stat(before, 'syncProtocolErrors');
      const refused = stat(afterSync, 'syncOverBudget') - stat(before, 'syncOverBudget');
      const checked = stat(afterSync, 'rejectedRecords') - stat(before, 'rejectedRecords');
      assert.equal(errors, 5, 'four oversized pushes and one stream of many pushes were closed');
      assert.equal(checked + refused, wanted, 'every forged record of the done was checked or refused');
      assert.ok(checked <= SYNC_BUDGET_LIMITS.perPeerBurst, `${checked} forged records were verified`);
      t.diagnostic(`victim: ${checked} forged records verified, ${refused} refused`);

      // The victim stays alive in every other view for several probe intervals (500 ms) after.
      await watch.settle(12);
      t.diagnostic(`views: ${JSON.stringify(watch.notAlive)}`);
      assert.deepEqual(watch.notAlive, [], 'the victim was listed as not alive');

      // (b) 1,000 minted identities send Scuttlebutt state over anti-entropy packets.
      const SENT = 1000;
      for (let i = 0; i < SENT; i++) {
        const id = minted[i]!;
        const r = makeKvRecord(id, { generation: 1, version: 1, key: 'role', value: 'x'.repeat(200) });
        const ack = encodeStateMessage({
          type: 'Ack',
          delta: [
            {
              node: id.nodeId,
              generation: 1,
              fromVersion: 0,
              maxVersion: 1,
              gcVersion: 0,
              heartbeat: undefined,
              records: [{ version: r.version, payload: r.payload, signature: r.signature }],
            },
          ],
        });
        state.sendPacket(victim.gossip, ack);
        // Paced, so that loopback's socket buffer is not the thing under test.
        if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
      let last = new Map<string, number>();
      const unvouched = () => value(last, 'cairn_membership_records_rejected_total', 'reason="unvouched"');
      const stateNodes = () => value(last, 'cairn_membership_state_nodes');
      await until('the victim handled the minted state', async () => {
        last = await metrics(victim);
        const handled = (unvouched() || 0) + stateNodes() - 1;
        return handled >= SENT * 0.8;
      });
      t.diagnostic(`victim: ${unvouched()} minted records refused, ${stateNodes()} state nodes kept`);
      const listed = (await members(victim)).members.length;
      assert.ok(stateNodes() <= listed, `${stateNodes()} nodes' state kept, ${listed} members`);

      // (c) RSS bounded: the attack cost the victim a bounded amount of memory.
      const rssAfter = value(last, 'process_resident_memory_bytes');
      t.diagnostic(`victim RSS ${Math.round(rssBefore / 2 ** 20)} -> ${Math.round(rssAfter / 2 ** 20)} MB`);
      assert.ok(rssAfter - rssBefore < 256 * 2 ** 20, `RSS grew by ${rssAfter - rssBefore} bytes`);
      await waitViews('the victim alive everywhere', others, (list) => find(list, victim)?.state === 'alive');
    } finally {
      watch?.stop();
      await attacker?.close();
      await stopAll(nodes);
    }
  });
});

const decodeFrame = syncFrameDecoder(SYNC_FRAME_BYTES);

/** The `want` of a pull frame (decoded with the project's own frame decoder). */
function pullWants(bytes: Uint8Array): number[] {
  const frame = decodeFrame(bytes);
  assert.ok(frame !== undefined && frame.t === 'pull', 'the victim answered with a pull');
  return frame.want;
}

/**
 * Polls the other nodes' views of the victim in the background from now on: `notAlive` collects
 * every view that listed it otherwise; `settle(n)` waits `n` more polls and stops.
 */
function watchVictim(others: readonly Node[], victim: Node) {
  const notAlive: string[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      for (const node of others) {
        try {
          const state = find(await members(node), victim)?.state;
          if (state !== 'alive' && state !== 'suspect') notAlive.push(`${node.name}: ${state}`);
        } catch (err) {
          if (!stop) notAlive.push(`${node.name}: ${String(err)}`);
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  return {
    notAlive,
    async settle(polls: number) {
      for (let i = 0; i < polls; i++) await new Promise((r) => setTimeout(r, POLL_MS));
      stop = true;
      await loop;
    },
    stop() {
      stop = true;
    },
  };
}
