import { describeStoreClientContract } from '../../../test/contract/store-client-contract.js';
import { ManualClock } from '../../core/manual-clock.js';
import { TestingStore } from './testing-store.js';

describeStoreClientContract('testing store, in process', async () => {
  const clock = new ManualClock();
  const store = new TestingStore({ clock });
  return {
    client: store,
    advanceMs: async (ms) => {
      clock.advance(ms);
    },
    cleanup: () => store.close(),
  };
});
