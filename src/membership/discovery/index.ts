/**
 * Discovery: where a node finds seeds to join, and re-seeds when it knows no peer. Providers for a
 * static list, DNS (A/AAAA/SRV), mDNS and a file, a composite of several, and the {@link Reseeder}
 * that retries them with backoff.
 *
 * @packageDocumentation
 */
export { addressOf, normalizeAddress, parseSeedAddress } from './address.js';
export { CompositeDiscovery, type CompositeDiscoveryOptions, mergeAddresses } from './composite.js';
export { DnsDiscovery, type DnsDiscoveryOptions, type DnsResolverLike } from './dns.js';
export { FileDiscovery, type FileDiscoveryOptions, type ParsedSeedFile, parseSeedFile } from './file.js';
export { DEFAULT_LIMITS, type DiscoveryLimits, discoveryLimits } from './limits.js';
export {
  MdnsDiscovery,
  type MdnsDiscoveryOptions,
  type MdnsQuestion,
  type MdnsRecord,
  type MdnsSocket,
  type MdnsSocketOptions,
} from './mdns.js';
export { type BackoffOptions, backoffDelayMs, Reseeder, type ReseederOptions } from './reseeder.js';
export { orderSrv, type SrvRecord } from './srv.js';
export { StaticDiscovery } from './static.js';
export { type AddressListener, type DiscoveryProvider, type DiscoveryStats, emptyStats } from './types.js';
