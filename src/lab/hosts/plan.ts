import { join } from 'node:path';
import { CairnError } from '../../core/index.js';
import { DEFAULT_LIMITS } from '../run/limits.js';

/**
 * Names and addresses of one lab run. Everything the lab creates carries a lab prefix and the
 * run's octet, so a sweep at the next start finds and removes what a killed run left, and never
 * touches anything else:
 *
 * - network namespaces `cairnlab-<octet>-<i>`;
 * - the bridge `clab<octet>br` in the root namespace, address `10.77.<octet>.254/24`;
 * - veth pairs `clab<octet>v<i>` (root side, on the bridge) and `clab<octet>p<i>` (inside the
 *   namespace, address `10.77.<octet>.<i+1>/24`);
 * - the nftables table `inet cairnlab` inside each namespace (never in the root namespace);
 * - data directories under `<stateRoot>/<octet>/`, and the owner file `/run/cairn-lab/<octet>.pid` (machine-wide, see `OWNER_DIR`).
 *
 * Interface names stay within Linux's 15 characters (`clab250v31` is 10).
 */

/** The lab's own address range: 10.77.<octet>.0/24 for each run. */
export const LAB_NET_PREFIX = '10.77';

/** Prefix of every namespace the lab creates. */
export const NETNS_PREFIX = 'cairnlab-';

/** Prefix of every link the lab creates in the root namespace. */
export const LINK_PREFIX = 'clab';

/** The nftables table the lab owns inside each namespace. */
export const NFT_TABLE = 'cairnlab';

/** Octets a run may take (the third byte of its addresses). */
export const RUN_OCTETS = Object.freeze({ min: 1, max: 250 });

/** One host of a run. */
export interface HostPlan {
  /** 0-based index. */
  index: number;
  /** `node-<index>`, the agent's name. */
  name: string;
  /** Network namespace. */
  netns: string;
  /** Root-side veth (on the bridge). */
  hostLink: string;
  /** Namespace-side veth. */
  nsLink: string;
  /** The host's address. */
  address: string;
  /** Agent data directory. */
  dataDir: string;
}

/** The plan of one run's network. */
export interface NetPlan {
  /** Third byte of every address of the run. */
  octet: number;
  /** The bridge in the root namespace. */
  bridge: string;
  /** The bridge's address (the root namespace's foot in the lab network). */
  bridgeAddress: string;
  /** Prefix length of the lab network. */
  prefixLength: 24;
  /** Hosts in index order. */
  hosts: HostPlan[];
}

/**
 * The plan of a run of `nodes` hosts with octet `octet`.
 *
 * @param stateRoot - folder of the lab's data directories
 * @throws CairnError `INVALID_ARGUMENT` when the octet or node count is out of range
 * @example
 * ```ts
 * netPlan(7, 3, '/tmp/cairn-lab').hosts[1].address; // '10.77.7.2'
 * ```
 */
export function netPlan(octet: number, nodes: number, stateRoot: string): NetPlan {
  if (!Number.isInteger(octet) || octet < RUN_OCTETS.min || octet > RUN_OCTETS.max) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `the run octet must be ${RUN_OCTETS.min}-${RUN_OCTETS.max}, got ${octet}`,
    );
  }
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > DEFAULT_LIMITS.maxNodes) {
    throw new CairnError(
      'INVALID_ARGUMENT',
      `a run has 1-${DEFAULT_LIMITS.maxNodes} nodes (maxNodes), got ${nodes}`,
    );
  }
  const hosts = Array.from({ length: nodes }, (_, index) => ({
    index,
    name: `node-${index}`,
    netns: `${NETNS_PREFIX}${octet}-${index}`,
    hostLink: `${LINK_PREFIX}${octet}v${index}`,
    nsLink: `${LINK_PREFIX}${octet}p${index}`,
    address: `${LAB_NET_PREFIX}.${octet}.${index + 1}`,
    dataDir: join(stateRoot, String(octet), `node-${index}`),
  }));
  return {
    octet,
    bridge: `${LINK_PREFIX}${octet}br`,
    bridgeAddress: `${LAB_NET_PREFIX}.${octet}.254`,
    prefixLength: 24,
    hosts,
  };
}

/** The run octet a lab namespace name belongs to, or undefined for any other name. */
export function octetOfNetns(name: string): number | undefined {
  const m = /^cairnlab-(\d{1,3})-\d{1,3}$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** The run octet a lab link name belongs to, or undefined for any other name. */
export function octetOfLink(name: string): number | undefined {
  const m = /^clab(\d{1,3})(?:br|[vp]\d{1,3})$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}
