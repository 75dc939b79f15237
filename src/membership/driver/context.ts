import type { Clock, Logger, Rng, TimerHandle } from '../../core/index.js';
import { CairnError } from '../../core/index.js';
import type { NodeId, NodeIdentity, SignatureScheme } from '../../security/index.js';
import type { Transport } from '../../transport/types.js';
import type { MembershipProtocolConfig } from '../config.js';
import type { PhiAccrualDetector } from '../detector/index.js';
import type { EventHub } from '../events.js';
import type { PexNode } from '../pex/index.js';
import type { ScuttlebuttState } from '../state/index.js';
import type { SwimCore } from '../swim/index.js';
import type { SyncSession } from '../sync/session.js';
import type { AntiEntropyDriver } from './anti-entropy.js';
import type { PushPullDriver } from './push-pull.js';
import type { DriverStats } from './stats.js';
import type { SwimDriver } from './swim-driver.js';
import type { UserMessages } from './user-messages.js';

/** The mux channels one membership node speaks on, one per protocol. */
export interface DriverChannels {
  readonly swim: Transport;
  readonly state: Transport;
  readonly sync: Transport;
  readonly user: Transport;
}

/**
 * What the parts of one node's driver share: its identity, the pure cores, the channels, the clock,
 * the named timers and the counters, and the parts themselves, so one part can hand work to
 * another (an event SWIM reports becomes a state change, a state change becomes a broadcast).
 * Built once by `Membership`; the parts are set right after the shared state, before any input.
 */
export interface Driver {
  readonly id: NodeId;
  readonly generation: number;
  readonly protocol: MembershipProtocolConfig;
  readonly identity: NodeIdentity;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger: Logger;
  readonly scheme: SignatureScheme;
  readonly channels: DriverChannels;
  readonly swim: SwimCore;
  readonly state: ScuttlebuttState;
  /** The largest Scuttlebutt packet: the configured MTU, capped by the state channel's. */
  readonly stateMtu: number;
  readonly phi: PhiAccrualDetector | undefined;
  readonly pex: PexNode | undefined;
  readonly hub: EventHub;
  /** Every pending timer by name; shutdown cancels them all. */
  readonly timers: Map<string, TimerHandle>;
  /** Set once by shutdown: timers and inputs then do nothing. */
  stopped: boolean;
  stats: DriverStats;
  sync: SyncSession;
  swimDriver: SwimDriver;
  antiEntropy: AntiEntropyDriver;
  pushPull: PushPullDriver;
  messages: UserMessages;
}

/** The shared state alone, before the parts are set. */
export type DriverShared = Omit<
  Driver,
  'stats' | 'sync' | 'swimDriver' | 'antiEntropy' | 'pushPull' | 'messages'
>;

/** Throws `CLOSED` once the node was shut down. */
export function assertRunning(d: Driver): void {
  if (d.stopped) throw new CairnError('CLOSED', 'membership was shut down');
}
