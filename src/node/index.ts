/**
 * `cairn/node`: the agent. Configuration (defaults < YAML file < environment < flags), the port
 * plan, role plug points (the membership role is real), the `/v1` membership routes and
 * `startAgent`, which composes identity, logs, metrics, the HTTP server and roles into one node.
 *
 * @packageDocumentation
 */
export { type Agent, type AgentAddresses, type AgentOptions, defaultRoles, startAgent } from './agent.js';
export {
  type AgentConfig,
  type AgentMembershipConfig,
  type BindConfig,
  buildAgentConfig,
  type ConfigLayer,
  type ConfigValue,
  checkField,
  defaultAgentConfig,
  envLayer,
  flagLayer,
  type KeyringConfig,
  type LoadConfigOptions,
  loadAgentConfig,
  parseConfigText,
  readConfigFile,
} from './config.js';
export {
  CONFIG_FIELDS,
  CONFIG_LIMITS,
  type FieldSpec,
  type ListSpec,
  LOG_LEVELS,
  type LogLevel,
  MEMBERSHIP_PRESETS,
  type MembershipPreset,
  ROLE_NAMES,
  ROLE_SERVICES,
  type RoleName,
  SERVICE_PORT_FIELDS,
  type ServiceName,
  servedServices,
} from './config-fields.js';
export { buildHttpApp, type HealthReport, type HttpDeps, listenHttp } from './http.js';
export {
  INDEX_HEADER,
  isLoopback,
  type JsonStateValue,
  MEMBERS_HTTP_LIMITS,
  type MemberJson,
  type MembersJson,
  membersJson,
  memberToJson,
  registerMembersRoutes,
  stateValueToJson,
} from './members-http.js';
export { MEMBERS_WATCH_LIMITS, MembersWatch, type WatchRefusal } from './members-watch.js';
export { type MembershipProtocolSettings, membershipProtocol } from './membership-protocol.js';
export {
  isMembershipProvider,
  JOIN_BACKOFF,
  MEMBERSHIP_CHANNEL,
  type MemberCounts,
  type MembershipProvider,
  MembershipRole,
  type MembershipRoleOptions,
} from './membership-role.js';
export {
  bindFailureReason,
  checkBasePort,
  DEFAULT_BASE_PORT,
  formatHostPort,
  isHost,
  MAX_BASE_PORT,
  type NodePorts,
  PORT_PLAN_MAX_NODES,
  parseHostPort,
  portPlan,
} from './ports.js';
export { printable, printableLines } from './printable.js';
export {
  PlaceholderRole,
  type Role,
  type RoleContext,
  type RoleFactory,
  type RoleHealth,
  RoleRegistry,
  type RoleState,
} from './role.js';
export { CAIRN_VERSION } from './version.js';
