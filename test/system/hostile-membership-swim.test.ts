import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encode } from '../../src/core/index.js';
import {
  decodeCompound,
  decodeSwimMessage,
  encodeCompound,
  encodeSwimMessage,
  makeAliveRecord,
  makeDeadRecord,
  type SwimMessage,
} from '../../src/membership/swim/index.js';
import { CHANNEL_SWIM, CHANNEL_USER, encodeDirectPayload } from '../../src/membership/wire.js';
import { MEMBERSHIP_CHANNEL } from '../../src/node/membership-role.js';
import { NodeIdentity, signRecord } from '../../src/security/index.js';
import { find, members, type Node, startNode, stopAll, waitViews } from './agent-cluster.js';
import { get } from './agent-helpers.js';

/**
 * Hostile SWIM input against real `cairn agent` processes on 127.0.0.1. The test process speaks
 * the gossip port itself, with the project's own encoders and Ed25519 identities that never
 * joined: packets are `[agent mux channel, membership channel, payload]` datagrams.
 *
 * (a) 5,000 PingReqs whose targetAddress is not host:port, each followed in its packet by a Ping:
 *     nothing is logged as an error and every Ping that arrives is acked; the victim stays alive.
 * (b) dead accusations of a live member signed by a key that never joined: no `dead` anywhere.
 * (c) an alive record named with escape sequences and a newline: no such member is listed.
 * (d) a direct message delivered five times: the application gets it once.
 * (e) a node restarted with its clock an hour behind: seen alive again, at a newer generation.
 *
 * Synchronisation: a packet's effects are checked after a Ping sent behind it is acked (a node
 * handles its packets in order); log lines are counted once the processes exited. Every wait is
 * bounded.
 */

const HOUR_MS = 3_600_000;
/** Bad PingReqs of (a): the count that wrote 3,094 error lines before decoding checked addresses. */
const FLOOD_PACKETS = 5_000;
/** Dead accusations of (b): 15 made the victim flap 10 times before accusers had to be members. */
const ACCUSATIONS = 15;

/** Pino's level of a JSON log line, or 0. */
function levelOf(line: string): number {
  const m = /"level":(\d+)/.exec(line);
  return m === null ? 0 : Number(m[1]);
}

/** A UDP endpoint of the test process that speaks SWIM to the agents. */
class Speaker {
  readonly identity = NodeIdentity.fromSeed(new Uint8Array(32).fill(77));
  private seq = 1_000_000;
  private readonly acked = new Set<number>();
  /** Barrier waiting for the Ack of its sequence number. */
  private readonly waiting = new Map<number, () => void>();

  private constructor(private readonly socket: Socket) {
    socket.on('message', (data) => this.onReply(new Uint8Array(data)));
  }

  static async open(): Promise<Speaker> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new Speaker(socket);
  }

  close(): void {
    this.socket.close();
  }

  /** How many of `seqs` were acked so far. */
  ackedOf(seqs: readonly number[]): number {
    return seqs.filter((s) => this.acked.has(s)).length;
  }

  nextSeq(): number {
    return this.seq++;
  }

  /** Sends one datagram on membership channel `channel` of `node`'s gossip port. */
  async send(node: Node, channel: number, payload: Uint8Array): Promise<void> {
    const [host, port] = node.gossip.split(':') as [string, string];
    const datagram = new Uint8Array(payload.length + 2);
    datagram[0] = MEMBERSHIP_CHANNEL;
    datagram[1] = channel;
    datagram.set(payload, 2);
    await new Promise<void>((resolve, reject) =>
      this.socket.send(datagram, Number(port), host, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Sends a compound packet of `messages` to `node`. */
  sendSwim(node: Node, messages: readonly SwimMessage[]): Promise<void> {
    // Copies: an encoding is a view into the codec's buffer, which the next encoding reuses.
    const parts = messages.map((m) => new Uint8Array(encodeSwimMessage(m)));
    return this.send(node, CHANNEL_SWIM, encodeCompound(parts));
  }

  ping(node: Node, seq: number): SwimMessage {
    return { type: 'Ping', seq, target: node.nodeId, from: this.identity.nodeId };
  }

  /**
   * Resolves once `node` acked a Ping sent now: it has handled every packet sent to it before.
   * Re-sent every 200 ms (UDP may drop one), at most 50 times.
   */
  async barrier(node: Node): Promise<void> {
    const seq = this.nextSeq();
    for (let i = 0; i < 50 && !this.acked.has(seq); i++) {
      await this.sendSwim(node, [this.ping(node, seq)]);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 200);
        const waiting = this.waiting;
        function done() {
          clearTimeout(timer);
          waiting.delete(seq);
          resolve();
        }
        waiting.set(seq, done);
      });
    }
    assert.ok(this.acked.has(seq), `${node.name} acked no ping within 50 tries`);
  }

  private onReply(data: Uint8Array): void {
    if (data[0] !== MEMBERSHIP_CHANNEL || data[1] !== CHANNEL_SWIM) return;
    const parts = decodeCompound(data.subarray(2));
    if (!parts.ok) return;
    for (const part of parts.value) {
      const m = decodeSwimMessage(part);
      if (m.ok && m.value.type === 'Ack') {
        this.acked.add(m.value.seq);
        this.waiting.get(m.value.seq)?.();
      }
    }
  }
}

/** A counter of `cairn_membership_stat` in `node`'s /metrics. */
async function stat(node: Node, counter: string): Promise<number> {
  const res = await get(`${node.http}/metrics`);
  const m = new RegExp(`^cairn_membership_stat\\{[^}]*counter="${counter}"[^}]*\\} (\\d+)$`, 'm').exec(
    res.text,
  );
  assert.ok(
    m !== null,
    `${node.name}: no ${counter} in /metrics: ${res.text
      .split('\n')
      .filter((l) => l.includes('membership_stat'))
      .slice(0, 4)
      .join(' | ')}`,
  );
  return Number(m[1]);
}

describe('hostile SWIM input against agent processes', () => {
  let dir: string;
  let speaker: Speaker;
  const nodes: Node[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-hostile-swim-'));
    speaker = await Speaker.open();
  });
  after(async () => {
    speaker.close();
    await stopAll(nodes);
    await rm(dir, { recursive: true, force: true });
  });

  it('survives bad addresses, outsiders, forged names, replays and a clock stepped back', async (t) => {
    nodes.push(await startNode(dir, 'h0', []));
    nodes.push(...(await Promise.all(['h1', 'h2'].map((name) => startNode(dir, name, [nodes[0]!])))));
    const [a, victim, c] = nodes as [Node, Node, Node];
    await waitViews('every node lists all 3 alive', nodes, (list) =>
      nodes.every((n) => find(list, n)?.state === 'alive'),
    );

    // (a) Bad targetAddress, then a Ping in the same packet.
    const flood: number[] = [];
    for (let i = 0; i < FLOOD_PACKETS; i++) {
      const seq = speaker.nextSeq();
      flood.push(seq);
      const bad: SwimMessage = {
        type: 'PingReq',
        seq,
        target: a.nodeId,
        targetAddress: `x${i}`,
        from: speaker.identity.nodeId,
      };
      await speaker.sendSwim(victim, [bad, speaker.ping(victim, seq)]);
      // Let the receiver drain now and then: the flood is bounded in count, not a socket-buffer test.
      if (i % 200 === 199) await speaker.barrier(victim);
    }
    await speaker.barrier(victim);
    const acks = speaker.ackedOf(flood);
    t.diagnostic(`(a) ${acks} of ${FLOOD_PACKETS} pings behind a bad PingReq acked`);
    assert.ok(acks > FLOOD_PACKETS / 2, `only ${acks} of ${FLOOD_PACKETS} pings were acked`);

    // (b) Dead accusations of the victim signed by a key that never joined, to both other nodes.
    const seen = find(await members(a), victim)!;
    const stranger = NodeIdentity.fromSeed(new Uint8Array(32).fill(78));
    const dead = makeDeadRecord(stranger, {
      target: victim.nodeId,
      generation: seen.generation,
      incarnation: seen.incarnation,
    });
    for (let i = 0; i < ACCUSATIONS; i++) {
      for (const n of [a, c]) await speaker.sendSwim(n, [{ type: 'Dead', record: dead }]);
    }
    for (const n of [a, c]) await speaker.barrier(n);
    for (const n of [a, c]) {
      const m = find(await members(n), victim);
      assert.equal(m?.state, 'alive', `${n.name} lists ${victim.name} as ${m?.state}`);
    }

    // (c) A member named with escape sequences and a newline, and one with a valid name.
    const forger = NodeIdentity.fromSeed(new Uint8Array(32).fill(79));
    const named = (identity: NodeIdentity, name: string) =>
      makeAliveRecord(identity, { generation: 1, incarnation: 0, address: '127.0.0.1:9', name });
    const honest = NodeIdentity.fromSeed(new Uint8Array(32).fill(80));
    await speaker.sendSwim(a, [
      { type: 'Alive', record: named(forger, 'evil\u001b[2J\u001b[H\nh9 alive 127.0.0.1:1') },
      { type: 'Alive', record: named(honest, 'plain-name') },
    ]);
    await speaker.barrier(a);
    const listed = (await members(a)).members.map((m) => m.id);
    assert.ok(!listed.includes(forger.nodeId), 'the member with a forged name is listed');
    assert.ok(listed.includes(honest.nodeId), 'the same packet with a valid name was not taken');

    // (d) One direct message, delivered five times.
    const delivered = await stat(victim, 'userMessages');
    const payload = encodeDirectPayload({
      kind: 'direct',
      to: victim.nodeId,
      generation: 1,
      data: Uint8Array.of(1, 2, 3),
    });
    const direct = encode(signRecord(speaker.identity, 1, payload));
    for (let i = 0; i < 5; i++) await speaker.send(victim, CHANNEL_USER, direct);
    await speaker.barrier(victim);
    assert.equal((await stat(victim, 'userMessages')) - delivered, 1, 'a replayed message was delivered');
    assert.equal(await stat(victim, 'directRefused'), 4);

    // (e) c restarts with its clock an hour behind: the others see it alive at a newer generation.
    const old = find(await members(a), c)!.generation;
    c.proc.child.kill('SIGKILL');
    await c.proc.exit(10_000);
    const restarted = await startNode(dir, 'h2', [a], { CAIRN_TEST_CLOCK_OFFSET_MS: String(-HOUR_MS) });
    nodes[2] = restarted;
    await waitViews(
      `${a.name} and ${victim.name} list the restarted ${c.name} alive at a generation above ${old}`,
      [a, victim],
      (list) => {
        const m = find(list, restarted);
        return m?.state === 'alive' && m.generation > old && m.address === restarted.gossip;
      },
    );

    // Every log line written: no errors from the flood, no death of the victim anywhere.
    await stopAll(nodes);
    const lines = (n: Node) => [...n.proc.stdoutLines, ...n.proc.stderr().split('\n')];
    const errors = lines(victim).filter((l) => levelOf(l) >= 50);
    assert.deepEqual(errors.slice(0, 3), [], `${errors.length} error lines on ${victim.name}`);
    for (const n of [a, c, restarted]) {
      const deaths = lines(n).filter((l) => l.includes('"member is dead"') && l.includes(victim.nodeId));
      assert.deepEqual(deaths, [], `${n.name} logged ${victim.name} dead`);
    }
  });
});
