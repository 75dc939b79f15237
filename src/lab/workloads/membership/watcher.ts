import { INDEX_HEADER } from '../../../node/members-http.js';
import type { AgentProcess } from '../../hosts/agent-process.js';
import { delay } from '../../hosts/agent-process.js';
import { DEFAULT_LIMITS } from '../../run/limits.js';
import type { Observation, ViewState } from './history.js';

/**
 * Follows one agent's view of the cluster through blocking reads of `GET /v1/members`
 * (`?index=<last>&wait=<ms>`, src/node/members-watch.ts): one request outstanding per agent, answered
 * as soon as the view changes, so every change is seen within an HTTP round trip unless two land
 * within one (a transient state shorter than that can be missed; a death is not that short).
 *
 * The reads go from the root namespace through the bridge, which the nemesis never cuts, so a
 * partitioned node is still watched. A paused node's read hangs until it resumes or the read's
 * deadline; a killed node's read fails and is retried every `watchRetryMs`. A restarted agent
 * answers with a lower view index than the last one seen: its view starts again from nothing.
 */

/** One member entry of a view. */
export interface ViewEntry {
  /** State in the view. */
  state: ViewState;
  /** Generation. */
  generation: number;
  /** Incarnation. */
  incarnation: number;
}

interface MemberWire {
  id: string;
  state: ViewState;
  generation: number;
  incarnation: number;
}

const STATES = new Set(['alive', 'suspect', 'dead', 'left']);

/** The members of a `/v1/members` body, or undefined when it is not one (validated: hostile or broken agents). */
export function parseMembers(body: unknown): MemberWire[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const members = (body as { members?: unknown }).members;
  if (!Array.isArray(members) || members.length > DEFAULT_LIMITS.maxNodes * 4) return undefined;
  const out: MemberWire[] = [];
  for (const m of members as unknown[]) {
    if (typeof m !== 'object' || m === null) return undefined;
    const { id, state, generation, incarnation } = m as Record<string, unknown>;
    if (typeof id !== 'string' || id.length > 256 || typeof state !== 'string' || !STATES.has(state))
      return undefined;
    if (!Number.isSafeInteger(generation) || !Number.isSafeInteger(incarnation)) return undefined;
    out.push({
      id,
      state: state as ViewState,
      generation: generation as number,
      incarnation: incarnation as number,
    });
  }
  return out;
}

/** Watches one agent; see the file comment. */
export class ViewWatcher {
  /** The latest view: member index -> entry (members that are no node of the run are left out). */
  view = new Map<number, ViewEntry>();
  /** Reads answered. */
  reads = 0;
  private index: number | undefined;
  private readonly stopped = new AbortController();
  private loop: Promise<void> = Promise.resolve();

  /**
   * @param observer - the agent's index
   * @param agent - the agent
   * @param indexOf - node id -> host index (-1 for an unknown id)
   * @param now - the lab clock (ms since the run epoch)
   * @param onChange - called with every observation, in order
   */
  constructor(
    private readonly observer: number,
    private readonly agent: AgentProcess,
    private readonly indexOf: (id: string) => number,
    private readonly now: () => number,
    private readonly onChange: (o: Observation) => void,
  ) {}

  /** Starts the read loop. */
  start(): void {
    this.loop = this.run();
  }

  /** Stops the loop (the outstanding read is aborted). */
  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      const ok = await this.readOnce();
      if (!ok && !this.stopped.signal.aborted) await delay(DEFAULT_LIMITS.watchRetryMs);
    }
  }

  private async readOnce(): Promise<boolean> {
    const wait = DEFAULT_LIMITS.watchWaitMs;
    const query = this.index === undefined ? '' : `?index=${this.index}&wait=${wait}`;
    try {
      const signal = AbortSignal.any([this.stopped.signal, AbortSignal.timeout(wait + 2_000)]);
      const res = await fetch(`${this.agent.url}/v1/members${query}`, { signal });
      if (res.status !== 200) {
        await res.body?.cancel();
        return false;
      }
      const members = parseMembers(await res.json());
      const index = Number(res.headers.get(INDEX_HEADER) ?? 'NaN');
      if (members === undefined || !Number.isSafeInteger(index)) return false;
      this.reads++;
      if (this.index !== undefined && index < this.index) this.apply(new Map());
      this.index = index;
      const next = new Map<number, ViewEntry>();
      for (const m of members) {
        const i = this.indexOf(m.id);
        if (i >= 0) next.set(i, { state: m.state, generation: m.generation, incarnation: m.incarnation });
      }
      this.apply(next);
      return true;
    } catch {
      return false;
    }
  }

  /** Replaces the view, reporting every member whose state or generation changed. */
  private apply(next: Map<number, ViewEntry>): void {
    const at = this.now();
    const members = new Set([...this.view.keys(), ...next.keys()]);
    for (const member of [...members].sort((a, b) => a - b)) {
      const before = this.view.get(member);
      const after = next.get(member);
      const from = before?.state ?? 'absent';
      const to = after?.state ?? 'absent';
      if (from === to && before?.generation === after?.generation) continue;
      this.onChange({
        at,
        observer: this.observer,
        member,
        from,
        to,
        generation: after?.generation ?? before?.generation ?? 0,
        incarnation: after?.incarnation ?? before?.incarnation ?? 0,
      });
    }
    this.view = next;
  }
}
