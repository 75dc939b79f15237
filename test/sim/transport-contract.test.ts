/**
 * The transport contract suite against the simulated network, with the simulator running in the
 * background (autoRun) so the suite's plain `await`s advance virtual time.
 *
 * Run: node --import tsx --test test/sim/transport-contract.test.ts
 * Replay with another seed: CAIRN_SEED=<seed> node --import tsx --test test/sim/transport-contract.test.ts
 */
import { Simulator, seedFromEnv } from '../../src/sim/index.js';
import { describeTransportContract } from '../contract/transport-contract.js';

const seed = process.env.CAIRN_SEED === undefined ? 1 : seedFromEnv();

describeTransportContract('sim', async () => {
  const sim = new Simulator({ seed, network: { latency: { kind: 'uniform', minMs: 0.5, maxMs: 5 } } });
  const a = sim.network.transport('10.0.0.1:7946');
  const b = sim.network.transport('10.0.0.2:7946');
  const stop = sim.autoRun();
  return {
    a,
    b,
    unreachable: '10.0.0.99:7946',
    cleanup: async () => {
      await a.close();
      await b.close();
      await stop();
    },
  };
});
