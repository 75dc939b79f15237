import {
  CairnError,
  type Clock,
  describeError,
  type Logger,
  type Rng,
  type TimerHandle,
} from '../../core/index.js';
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

/**
 * Runs `fn` every `intervalMs` under the timer `name` until shutdown; a throw is logged, not fatal.
 * The first run comes after a random delay drawn from `rng` (default the node's).
 */
export function every(d: Driver, name: string, intervalMs: number, fn: () => void, rng = d.rng): void {
  // A random first delay spreads nodes that start together over the interval.
  const arm = (delay: number) => {
    d.timers.set(
      name,
      d.clock.setTimer(delay, () => {
        if (d.stopped) return;
        arm(intervalMs);
        guard(d, name, fn);
      }),
    );
  };
  arm(rng.float() * intervalMs);
}

function guard(d: Driver, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    d.logger.error({ err: describeError(err), what }, 'membership task failed');
  }
}
