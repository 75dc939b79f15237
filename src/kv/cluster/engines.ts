import { HintStore } from '../engine/hints.js';
import { MerkleTree } from '../engine/merkle.js';
import { loadNodeMeta, saveNodeMeta } from '../engine/node-meta.js';
import { isLive, mergeCells, ReplicaStore } from '../engine/replica-store.js';
import { loadRingMemory, saveRingMemory } from '../engine/ring-memory.js';
import { HybridClock, nodeTag } from '../hlc.js';
import { decodeRingAdvert, encodeRingAdvert, RING_STATE_PREFIX } from '../ring/advert.js';
import { inTokenRange, tokenOf } from '../ring/partitioner.js';
import { Ring, randomTokens } from '../ring/ring.js';
import type { KvEngines, MerklePort } from './ports.js';

/** The real engine: `src/kv/engine`, `src/kv/ring` and `src/kv/hlc.ts`. */
export const defaultEngines: KvEngines = Object.freeze<KvEngines>({
  nodeTag,
  hybridClock: (options) => new HybridClock(options),
  tokenOf,
  inTokenRange,
  buildRing: (nodes, rf) => Ring.build(nodes, rf),
  randomTokens,
  encodeRingAdvert,
  decodeRingAdvert,
  ringStatePrefix: RING_STATE_PREFIX,
  openReplicaStore: (options) => ReplicaStore.open(options),
  openHintStore: (options) => HintStore.open(options),
  decodeMerkle: (bytes) => MerkleTree.decode(bytes) as MerklePort,
  isLive,
  mergeCells,
  loadNodeMeta,
  saveNodeMeta,
  loadRingMemory,
  saveRingMemory,
});
