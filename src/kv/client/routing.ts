import type { Clock } from '../../core/clock.js';
import { isCairnError } from '../../core/errors.js';
import type { Rng } from '../../core/rng.js';
import { MAX_TOKEN, tokenOf } from '../ring/partitioner.js';
import { RING_LIMITS, Ring } from '../ring/ring.js';
import type { RingInfo, RingNode, RingNodeStatus } from '../types.js';
import type { Reply } from './reply-reader.js';

/**
 * Ring-aware routing: which node a call goes to.
 *
 * The client learns the ring from `CAIRN RING` (nodes, their Redis-protocol addresses, statuses
 * and tokens), computes a key's token with the cluster's partitioner and sends the call to one of
 * the key's natural replicas. That node coordinates, and as a replica it serves its own copy
 * without a network hop, which saves one of the hops a random coordinator would make.
 *
 * Contract:
 * - {@link Router.route} lists node addresses to try, best first: the key's natural replicas that
 *   are not marked down (starting at a random one, to spread load), then every other known node
 *   not marked down (ring nodes with an address, and the seeds), then the nodes marked down,
 *   soonest retry first. Without a ring, or for a keyless call, the list starts at the second
 *   group. It is never empty while seeds exist.
 * - A node is marked down when it cannot be reached, for a backoff that doubles per consecutive
 *   failure from `downBackoffMs` to `maxDownBackoffMs`; any successful call clears it.
 * - A ring reply is validated (shape, counts, tokens, statuses, `Ring.build`'s limits) before it
 *   replaces the known ring; a bad one is refused with a reason and the old ring stays.
 */

/** A node's Redis-protocol address. */
export interface NodeAddress {
  /** `host:port` (`[v6]:port`), the key of the node's connection pool. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[v6]:port`; undefined when malformed. */
export function parseAddress(text: string): NodeAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):([0-9]{1,5})$/.exec(text);
  if (m === null) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { id: formatAddress(host, port), host, port };
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Hosts a server binds to that a client cannot dial: the client uses the host it asked instead. */
const UNSPECIFIED_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

const STATUSES: ReadonlySet<string> = new Set<RingNodeStatus>(['joining', 'normal', 'leaving']);

/** `CAIRN RING`'s reply as a RingInfo, or the reason it is malformed. */
export function parseRingReply(reply: Reply): RingInfo | string {
  if (!Array.isArray(reply) || reply.length !== 2) return 'CAIRN RING did not answer [rf, nodes]';
  const [rf, nodes] = reply as readonly Reply[];
  if (typeof rf !== 'number' || !Number.isSafeInteger(rf) || rf < 1 || rf > RING_LIMITS.maxReplicationFactor)
    return `CAIRN RING answered rf ${String(rf)}`;
  if (!Array.isArray(nodes)) return 'CAIRN RING did not answer a node list';
  const list = nodes as readonly Reply[];
  if (list.length > RING_LIMITS.maxNodes) return `CAIRN RING listed ${list.length} nodes`;
  const out: RingNode[] = [];
  for (const n of list) {
    const node = parseRingNode(n);
    if (typeof node === 'string') return node;
    out.push(node);
  }
  return { rf, nodes: out };
}

function parseRingNode(n: Reply): RingNode | string {
  if (!Array.isArray(n) || n.length !== 4)
    return 'CAIRN RING listed a node that is not [name, resp, status, tokens]';
  const [name, resp, status, tokens] = n as readonly Reply[];
  if (!Buffer.isBuffer(name) || name.length === 0 || name.length > RING_LIMITS.maxNameBytes)
    return 'CAIRN RING listed a node without a valid name';
  if (!Buffer.isBuffer(resp) || resp.length > 300) return 'CAIRN RING listed a node without a valid address';
  if (!Buffer.isBuffer(status) || !STATUSES.has(status.toString('latin1')))
    return 'CAIRN RING listed a node with an unknown status';
  if (!Array.isArray(tokens) || tokens.length > RING_LIMITS.maxTokensPerNode)
    return 'CAIRN RING listed a node without a valid token list';
  const parsed: bigint[] = [];
  for (const t of tokens as readonly Reply[]) {
    if (!Buffer.isBuffer(t) || !/^[0-9]{1,20}$/.test(t.toString('latin1')))
      return 'CAIRN RING listed a malformed token';
    const token = BigInt(t.toString('latin1'));
    if (token > MAX_TOKEN) return 'CAIRN RING listed a token past 2^64-1';
    parsed.push(token);
  }
  const base = {
    name: name.toString('utf8'),
    tokens: parsed,
    status: status.toString('latin1') as RingNodeStatus,
  };
  return resp.length === 0 ? base : { ...base, resp: resp.toString('utf8') };
}

/** Options of a {@link Router}. */
export interface RouterOptions {
  /** Seed addresses (`host:port`), tried when the ring names no reachable node. */
  readonly seeds: readonly NodeAddress[];
  readonly clock: Clock;
  readonly rng: Rng;
  /** First backoff (ms) of a node found unreachable; doubles per consecutive failure. */
  readonly downBackoffMs: number;
  /** Longest backoff (ms). */
  readonly maxDownBackoffMs: number;
}

interface DownMark {
  failures: number;
  until: number;
}

/** Chooses nodes for calls; see the module comment. */
export class Router {
  private ring: Ring | undefined;
  private info: RingInfo | undefined;
  /** Ring node name -> its address. */
  private addresses = new Map<string, NodeAddress>();
  /** Every address known (ring nodes with one, then seeds), by id. */
  private known = new Map<string, NodeAddress>();
  private readonly down = new Map<string, DownMark>();

  constructor(private readonly options: RouterOptions) {
    for (const s of options.seeds) this.known.set(s.id, s);
  }

  /** The ring last applied, or undefined before the first. */
  get ringInfo(): RingInfo | undefined {
    return this.info;
  }

  /** The address of `id` when known. */
  address(id: string): NodeAddress | undefined {
    return this.known.get(id);
  }

  /**
   * Replaces the ring with one fetched from a node at `fromHost`.
   *
   * @returns undefined when applied, else why it was refused (the old ring stays)
   */
  update(info: RingInfo, fromHost: string): string | undefined {
    let ring: Ring;
    try {
      ring = Ring.build(info.nodes, info.rf);
    } catch (err) {
      if (isCairnError(err)) return err.message;
      throw err;
    }
    const addresses = new Map<string, NodeAddress>();
    for (const node of info.nodes) {
      if (node.resp === undefined) continue;
      const parsed = parseAddress(node.resp);
      if (parsed === undefined) continue;
      addresses.set(
        node.name,
        UNSPECIFIED_HOSTS.has(parsed.host)
          ? (parseAddress(formatAddress(fromHost, parsed.port)) ?? parsed)
          : parsed,
      );
    }
    const known = new Map<string, NodeAddress>();
    for (const a of addresses.values()) known.set(a.id, a);
    for (const s of this.options.seeds) if (!known.has(s.id)) known.set(s.id, s);
    this.ring = ring;
    this.info = ring.info();
    this.addresses = addresses;
    this.known = known;
    return undefined;
  }

  /** The natural replicas' names for `key` (empty without a ring). */
  replicasOf(key: Uint8Array): readonly string[] {
    return this.ring === undefined ? [] : this.ring.replicas(tokenOf(key));
  }

  /** Addresses to try for a call on `key` (or a keyless call), best first; see the module comment. */
  route(key?: Uint8Array): NodeAddress[] {
    const now = this.options.clock.now();
    const first: NodeAddress[] = [];
    const taken = new Set<string>();
    if (key !== undefined && this.ring !== undefined) {
      for (const name of this.ring.replicas(tokenOf(key))) {
        const a = this.addresses.get(name);
        if (a === undefined || taken.has(a.id) || this.isDown(a.id, now)) continue;
        taken.add(a.id);
        first.push(a);
      }
    }
    const others: NodeAddress[] = [];
    const down: NodeAddress[] = [];
    for (const a of this.known.values()) {
      if (taken.has(a.id)) continue;
      if (this.isDown(a.id, now)) down.push(a);
      else others.push(a);
    }
    down.sort((x, y) => this.down.get(x.id)!.until - this.down.get(y.id)!.until);
    return [...this.rotate(first), ...this.rotate(others), ...down];
  }

  /** Records that `id` could not be reached. */
  markDown(id: string): void {
    const mark = this.down.get(id) ?? { failures: 0, until: 0 };
    mark.failures++;
    const backoff = Math.min(
      this.options.maxDownBackoffMs,
      this.options.downBackoffMs * 2 ** Math.min(mark.failures - 1, 30),
    );
    mark.until = this.options.clock.now() + backoff;
    this.down.set(id, mark);
  }

  /** Records that `id` answered. */
  markUp(id: string): void {
    this.down.delete(id);
  }

  /** True while `id` is in its backoff. */
  isDown(id: string, now = this.options.clock.now()): boolean {
    const mark = this.down.get(id);
    return mark !== undefined && mark.until > now;
  }

  private rotate(list: NodeAddress[]): NodeAddress[] {
    if (list.length < 2) return list;
    const start = this.options.rng.int(list.length);
    return [...list.slice(start), ...list.slice(0, start)];
  }
}
