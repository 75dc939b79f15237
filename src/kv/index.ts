/**
 * `cairn/kv`: the partitioned store. See DESIGN.md.
 *
 * @packageDocumentation
 */
export {
  MEMORY_KV_LIMITS,
  MemoryKv,
  type MemoryKvLimits,
  type MemoryKvOptions,
  memoryToken,
} from './memory-kv.js';
export {
  RESP_AUDIENCE,
  RESP_LIMITS,
  type RespAuthOptions,
  type RespLimits,
  type RespServer,
  type RespServerOptions,
  type RespStats,
  serveResp,
} from './resp/index.js';
