/**
 * The phi-accrual failure detector: a pure, clock-free detector over heartbeat arrival times,
 * selectable by membership instead of SWIM probing (Cassandra/chitchat style).
 *
 * @packageDocumentation
 */
export {
  DEFAULT_LIMITS,
  DEFAULT_PHI_ACCRUAL_CONFIG,
  type DetectorLimits,
  detectorLimits,
  type PhiAccrualConfig,
  type PhiDistribution,
  phiAccrualConfig,
} from './config.js';
export { PhiAccrualDetector, type PhiNodeStats } from './detector.js';
export { phiExponential, phiNormal } from './phi.js';
export { IntervalWindow } from './window.js';
