import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeFrame } from '../../src/transport/net/frame-decoder.js';
import { encodeHello } from '../../src/transport/net/hello.js';
import { find, type Node, startNode, stopAll, waitViews } from './agent-cluster.js';
import { get } from './agent-helpers.js';

/**
 * Attacks on a real agent's gossip port over raw TCP from 127.0.0.0/8, speaking the transport's
 * hello and framing by hand (see src/transport/DESIGN.md), with and without a keyring:
 *
 * (a) 1,030 connections that send a valid hello and then nothing, or a byte a second: the
 *     victim keeps its own dials, the accepted attackers are cut by the first-frame deadline
 *     (shortened to 2 s here), and a new agent seeded by the victim joins. Every hello claims the
 *     address of the victim's peer; the peer stays alive, since nothing trusts a hello.
 * (b) ten connections that announce 16 MiB frames and send them all but the last byte: the
 *     victim's RSS grows by less than the transport's budget for frames in flight plus slack,
 *     and it stays alive in its peer's view.
 */

const DEADLINES = {
  CAIRN_TRANSPORT_FIRST_FRAME_TIMEOUT_MS: '2000',
  CAIRN_TRANSPORT_FRAME_TIMEOUT_MS: '2000',
};
const KEYRING = {
  CAIRN_KEYRING_KEYS: Buffer.alloc(32, 9).toString('base64'),
  CAIRN_KEYRING_LABEL: 'hostile',
};
/** Source addresses of the attack: eight IPs, so the per-IP cap (256) is not what stops it. */
const ATTACK_SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
const MIB = 1024 * 1024;
/**
 * RSS growth allowed under attack (b): the transport's budget for frames in flight (32 MiB, the
 * most this attack can pin) plus 48 MiB for socket buffers, heap growth and collection timing.
 * The old code grew by about 16 MiB per connection (160 MiB for ten).
 */
const RSS_GROWTH_MAX_BYTES = (32 + 48) * MIB;

interface Attacker {
  socket: Socket;
  closed: Promise<void>;
}

function attacker(target: string, from: string, bytes: Uint8Array[]): Attacker {
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
  socket.on('error', () => {});
  socket.on('data', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  for (const b of bytes) socket.write(b);
  return { socket, closed };
}

function header(length: number): Uint8Array {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(length, 0);
  return h;
}

/** `cairn_transport_dropped_total{reason}` of a node, from its /metrics. */
async function dropped(node: Node, reason: string): Promise<number> {
  const text = (await get(`${node.http}/metrics`)).text;
  const match = new RegExp(
    `^cairn_transport_dropped_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`,
    'm',
  ).exec(text);
  assert.ok(match !== null, `no cairn_transport_dropped_total{reason="${reason}"} in /metrics`);
  return Number(match[1]);
}

function rssBytes(node: Node): number {
  const status = readFileSync(`/proc/${node.proc.child.pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status);
  assert.ok(kib !== null, 'VmRSS is in /proc/<pid>/status');
  return Number(kib[1]) * 1024;
}

/** Resolves once every promise settled or `ms` passed; returns how many settled. */
async function settledWithin(promises: Promise<void>[], ms: number): Promise<number> {
  let settled = 0;
  const counted = promises.map((p) => p.then(() => settled++));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(counted),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

/** Starts the victim and a peer seeded by it (both pushed to `nodes`), and waits until they joined. */
async function victimAndPeer(
  dir: string,
  prefix: string,
  env: Record<string, string>,
  nodes: Node[],
): Promise<[Node, Node]> {
  const victim = await startNode(dir, `${prefix}-v`, [], env);
  nodes.push(victim);
  const peer = await startNode(dir, `${prefix}-p`, [victim], env);
  nodes.push(peer);
  await waitViews('victim and peer joined', nodes, alive(nodes));
  return [victim, peer];
}

const alive = (nodes: readonly Node[]) => (list: Parameters<typeof find>[0]) =>
  nodes.every((n) => find(list, n)?.state === 'alive');

describe('hostile peers against an agent', { timeout: 240_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-hostile-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const sealed of [false, true]) {
    const env = sealed ? { ...DEADLINES, ...KEYRING } : DEADLINES;
    const label = sealed ? 'keyring' : 'no keyring';

    it(`${label}: 1,030 silent or trickling connections do not keep a new agent out`, async () => {
      const nodes: Node[] = [];
      const attackers: Attacker[] = [];
      let trickle: NodeJS.Timeout | undefined;
      try {
        const [victim, peer] = await victimAndPeer(dir, `slots-${sealed}`, env, nodes);

        // Every hello claims to come from the peer: nothing may trust that claim (the peer stays alive).
        const hello = encodeFrame(encodeHello(peer.gossip));
        for (let i = 0; i < 1030; i++) {
          attackers.push(attacker(victim.gossip, ATTACK_SOURCES[i % ATTACK_SOURCES.length]!, [hello]));
        }
        // Half of them trickle a frame one byte a second (bounded: the test ends first).
        let tick = 0;
        trickle = setInterval(() => {
          const byte = tick++ === 0 ? header(100) : Uint8Array.of(tick);
          for (let i = 0; i < attackers.length; i += 2)
            if (!attackers[i]!.socket.destroyed) attackers[i]!.socket.write(byte);
        }, 1000);

        const newcomer = await startNode(dir, `slots-n-${sealed}`, [victim], env);
        nodes.push(newcomer);
        await waitViews('the newcomer joined through the victim', nodes, alive(nodes));

        const closed = await settledWithin(
          attackers.map((a) => a.closed),
          30_000,
        );
        assert.equal(closed, attackers.length, 'the victim closed every attacking connection');
        assert.ok((await dropped(victim, 'max_streams')) > 0, 'the attack filled the inbound share');
        assert.ok((await dropped(victim, 'first_frame_timeout')) > 0, 'the deadline cut the accepted ones');
        assert.equal(await dropped(victim, 'dial_limit'), 0, "the victim's own dials were never refused");
      } finally {
        clearInterval(trickle);
        for (const a of attackers) a.socket.destroy();
        await stopAll(nodes);
      }
    });

    it(`${label}: ten connections announcing 16 MiB frames stay within the frame budget`, async () => {
      const nodes: Node[] = [];
      const attackers: Attacker[] = [];
      try {
        const [victim, peer] = await victimAndPeer(dir, `mem-${sealed}`, env, nodes);
        const before = rssBytes(victim);

        // Without a keyring the membership channel's byte proves a stream; with one, nothing can.
        const hello = encodeFrame(encodeHello('127.0.0.1:9'));
        const opening = sealed ? [hello] : [hello, encodeFrame(Uint8Array.of(1))];
        const body = Buffer.alloc(16 * MIB - 1, 0x5a);
        const written: Promise<void>[] = [];
        for (let i = 0; i < 10; i++) {
          const a = attacker(victim.gossip, ATTACK_SOURCES[i % ATTACK_SOURCES.length]!, [
            ...opening,
            header(16 * MIB),
          ]);
          attackers.push(a);
          written.push(
            Promise.race([new Promise<void>((resolve) => a.socket.write(body, () => resolve())), a.closed]),
          );
        }
        await settledWithin(written, 30_000);
        let peak = 0;
        for (let i = 0; i < 10; i++) {
          peak = Math.max(peak, rssBytes(victim));
          await new Promise((r) => setTimeout(r, 100));
        }
        const growth = peak - before;
        process.stdout.write(
          `# ${label}: victim RSS ${(before / MIB) | 0} MiB before, peak ${(peak / MIB) | 0} MiB\n`,
        );
        assert.ok(
          growth <= RSS_GROWTH_MAX_BYTES,
          `RSS grew by ${(growth / MIB).toFixed(1)} MiB, over ${RSS_GROWTH_MAX_BYTES / MIB} MiB`,
        );
        await settledWithin(
          attackers.map((a) => a.closed),
          30_000,
        );
        await waitViews(
          'the victim is still alive to its peer',
          [peer],
          (list) => find(list, victim)?.state === 'alive',
        );
      } finally {
        for (const a of attackers) a.socket.destroy();
        await stopAll(nodes);
      }
    });
  }
});
