import type { Clock, Logger, Rng, Storage } from '../../core/index.js';
import type { ConfState, NodeId, RaftLogStore } from '../../raft/types.js';
import type { Address, Transport } from '../../transport/types.js';
import type { Member } from '../api.js';
import type { StoreServerLimits } from './limits.js';
import type { LessorPort, MvccPort, RaftApplierPort, RaftPort } from './ports.js';

/** Options of {@link StoreServer.start}. */
export interface StoreServerOptions {
  /** This member's id: its raft node id (positive, below 2^53). */
  readonly id: NodeId;
  /** This member's name, as `member list` shows it. */
  readonly name: string;
  /**
   * The transport peers reach this member on (in the agent a mux channel of the gossip port).
   * The server splits it in two channels: raft messages, and the calls it forwards to the leader.
   */
  readonly transport: Transport;
  /** A member id's transport address, or undefined when unknown. */
  resolve(id: NodeId): Address | undefined;
  readonly clock: Clock;
  readonly rng: Rng;
  /** The state machine's storage (LevelDB, SimDisk or Memory); the caller owns and closes it. */
  readonly storage: Storage;
  /** The durable raft log; the caller owns and closes it. */
  readonly logStore: RaftLogStore;
  /** First start of a new cluster only: the initial voters (and learners). */
  readonly bootstrap?: ConfState;
  /** The bootstrap members' metadata (names and URLs), the same list on every bootstrap member. */
  readonly members?: readonly Member[];
  /** This member's peer URLs (what `member list` shows; Cairn's peers speak over `transport`). */
  readonly peerUrls?: readonly string[];
  /** This member's etcd API URLs, published to the cluster once it has a leader. */
  readonly clientUrls?: readonly string[];
  /** The cluster's name (etcd's initial cluster token), hashed into the cluster and member ids. */
  readonly clusterName?: string;
  /** Raft tick period in ms; default 100. */
  readonly tickMs?: number;
  /**
   * When the raft driver's messages to peers leave (see `RaftNodeOptions.scheduleSends`); default
   * at once. The agent passes `setImmediate`: messages of one I/O phase share one frame per peer.
   */
  readonly scheduleSends?: (run: () => void) => void;
  /** Ticks without a leader before an election; default 10. */
  readonly electionTicks?: number;
  /** Ticks between heartbeats; default 1. */
  readonly heartbeatTicks?: number;
  /** Applied entries between snapshots of the state machine; default the raft driver's. */
  readonly snapshotEntries?: number;
  /** Entries kept behind a snapshot for slow followers; default the raft driver's (5,000). */
  readonly snapshotCatchUpEntries?: number;
  readonly logger?: Logger;
  readonly limits?: Partial<StoreServerLimits>;
}

/**
 * How the server builds its engines: the raft driver, the MVCC store and the lessor. The
 * default (`defaultEngines` in engines.ts) builds RaftNode, MvccStore and Lessor; tests pass
 * fakes.
 */
export interface StoreEngines {
  openMvcc(
    storage: Storage,
    header: () => { clusterId: number; memberId: number; raftTerm: number },
  ): Promise<MvccPort>;
  newLessor(mvcc: MvccPort): LessorPort;
  startRaft(args: {
    options: StoreServerOptions;
    transport: Transport;
    applier: RaftApplierPort;
  }): Promise<RaftPort>;
}
