/**
 * The Redis-protocol front end of the partitioned store: RESP2/RESP3 parser and writer, the
 * command table, and the TCP server. See ../DESIGN.md, "Redis protocol".
 */
export { type Credential, type KvOp, RESP_AUDIENCE, type RespAuthOptions, RespAuthorizer } from './auth.js';
export type { RespStats } from './commands/context.js';
export { commandTable } from './commands/table.js';
export { Glob } from './glob.js';
export { DEFAULT_LIMITS as RESP_LIMITS, type RespLimits } from './limits.js';
export { type ProtocolError, RespParser } from './parser.js';
export { encodeReply, type Protocol, type Reply, ReplyBuffer } from './reply.js';
export { type RespServer, type RespServerOptions, serveResp } from './server.js';
