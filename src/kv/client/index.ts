/**
 * The `cairn/kv` client: the partitioned store over its Redis-protocol front end, with consistency
 * per call and ring-aware routing. See ../DESIGN.md, "Client".
 */
export {
  type KvBytes,
  KvClient,
  type KvClientStats,
  type KvScanOptions,
  type KvSetOptions,
} from './client.js';
export { clientConfig, DEFAULT_CLIENT_CONFIG, type KvClientConfig, type KvClientOptions } from './config.js';
export { ClientConnection, type CommandArg, encodeCommand } from './connection.js';
export { errorFromReply, UnsentError } from './errors.js';
export { DEFAULT_LIMITS as KV_CLIENT_LIMITS, type KvClientLimits } from './limits.js';
export { type Reply, ReplyError, type ReplyProtocolError, ReplyReader } from './reply-reader.js';
export { type NodeAddress, parseAddress, parseRingReply } from './routing.js';
