/**
 * `cairn/node`: the agent. Configuration (defaults < YAML file < environment < flags), the port
 * plan, role plug points and `startAgent`, which composes identity, logs, metrics, the HTTP server
 * and roles into one running node.
 *
 * @packageDocumentation
 */
export { type Agent, type AgentAddresses, type AgentOptions, startAgent } from './agent.js';
export {
  type AgentConfig,
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
  ROLE_NAMES,
  type RoleName,
} from './config-fields.js';
export { buildHttpApp, type HealthReport, type HttpDeps, listenHttp } from './http.js';
export {
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
