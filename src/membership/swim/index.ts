/**
 * The pure SWIM + Lifeguard core of `cairn/membership`: failure detection, suspicion and
 * piggybacked dissemination for one node, as a synchronous state machine the membership driver
 * feeds. See DESIGN.md here and the brick's DESIGN.md.
 *
 * @packageDocumentation
 */
export {
  type Claim,
  type ClaimDecision,
  compareClaims,
  decideClaim,
  type MemberStatus,
  STATUS_RANK,
} from './claims.js';
export {
  arrayHeaderBytes,
  binHeaderBytes,
  CompoundBuilder,
  compoundSize,
  decodeCompound,
  encodeCompound,
  partCost,
  writeCompound,
} from './compound.js';
export {
  DEFAULT_SWIM_CONFIG,
  lanSwimConfig,
  localSwimConfig,
  type SwimConfig,
  testSwimConfig,
  validateSwimConfig,
  wanSwimConfig,
} from './config.js';
export { SwimCore, type SwimCoreOptions } from './core.js';
export { DEFAULT_LIMITS, type SwimLimits, swimLimits } from './limits.js';
export {
  applyAwarenessDelta,
  expectedConfirmations,
  NACK_RATIO,
  nackDelayMs,
  retransmitLimit,
  scaleByAwareness,
  suspicionTimeoutMinMs,
  suspicionTimeoutMs,
} from './math.js';
export { memberKey, seededKeyHash } from './member-key.js';
export {
  type AccusationFields,
  type Ack,
  type AliveFields,
  type AliveMessage,
  type BroadcastMessage,
  createSwimSigner,
  type DeadMessage,
  decodeSwimMessage,
  encodeSwimMessage,
  isBroadcastMessage,
  type LeaveFields,
  type LeaveMessage,
  makeAliveRecord,
  makeDeadRecord,
  makeLeaveRecord,
  makeSuspectRecord,
  type Nack,
  openAliveRecord,
  openAliveValue,
  openBroadcast,
  openDeadRecord,
  openLeaveRecord,
  openSuspectRecord,
  type Ping,
  type PingReq,
  type ProbeMessage,
  type SuspectMessage,
  type SwimMessage,
  type SwimRejectReason,
  type SwimResult,
  type SwimSigner,
  swimMessageValidator,
  type UserMessage,
  type VerifiedAccusation,
  type VerifiedAlive,
  type VerifiedBroadcast,
  type VerifiedLeave,
} from './messages.js';
export { memberBroadcastKey, userBroadcastKey } from './outbox.js';
export { type QueuedBroadcast, TransmitLimitedQueue } from './queue.js';
export type {
  SwimCounters,
  SwimEffects,
  SwimEvent,
  SwimEventType,
  SwimFallbackProbe,
  SwimInput,
  SwimMember,
  SwimMemberView,
  SwimPacket,
} from './types.js';
