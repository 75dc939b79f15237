import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCairnError, ManualClock, Rng } from '../core/index.js';
import { NodeIdentity, simulatedScheme } from '../security/index.js';
import { MemoryStorage, Simulator } from '../sim/index.js';
import { testConfig } from './config.js';
import { Membership } from './driver/membership.js';
import { claimGeneration, GENERATION_KEY, nextGeneration, storageGenerationStore } from './generation.js';

describe('generations', () => {
  it('take max(floor(now), last + 1), at least 1', () => {
    assert.equal(nextGeneration(1_000.9), 1_000);
    assert.equal(nextGeneration(1_000, 999), 1_000);
    assert.equal(nextGeneration(1_000, 5_000), 5_001);
    assert.equal(nextGeneration(0), 1);
  });

  it('are saved before they are used, and grow across runs whatever the clock does', async () => {
    const storage = new MemoryStorage();
    const store = storageGenerationStore(storage);
    const hourMs = 3_600_000;
    const first = await claimGeneration(store, 1_700_000_000_000);
    // The clock stepped back an hour across the restart: the generation still grows.
    const second = await claimGeneration(store, 1_700_000_000_000 - hourMs);
    assert.equal(first, 1_700_000_000_000);
    assert.equal(second, first + 1);
    assert.equal(await store.load(), second);
    await storage.batch([{ type: 'put', key: GENERATION_KEY, value: new TextEncoder().encode('1e9') }]);
    await assert.rejects(claimGeneration(store, 0), (e: unknown) => isCairnError(e, 'DECODE_FAILED'));
  });

  it('a membership node with a store announces a generation above its last run, not its clock', async () => {
    const storage = new MemoryStorage();
    const store = storageGenerationStore(storage);
    await store.save(10_000_000_000_000);
    const sim = new Simulator({ seed: 'generation' });
    const identity = NodeIdentity.fromSeed(Rng.fromSeed('gen').bytes(32));
    const runs: Membership[] = [];
    sim.addNode('n0', async (ctx) => {
      const m = await Membership.create({
        identity,
        transport: ctx.transport(),
        clock: ctx.clock,
        rng: ctx.rng,
        protocol: testConfig(),
        scheme: simulatedScheme,
        generationStore: store,
      });
      runs.push(m);
      return m;
    });
    await sim.runFor(1);
    assert.equal(runs[0]!.generation, 10_000_000_000_001);
    assert.equal(runs[0]!.member(identity.nodeId)?.generation, 10_000_000_000_001);
    assert.equal(await store.load(), 10_000_000_000_001);
    // Without a store the clock alone decides (here a manual one).
    const clock = new ManualClock(42.5);
    const bare = await Membership.create({
      identity,
      transport: sim.network.transport('10.9.0.1:1'),
      clock,
      protocol: testConfig(),
      scheme: simulatedScheme,
    });
    assert.equal(bare.generation, 42);
    await bare.shutdown();
  });
});
