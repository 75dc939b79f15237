/**
 * The Storage contract against the simulator's disk: without latencies, and with latencies on a
 * node's virtual clock while the simulator runs in the background (autoRun).
 *
 * Run: node --import tsx --test test/sim/storage-contract.test.ts
 * Property seeds: fast-check prints them on failure; replay with FC_SEED=<seed>.
 */
import { SimDisk, Simulator } from '../../src/sim/index.js';
import { describeStorageContract } from '../contract/storage-contract.js';

describeStorageContract('sim disk', async () => {
  const disk = new SimDisk();
  return {
    storage: disk,
    reopen: async () => {
      disk.shutdown();
      disk.reopen();
      return disk;
    },
    cleanup: async () => undefined,
  };
});

describeStorageContract('sim disk with latencies', async () => {
  const sim = new Simulator({ seed: 5 });
  sim.addNode('n', () => ({}), { disk: { readLatencyMs: 1, writeLatencyMs: 2, syncLatencyMs: 5 } });
  const disk = sim.diskOf('n');
  const stop = sim.autoRun();
  return {
    storage: disk,
    reopen: async () => {
      disk.shutdown();
      disk.reopen();
      return disk;
    },
    cleanup: () => stop(),
  };
});
