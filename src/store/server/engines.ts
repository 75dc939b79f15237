import { RaftNode } from '../../raft/node/raft-node.js';
import { Lessor, MvccStore } from '../mvcc/index.js';
import type { StoreEngines } from './options.js';

/**
 * The production engines: RaftNode (src/raft/node) on the server's raft channel, MvccStore and
 * Lessor (src/store/mvcc). The MVCC store's headers come from the server.
 */
export function defaultEngines(): StoreEngines {
  return {
    openMvcc: async (storage, header) => MvccStore.open(storage, { header }),
    newLessor: () => new Lessor(),
    startRaft: async ({ options, transport, applier }) => {
      const node = await RaftNode.start({
        id: options.id,
        transport,
        resolve: options.resolve,
        clock: options.clock,
        rng: options.rng.child('raft'),
        logStore: options.logStore,
        applier,
        ...(options.bootstrap === undefined ? {} : { bootstrap: options.bootstrap }),
        ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
        ...(options.electionTicks === undefined ? {} : { electionTicks: options.electionTicks }),
        ...(options.heartbeatTicks === undefined ? {} : { heartbeatTicks: options.heartbeatTicks }),
        ...(options.snapshotEntries === undefined ? {} : { snapshotEntries: options.snapshotEntries }),
        ...(options.snapshotCatchUpEntries === undefined
          ? {}
          : { snapshotCatchUpEntries: options.snapshotCatchUpEntries }),
        ...(options.scheduleSends === undefined ? {} : { scheduleSends: options.scheduleSends }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
      });
      return {
        get id() {
          return node.id;
        },
        propose: (data, signal) => node.propose(data, signal),
        readIndex: (signal) => node.readIndex(signal),
        proposeConfChange: (cc, signal) => node.proposeConfChange(cc, signal),
        transferLeadership: (to, signal) => node.transferLeadership(to, signal),
        lastHeardMs: (id) => node.lastHeardMs(id),
        status: () => {
          const s = node.status();
          return { ...s, lead: s.lead };
        },
        currentTerm: () => node.currentTerm(),
        leader: () => node.leader(),
        isLearner: (id) => node.isLearner(id),
        onStatusChange: (listener) => node.onStatusChange((s) => listener(s)),
        stop: () => node.stop(),
      };
    },
  };
}
