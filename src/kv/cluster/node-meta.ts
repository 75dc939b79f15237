import { decode, encode, type Storage, v } from '../../core/index.js';
import type { NodeMeta } from './ports.js';
import { tokenFromWire, tokenToWire } from './protocol.js';

/**
 * What a node persists about itself, under one metadata key of its storage: its tokens (so a
 * restart keeps its place on the ring) and whether it finished joining (a node that crashed while
 * joining streams again when it restarts). Written with `sync` before the node advertises it.
 */

const MetaRecord = v.object({
  tokens: v.array(v.bytes({ minLength: 8, maxLength: 8 }), { maxLength: 4096 }),
  status: v.oneOf(['joining', 'normal', 'left'] as const),
});

/** The stored record at `key`, or undefined when none (a first start). */
export async function loadNodeMeta(storage: Storage, key: Uint8Array): Promise<NodeMeta | undefined> {
  const bytes = await storage.get(key);
  if (bytes === undefined) return undefined;
  const record = decode(bytes, MetaRecord);
  return { tokens: record.tokens.map(tokenFromWire), status: record.status };
}

/** Stores `meta` at `key`, synced. */
export async function saveNodeMeta(storage: Storage, key: Uint8Array, meta: NodeMeta): Promise<void> {
  const value = encode({ tokens: meta.tokens.map(tokenToWire), status: meta.status });
  await storage.batch([{ type: 'put', key, value }], { sync: true });
}
