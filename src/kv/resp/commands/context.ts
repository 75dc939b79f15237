import type { Clock } from '../../../core/clock.js';
import type { Logger } from '../../../core/log.js';
import type { Consistency, KvApi } from '../../types.js';
import type { Credential, RespAuthorizer } from '../auth.js';
import type { RespLimits } from '../limits.js';
import type { Protocol, Reply } from '../reply.js';

/**
 * What a command sees: its connection's {@link Session} and the {@link ServerContext} shared by
 * every connection of one server.
 */

/** One client connection's state, as commands read and change it. */
export interface Session {
  /** CLIENT ID: unique per server, increasing. */
  readonly id: number;
  /** Remote and local addresses (`ip:port`), for CLIENT INFO/LIST. */
  readonly addr: string;
  readonly laddr: string;
  /** Clock reading at accept, for CLIENT LIST's age. */
  readonly createdAt: number;
  /** Clock reading of the last command, for CLIENT LIST's idle. */
  lastCommandAt: number;
  /** The reply protocol, 2 until HELLO 3. */
  proto: Protocol;
  /** CLIENT SETNAME's name; empty for none. */
  name: string;
  /** CLIENT SETINFO's library name and version. */
  libName: string;
  libVersion: string;
  /** The consistency levels of this connection's reads and writes (CAIRN CONSISTENCY). */
  readConsistency: Consistency;
  writeConsistency: Consistency;
  /** The token this connection authenticated with; undefined before AUTH (or when auth is off). */
  credential: Credential | undefined;
  /** Whether the connection may run commands that need authentication. */
  authenticated: boolean;
  /** The name of the last command run, for CLIENT LIST's `cmd`. */
  lastCommand: string;
  /** Set by QUIT: the connection closes once this command's reply is written. */
  closeAfterReply: boolean;
}

/** Counters of one server, for INFO and `RespServer.stats`. */
export interface RespStats {
  connectionsAccepted: number;
  connectionsRejected: number;
  connectionsOpen: number;
  commandsProcessed: number;
  /** Error replies sent (any code). */
  errorReplies: number;
  protocolErrors: number;
  /** Times a connection stopped reading because of in-flight commands or unsent replies. */
  readPauses: number;
  bytesIn: number;
  bytesOut: number;
  /** Sweeps for idle connections so far (a few per idle timeout). */
  idleSweeps: number;
}

/** What every connection of a server shares. */
export interface ServerContext {
  readonly kv: KvApi;
  readonly clock: Clock;
  readonly limits: RespLimits;
  /** Present when commands need a token. */
  readonly auth: RespAuthorizer | undefined;
  readonly logger: Logger | undefined;
  readonly stats: RespStats;
  /** The bound TCP port (INFO, CONFIG GET port). */
  port: number;
  /** The sessions of open connections (CLIENT LIST, INFO clients). */
  readonly sessions: () => Iterable<Session>;
  /** Extra `key:value` lines for INFO's `cairn` section. */
  readonly info: (() => Record<string, string | number>) | undefined;
  /** Clock reading when the server started (INFO uptime). */
  readonly startedAt: number;
}

/** What a command handler gets. */
export interface CommandContext {
  readonly server: ServerContext;
  readonly session: Session;
}

/** A command's implementation: `args[0]` is the command name as sent. */
export type Handler = (ctx: CommandContext, args: readonly Buffer[]) => Reply | Promise<Reply>;

/** What a command does to keys, for authorization and COMMAND's flags. */
export type Access = 'none' | 'read' | 'write' | 'read-write';

/** One entry of the command table. */
export interface CommandSpec {
  /** Lowercase name. */
  readonly name: string;
  /** Redis's arity: n exactly n arguments (name included), -n at least n. */
  readonly arity: number;
  /** Redis's command flags (COMMAND output). */
  readonly flags: readonly string[];
  /** Key positions: first, last (-1 = last argument), step; 0 0 0 for none. */
  readonly keys: readonly [number, number, number];
  readonly access: Access;
  /** Keyless commands that still read data (SCAN, DBSIZE): checked with no key. */
  readonly keyless?: boolean;
  /** Runs before AUTH (HELLO, AUTH, QUIT). */
  readonly noAuth?: boolean;
  readonly group: string;
  readonly since: string;
  readonly summary: string;
  readonly subcommands?: readonly CommandSpec[];
  readonly run: Handler;
}
