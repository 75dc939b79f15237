import { CairnError, encode } from '../../core/index.js';
import { NODE_ID_LENGTH, SIGNATURE_BYTES } from '../../security/index.js';
import { DEFAULT_LIMITS, type StateLimits } from './limits.js';
import { MAX_CLUSTER_NAME_LENGTH } from './messages.js';
import { arrayHeaderBytes, binBytes, strBytes, strBytesOfLength } from './wire-size.js';

/**
 * Configuration of the state core. Gossip fanout and interval are the driver's (membership
 * config), not the core's: the core only answers and builds messages.
 *
 * Contract: {@link stateConfig} validates a config when a core is built; a bad field is rejected
 * with `INVALID_CONFIG` naming the field. Nodes of one cluster should share `mtuBytes`,
 * `maxKeyBytes` and `maxValueBytes`: a node drops (counts as malformed) records over its own
 * bounds.
 */
export interface StateConfig {
  /**
   * Cluster name put in every Syn; a Syn naming another cluster is dropped and counted. Empty or
   * absent: no check. Up to 128 characters.
   */
  readonly cluster?: string;
  /**
   * Largest encoded Syn, SynAck or Ack built for a packet, in bytes. Bigger packets carry more
   * records per exchange (faster catch-up) but risk IP fragmentation past the path MTU.
   * Default 1400 (Ethernet minus IP/UDP and sealing headroom, as memberlist). The driver passes a
   * bigger budget per call for stream exchanges (join push-pull).
   */
  readonly mtuBytes: number;
  /**
   * How long a tombstone (deleted key) is kept before it is garbage-collected, in milliseconds.
   * Longer keeps deletes safe for nodes that were away longer (a node away past it gets a full
   * reset of the node's state instead of a delta), at the cost of memory for deleted keys.
   * Default 3,600,000 (1 h).
   */
  readonly tombstoneGraceMs: number;
  /** Keys, tombstones included, one node may own; over it a local set throws and a remote record is rejected (`limit`). Default 1024. */
  readonly maxKeysPerNode: number;
  /** UTF-8 bytes of one key. Default 128. */
  readonly maxKeyBytes: number;
  /**
   * Bytes of one value (UTF-8 bytes for strings). A record with its signature and headers must
   * fit in one `mtuBytes` packet: validation rejects a value bound that cannot. Default 512
   * (memberlist's node metadata bound).
   */
  readonly maxValueBytes: number;
}

/** The defaults every preset derives from; see each field. */
export const DEFAULT_STATE_CONFIG: StateConfig = Object.freeze({
  mtuBytes: 1400,
  tombstoneGraceMs: 3_600_000,
  maxKeysPerNode: 1024,
  maxKeyBytes: 128,
  maxValueBytes: 512,
});

const MAX_SAFE_VERSION_BYTES = 9;

/**
 * Encoded bytes of the largest kv record a config admits inside a node delta (version, payload,
 * signature), with every number at its widest.
 */
export function maxRecordWireBytes(config: Pick<StateConfig, 'maxKeyBytes' | 'maxValueBytes'>): number {
  const payload =
    1 +
    strBytes('type') +
    strBytes('kv') +
    strBytes('generation') +
    MAX_SAFE_VERSION_BYTES +
    strBytes('key') +
    strBytesOfLength(config.maxKeyBytes) +
    strBytes('value') +
    Math.max(strBytesOfLength(config.maxValueBytes), binBytes(config.maxValueBytes));
  return 1 + MAX_SAFE_VERSION_BYTES + binBytes(payload) + binBytes(SIGNATURE_BYTES);
}

/** Encoded bytes of the largest heartbeat record inside a node delta. */
export const MAX_HEARTBEAT_WIRE_BYTES: number =
  1 +
  MAX_SAFE_VERSION_BYTES +
  binBytes(encode({ type: 'heartbeat', generation: Number.MAX_SAFE_INTEGER }).length) +
  binBytes(SIGNATURE_BYTES);

/** Encoded bytes of a node delta's header at its widest (heartbeat included), without records. */
export const MAX_NODE_DELTA_HEADER_BYTES: number =
  1 +
  strBytesOfLength(NODE_ID_LENGTH) +
  4 * MAX_SAFE_VERSION_BYTES +
  MAX_HEARTBEAT_WIRE_BYTES +
  arrayHeaderBytes(0xffff);

/** Encoded bytes of a SynAck with an empty digest and an empty delta: the fixed part. */
export const SYN_ACK_BASE_BYTES: number = encode({
  type: 'SynAck',
  partial: true,
  digest: [],
  delta: [],
}).length;

/**
 * The smallest `mtuBytes` under which a SynAck with an empty digest still carries one node delta
 * with a heartbeat and the largest kv record: below it a big record could never be sent.
 */
export function minimumMtuBytes(config: Pick<StateConfig, 'maxKeyBytes' | 'maxValueBytes'>): number {
  // +4: the delta array header may grow from 1 to 5 bytes.
  return SYN_ACK_BASE_BYTES + 4 + MAX_NODE_DELTA_HEADER_BYTES + maxRecordWireBytes(config);
}

function positiveInt(name: string, value: unknown, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new CairnError(
      'INVALID_CONFIG',
      `state config "${name}" must be a positive integer, got ${String(value)}`,
      {
        details: { field: name },
      },
    );
  }
  if (value > max) {
    throw new CairnError('INVALID_CONFIG', `state config "${name}" is ${value}, over the limit ${max}`, {
      details: { field: name, max },
    });
  }
}

/**
 * {@link DEFAULT_STATE_CONFIG} with `overrides`, validated.
 *
 * @param overrides - fields to change
 * @param limits - the hard limits the config must stay within (default {@link DEFAULT_LIMITS})
 * @throws CairnError `INVALID_CONFIG` naming the bad field
 * @example
 * ```ts
 * const config = stateConfig({ tombstoneGraceMs: 60_000 });
 * ```
 */
export function stateConfig(
  overrides: Partial<StateConfig> = {},
  limits: StateLimits = DEFAULT_LIMITS,
): StateConfig {
  const c: StateConfig = { ...DEFAULT_STATE_CONFIG, ...overrides };
  if (
    c.cluster !== undefined &&
    (typeof c.cluster !== 'string' || c.cluster.length > MAX_CLUSTER_NAME_LENGTH)
  ) {
    throw new CairnError(
      'INVALID_CONFIG',
      `state config "cluster" must be a string of at most ${MAX_CLUSTER_NAME_LENGTH} characters`,
      {
        details: { field: 'cluster' },
      },
    );
  }
  positiveInt('mtuBytes', c.mtuBytes, limits.maxMessageBytes);
  positiveInt('tombstoneGraceMs', c.tombstoneGraceMs, Number.MAX_SAFE_INTEGER);
  positiveInt('maxKeysPerNode', c.maxKeysPerNode, limits.maxKeysPerNode);
  positiveInt('maxKeyBytes', c.maxKeyBytes, limits.maxKeyBytes);
  positiveInt('maxValueBytes', c.maxValueBytes, limits.maxValueBytes);
  const needed = minimumMtuBytes(c);
  if (needed > c.mtuBytes) {
    const spare = c.mtuBytes - minimumMtuBytes({ maxKeyBytes: c.maxKeyBytes, maxValueBytes: 0 });
    throw new CairnError(
      'INVALID_CONFIG',
      `state config "maxValueBytes" (${c.maxValueBytes}) with maxKeyBytes ${c.maxKeyBytes} makes a signed record that does not fit in mtuBytes ${c.mtuBytes} (needs ${needed}); use at most about ${Math.max(0, spare - 3)} or a bigger mtuBytes`,
      { details: { field: 'maxValueBytes', needed, mtuBytes: c.mtuBytes } },
    );
  }
  return Object.freeze(c);
}
