import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CairnError, encode } from '../../src/core/index.js';
import { encodeStateMessage } from '../../src/membership/state/index.js';
import {
  encodeCompound,
  encodeSwimMessage,
  makeAliveRecord,
  makeDeadRecord,
} from '../../src/membership/swim/index.js';
import { CHANNEL_STATE, CHANNEL_SWIM, encodePiggyback } from '../../src/membership/wire.js';
import { ed25519Scheme, Keyring, type SignedRecord, signRecord } from '../../src/security/index.js';
import { TransportMux } from '../../src/transport/mux.js';
import { sealTransport } from '../../src/transport/sealed.js';
import type { Transport } from '../../src/transport/types.js';
import { forEachSeed, MembershipCluster, sweepSeeds } from './membership-harness.js';

/**
 * Forged records (Ed25519) and nodes with the wrong cluster key or label. A failure prints
 * `seed=<s>` and:
 *   CAIRN_SEED=<s> node --import tsx --test --test-name-pattern="<test>" test/sim/membership-security.test.ts
 */

const FILE = 'test/sim/membership-security.test.ts';
const SEEDS = sweepSeeds(1, 5);

describe('membership security', () => {
  it('forged alive, dead and key/value records are rejected and counted by every honest node', async () => {
    await forEachSeed(FILE, 'forged records', SEEDS, async (seed) => {
      const SIZE = 8;
      const c = await MembershipCluster.create({ seed, size: SIZE, scheme: ed25519Scheme });
      await c.joinAll({ maxMs: 30_000 });
      const victim = c.node('n1');
      const honest = c.upNames();
      victim.local.set('role', 'db');
      await c.waitFor(
        'role everywhere',
        () => honest.every((n) => c.node(n).lookup(victim.id, 'role') === 'db'),
        5_000,
      );
      const before = new Map(honest.map((n) => [n, c.node(n).member(victim.id)!]));
      const rejectedBefore = new Map(honest.map((n) => [n, c.node(n).stats.rejectedRecords]));

      // Mallory: a node of its own (identity SIZE), speaking the wire format directly.
      const mallory = c.identities[SIZE]!;
      const victimIdentity = c.identities[1]!;
      let swim: Transport | undefined;
      let state: Transport | undefined;
      c.sim.addNode('mallory', (ctx) => {
        const mux = new TransportMux(ctx.transport());
        swim = mux.channel(CHANNEL_SWIM);
        state = mux.channel(CHANNEL_STATE);
        return {};
      });
      await c.sim.runFor(1);
      const malloryAddress = c.sim.addressOf('mallory');
      const gen = victim.generation;
      const inc = before.get('n0')!.incarnation;
      const asVictim = (r: SignedRecord): SignedRecord => ({ ...r, node: victim.id });
      // 1. An alive record "by the victim" at a higher incarnation, pointing at Mallory, signed by Mallory.
      const aliveWrongSigner = asVictim(
        makeAliveRecord(
          mallory,
          { generation: gen, incarnation: inc + 5, address: malloryAddress, name: 'n1' },
          ed25519Scheme,
        ),
      );
      // 2. The victim's genuine signature over one alive record, with the payload of another.
      const genuine = makeAliveRecord(
        victimIdentity,
        { generation: gen, incarnation: inc + 6, address: before.get('n0')!.address, name: 'n1' },
        ed25519Scheme,
      );
      const altered = makeAliveRecord(
        mallory,
        { generation: gen, incarnation: inc + 6, address: malloryAddress, name: 'n1' },
        ed25519Scheme,
      );
      const aliveAltered: SignedRecord = { ...genuine, payload: altered.payload };
      // 3. A dead accusation "by n2" about the victim, signed by Mallory.
      const deadWrongSigner: SignedRecord = {
        ...makeDeadRecord(
          mallory,
          { target: victim.id, generation: gen, incarnation: inc + 6 },
          ed25519Scheme,
        ),
        node: c.node('n2').id,
      };
      // 4. A key/value write "by the victim", signed by Mallory, pushed like an eager update.
      const kvPayload = encode({ type: 'kv', generation: gen, key: 'role', value: 'pwned' });
      const kvForged = asVictim(signRecord(mallory, 1_000, kvPayload, ed25519Scheme));
      const packet = encodeCompound([
        encodeSwimMessage({ type: 'Alive', record: aliveWrongSigner }),
        encodeSwimMessage({ type: 'Alive', record: aliveAltered }),
        encodeSwimMessage({ type: 'Dead', record: deadWrongSigner }),
        encodeSwimMessage({ type: 'User', data: encodePiggyback({ k: 'kv', r: kvForged }) }),
      ]);
      // 5. The same write in a Scuttlebutt Ack, as if relayed by anti-entropy.
      const ack = encodeStateMessage({
        type: 'Ack',
        delta: [
          {
            node: victim.id,
            generation: gen,
            fromVersion: 0,
            maxVersion: 1_000,
            gcVersion: 0,
            heartbeat: undefined,
            records: [{ version: 1_000, payload: kvPayload, signature: kvForged.signature }],
          },
        ],
      });
      for (const n of honest) {
        swim!.sendPacket(c.sim.addressOf(n), packet);
        state!.sendPacket(c.sim.addressOf(n), ack);
      }
      await c.sim.runFor(3_000);

      for (const n of honest) {
        const m = c.node(n);
        const rejected = m.stats.rejectedRecords - rejectedBefore.get(n)!;
        // The victim ignores key/value records about itself unverified (counted as `ownIgnored` by
        // the state core, never applied), so it counts the three SWIM forgeries only.
        const expected = n === 'n1' ? 3 : 5;
        assert.ok(rejected >= expected, `${n} counted ${rejected} rejections of ${expected} forged records`);
        assert.equal(m.lookup(victim.id, 'role'), 'db', `${n} took the forged write`);
        const now = m.member(victim.id)!;
        const was = before.get(n)!;
        assert.equal(now.state, 'alive', `${n} lists the victim ${now.state}`);
        assert.equal(now.address, was.address, `${n} moved the victim to ${now.address}`);
        assert.equal(now.incarnation, was.incarnation, `${n} took a forged incarnation`);
        assert.equal(m.member(mallory.nodeId), undefined, `${n} lists Mallory`);
      }
      assert.equal(c.suspectEvents + c.deadEvents, 0, 'the forgeries caused no suspicion or death');
      c.assertSafe();
    });
  });

  it('a node with another key or another label cannot join a sealed cluster', async () => {
    await forEachSeed(FILE, 'wrong key', SEEDS, async (seed) => {
      const SIZE = 5;
      const key = new Uint8Array(32).fill(7);
      const otherKey = new Uint8Array(32).fill(9);
      const ringFor = (identity: number) =>
        identity === SIZE
          ? { keys: [otherKey], label: 'prod' }
          : identity === SIZE + 1
            ? { keys: [key], label: 'staging' }
            : { keys: [key], label: 'prod' };
      const drops = { packet: 0, frame: 0 };
      const c = await MembershipCluster.create({
        seed,
        size: SIZE,
        transport: (ctx, identity) => {
          const rng = ctx.rng.child('seal');
          return sealTransport(
            ctx.transport(),
            new Keyring({ ...ringFor(identity), nonce: (n) => rng.bytes(n) }),
            {
              onDrop: (channel) => {
                drops[channel]++;
              },
            },
          );
        },
      });
      await c.joinAll({ maxMs: 30_000 });
      const members = c.upNames();
      const intruders = [c.addNode(SIZE), c.addNode(SIZE + 1)];
      await c.sim.runFor(1);
      const outcomes = new Map<string, unknown>();
      for (const name of intruders) {
        c.node(name)
          .join([c.sim.addressOf('n0'), c.sim.addressOf('n3')])
          .then(
            (n) => outcomes.set(name, n),
            (err: unknown) => outcomes.set(name, err),
          );
      }
      await c.waitFor('both joins settle', () => outcomes.size === 2, 10_000);
      for (const name of intruders) {
        const err = outcomes.get(name);
        assert.ok(
          err instanceof CairnError && err.code === 'MEMBERSHIP_NOT_JOINED',
          `${name}: ${String(err)}`,
        );
      }
      await c.sim.runFor(3_000);
      for (const n of members) {
        assert.equal(c.node(n).members().length, SIZE, `${n} lists an intruder`);
      }
      for (const name of intruders) {
        assert.equal(c.node(name).members().length, 1, `${name} lists a member`);
      }
      assert.ok(drops.frame + drops.packet > 0, 'the sealed transports refused the intruders');
      c.assertMembersAlive(members, members);
      c.assertSafe();
      c.assertNoFalseDeaths();
    });
  });
});
