import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../core/index.js';
import { NodeIdentity, simulatedScheme } from '../../security/index.js';
import { DEFAULT_SWIM_CONFIG, lanSwimConfig, type SwimConfig } from './config.js';
import { SwimCore } from './core.js';
import { aliveOf } from './harness.test-helper.js';
import { suspicionTimeoutMinMs } from './math.js';
import {
  createSwimSigner,
  decodeSwimMessage,
  makeSuspectRecord,
  type VerifiedBroadcast,
} from './messages.js';

/*
 * The suspicion rule of the presets, on one core fed signed accusations: when a suspicion of a
 * member times out, after how many independent confirmations. Probing is off, so only the
 * accusations fed here move the timer.
 */

const ids = Array.from({ length: 12 }, (_, i) => NodeIdentity.fromSeed(new Uint8Array(32).fill(i + 40)));

/** Core 0 of a table of `n` members that all know each other, with `config`. */
function observer(n: number, config: SwimConfig): SwimCore {
  const cores = ids.slice(0, n).map(
    (identity, i) =>
      new SwimCore({
        self: { address: `10.0.1.${i}:7946`, name: `n${i}`, generation: 100 + i },
        signer: createSwimSigner(identity, simulatedScheme),
        config: { ...config, probing: false },
        rng: Rng.fromSeed(`suspicion-${i}`),
      }),
  );
  for (const c of cores) c.step({ type: 'start' }, 0);
  const all = cores.flatMap((c) => aliveOf(c).filter((m) => m.node === c.selfId));
  cores[0]!.step({ type: 'join', members: all }, 0);
  return cores[0]!;
}

/** Member `by` accuses member 1 (incarnation 0) in a packet to `core` at `nowMs`. */
function accuse(core: SwimCore, by: number, nowMs: number): void {
  const fields = { target: ids[1]!.nodeId, generation: 101, incarnation: 0 };
  const message: VerifiedBroadcast = {
    type: 'Suspect',
    from: ids[by]!.nodeId,
    ...fields,
    record: makeSuspectRecord(ids[by]!, fields, simulatedScheme),
  };
  core.step({ type: 'message', from: `10.0.1.${by}:7946`, message }, nowMs);
}

/** When the suspicion of member 1 times out, in ms after it started (at 0). */
function deathDueMs(core: SwimCore): number {
  const at = core.deadlines().find((d) => d.key === `s:${ids[1]!.nodeId}`)?.atMs;
  assert.ok(at !== undefined, 'a suspicion timer is set');
  return at;
}

describe('suspicion timeout by confirmations', () => {
  it('LAN: half memberlist minimum, reached only with three confirmations', () => {
    const lan = lanSwimConfig();
    const core = observer(12, lan);
    const minMs = suspicionTimeoutMinMs(lan.suspicionMult, 12, lan.probeIntervalMs);
    const memberlistMinMs = suspicionTimeoutMinMs(DEFAULT_SWIM_CONFIG.suspicionMult, 12, lan.probeIntervalMs);
    assert.equal(minMs * 2, memberlistMinMs);
    accuse(core, 2, 0);
    assert.equal(core.member(ids[1]!.nodeId)?.status, 'suspect');
    // One accuser: memberlist's maximum (its minimum x 6), so a lone accuser waits as long.
    assert.equal(deathDueMs(core), memberlistMinMs * DEFAULT_SWIM_CONFIG.suspicionMaxTimeoutMult);
    accuse(core, 3, 100);
    accuse(core, 4, 200);
    // Two confirmations: still above memberlist's minimum, which two would reach there.
    assert.ok(deathDueMs(core) > memberlistMinMs, `due at ${deathDueMs(core)} ms`);
    accuse(core, 4, 250); // the same confirmer again counts once
    assert.ok(deathDueMs(core) > memberlistMinMs);
    accuse(core, 5, 300);
    assert.equal(deathDueMs(core), minMs);
    const fx = core.step({ type: 'tick' }, minMs);
    assert.deepEqual(
      fx.events.map((e) => [e.type, e.member.id]),
      [['dead', ids[1]!.nodeId]],
    );
  });

  it('a small cluster waits for every member able to confirm, not for one accuser', () => {
    // Four members: the suspect, the accuser and two who can confirm.
    const core = observer(4, lanSwimConfig());
    accuse(core, 2, 0);
    const maxMs = suspicionTimeoutMinMs(2, 4, 1000) * 12;
    assert.equal(deathDueMs(core), maxMs);
    accuse(core, 3, 10);
    assert.ok(deathDueMs(core) < maxMs);
    assert.ok(deathDueMs(core) > suspicionTimeoutMinMs(2, 4, 1000));
  });

  it('memberlist base: k = suspicionMult - 2 confirmations reach its minimum', () => {
    const core = observer(12, DEFAULT_SWIM_CONFIG);
    const minMs = suspicionTimeoutMinMs(4, 12, 1000);
    accuse(core, 2, 0);
    assert.equal(deathDueMs(core), minMs * 6);
    accuse(core, 3, 10);
    accuse(core, 4, 20);
    assert.equal(deathDueMs(core), minMs);
  });
});

describe('gossip to the dead', () => {
  it('sends a member listed dead its death while nothing is queued, until gossipToTheDeadMs', () => {
    const lan = lanSwimConfig();
    const core = observer(12, lan);
    for (const by of [2, 3, 4, 5]) accuse(core, by, 0);
    const diedAt = deathDueMs(core);
    assert.deepEqual(
      core.step({ type: 'tick' }, diedAt).events.map((e) => e.type),
      ['dead'],
    );
    // Gossip until every queued broadcast ran out of retransmits, then count within and after
    // gossip to the dead.
    for (let now = diedAt; now < diedAt + 10_000; now += lan.gossipIntervalMs)
      core.step({ type: 'tick' }, now);
    const deathsTo = (from: number, to: number) => {
      let n = 0;
      for (let now = from; now < to; now += lan.gossipIntervalMs) {
        const fx = core.step({ type: 'tick' }, now);
        assert.equal(core.queuedBroadcasts, 0, `a broadcast is still queued at ${now} ms`);
        for (const p of fx.packets) {
          if (p.to !== '10.0.1.1:7946') continue;
          for (const part of p.parts) {
            const m = decodeSwimMessage(part);
            if (m.ok && m.value.type === 'Dead') n++;
          }
        }
      }
      return n;
    };
    assert.ok(
      deathsTo(diedAt + 10_000, diedAt + lan.gossipToTheDeadMs - 1000) > 0,
      'the dead member is told',
    );
    assert.equal(deathsTo(diedAt + lan.gossipToTheDeadMs + 1, diedAt + lan.gossipToTheDeadMs + 10_000), 0);
  });
});
