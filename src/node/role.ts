import { CairnError, type Logger, type Metrics } from '../core/index.js';
import type { NodeIdentity } from '../security/identity.js';
import type { AgentConfig } from './config.js';
import { ROLE_NAMES, type RoleName } from './config-fields.js';

/**
 * Roles: the plug points of the agent.
 *
 * A role is one brick running inside an agent (membership, the store, kv, the config center, the
 * config agent). The agent starts the configured roles in {@link ROLE_NAMES} order (a role may rely
 * on the ones before it, e.g. kv on membership) and stops them in reverse. Until a brick fills its
 * role, the registry holds a placeholder that does nothing and says so in `/health`.
 */

/**
 * What a role reports about itself.
 * - `not-implemented`: a placeholder; the brick does not exist yet.
 * - `starting`, `running`, `stopping`, `stopped`: the normal life of a role.
 * - `failed`: the role hit an error it cannot recover from; `detail` says which.
 */
export type RoleState = 'not-implemented' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** A role's health, as `/health` shows it. */
export interface RoleHealth {
  /** The role's state. */
  state: RoleState;
  /** A sentence for humans when the state needs one. */
  detail?: string;
  /** Numbers the role reports about itself (membership: members by state). */
  counts?: Readonly<Record<string, number>>;
}

/** What a role gets from the agent when it starts. */
export interface RoleContext {
  /** The agent's configuration (every role reads its own ports and settings from it). */
  readonly config: AgentConfig;
  /** The node's name. */
  readonly name: string;
  /** The node's identity (signing key and NodeId). */
  readonly identity: NodeIdentity;
  /** A logger bound to `{ brick: <role name> }`. */
  readonly logger: Logger;
  /** The node's metrics registry. */
  readonly metrics: Metrics;
  /** Aborted when the agent begins to stop; long-running work should watch it. */
  readonly signal: AbortSignal;
  /** The roles already started (in start order), for a role that builds on another (store on membership). */
  readonly started: readonly Role[];
}

/**
 * A role plugged into the agent.
 *
 * Contract: `start` resolves once the role serves (its ports are bound); if it rejects, the agent
 * stops the roles started before it and fails to start. `stop` releases every resource and is
 * called once, only after a successful `start`. `health` is synchronous and cheap: `/health` calls
 * it on every request.
 */
export interface Role {
  /** The role's name. */
  readonly name: RoleName;
  /** Starts the role. */
  start(ctx: RoleContext): Promise<void>;
  /** Stops the role. */
  stop(): Promise<void>;
  /** The role's current health. */
  health(): RoleHealth;
}

/** Makes a role for an agent. */
export type RoleFactory = (config: AgentConfig) => Role;

/**
 * A role that is not built yet. It starts and stops without doing anything and reports
 * `not-implemented`, so `/health` never claims a service the node does not run.
 */
export class PlaceholderRole implements Role {
  constructor(readonly name: RoleName) {}

  async start(ctx: RoleContext): Promise<void> {
    ctx.logger.debug({ role: this.name }, 'role is a placeholder: its brick is not implemented yet');
  }

  async stop(): Promise<void> {}

  health(): RoleHealth {
    return { state: 'not-implemented' };
  }
}

/**
 * The role factories an agent uses, by name. Later bricks register their factory over the
 * placeholder.
 *
 * @example
 * ```ts
 * const roles = RoleRegistry.withPlaceholders();
 * roles.register('membership', (config) => new MembershipRole(config));
 * await startAgent(config, { roles });
 * ```
 */
export class RoleRegistry {
  private readonly factories = new Map<RoleName, RoleFactory>();

  /** A registry with a {@link PlaceholderRole} for every role. */
  static withPlaceholders(): RoleRegistry {
    const registry = new RoleRegistry();
    for (const name of ROLE_NAMES) registry.register(name, () => new PlaceholderRole(name));
    return registry;
  }

  /** Sets the factory for `name`, replacing any earlier one. */
  register(name: RoleName, factory: RoleFactory): this {
    this.factories.set(name, factory);
    return this;
  }

  /**
   * Makes the roles `config.roles` asks for, in start order ({@link ROLE_NAMES} order).
   *
   * @throws `AGENT_START_FAILED` when a requested role has no factory, or a factory returns a role
   * with another name
   */
  create(config: AgentConfig): Role[] {
    const wanted = new Set(config.roles);
    return ROLE_NAMES.filter((name) => wanted.has(name)).map((name) => {
      const factory = this.factories.get(name);
      if (factory === undefined)
        throw new CairnError('AGENT_START_FAILED', `no implementation is registered for role "${name}"`);
      const role = factory(config);
      if (role.name !== name) {
        throw new CairnError(
          'AGENT_START_FAILED',
          `the factory for role "${name}" made a role named "${role.name}"`,
        );
      }
      return role;
    });
  }
}
