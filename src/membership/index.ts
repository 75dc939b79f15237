/**
 * `cairn/membership`: who is in the cluster, who is alive, and what each node says about itself.
 * SWIM with Lifeguard, Scuttlebutt key/value state, phi accrual, discovery and peer sampling.
 * See DESIGN.md.
 *
 * @packageDocumentation
 */
export {
  lanConfig,
  localConfig,
  type MembershipProtocolConfig,
  type MembershipProtocolOverrides,
  testConfig,
  validateProtocolConfig,
  wanConfig,
} from './config.js';
export * as detector from './detector/index.js';
export { type PhiAccrualConfig, PhiAccrualDetector } from './detector/index.js';
export * as discovery from './discovery/index.js';
export {
  CompositeDiscovery,
  type DiscoveryProvider,
  DnsDiscovery,
  FileDiscovery,
  MdnsDiscovery,
  Reseeder,
  StaticDiscovery,
} from './discovery/index.js';
export {
  type LocalState,
  Membership,
  type MembershipOptions,
  type MembershipStats,
} from './driver/membership.js';
export { DEFAULT_EVENT_BUFFER, type EventHandler, type IterateOptions } from './events.js';
export {
  claimGeneration,
  GENERATION_KEY,
  type GenerationStore,
  nextGeneration,
  parseGeneration,
  storageGenerationStore,
} from './generation.js';
export { isNodeName, NODE_NAME_EXPECTED, NODE_NAME_MAX_LENGTH, NODE_NAME_PATTERN } from './node-name.js';
export * as pex from './pex/index.js';
export { PexNode } from './pex/index.js';
export { DEFAULT_RECONNECT_LIMITS, type ReconnectLimits } from './reconnect.js';
export * as state from './state/index.js';
export * as swim from './swim/index.js';
export type {
  Member,
  MemberState,
  MembershipEvent,
  MembershipEventType,
  StateValue,
  UserMessage,
} from './types.js';
