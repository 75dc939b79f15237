import { startEtcd } from '../../../test/contract/etcd-process.js';
import { describeStoreClientContract } from '../../../test/contract/store-client-contract.js';
import { ManualClock } from '../../core/manual-clock.js';
import { serveEtcd } from '../etcd/server.js';
import { TestingStore } from '../etcd/testing-store.js';
import { EtcdClientStore } from './etcd-client-store.js';

// The same suite against a real etcd (the reference) and against Cairn's etcd API: passing both
// is the evidence that the API matches. A missing etcd binary skips the first (one-line reason).
describeStoreClientContract('EtcdClientStore -> real etcd', async () => {
  const etcd = await startEtcd();
  if (etcd === undefined) return undefined;
  const client = new EtcdClientStore({ hosts: [etcd.endpoint] });
  return {
    client,
    cleanup: async () => {
      await client.close();
      await etcd.stop();
    },
  };
});

describeStoreClientContract('EtcdClientStore -> Cairn etcd API over the testing store', async () => {
  const clock = new ManualClock();
  const store = new TestingStore({ clock });
  const server = await serveEtcd({ store, host: '127.0.0.1', port: 0 });
  const client = new EtcdClientStore({ hosts: [server.endpoint] });
  return {
    client,
    advanceMs: async (ms) => {
      clock.advance(ms);
    },
    cleanup: async () => {
      await client.close();
      await server.close();
      await store.close();
    },
  };
});
