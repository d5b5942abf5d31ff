/*
 * Types of the CNI specification (SPEC.md of containernetworking/cni), from
 * 0.1.0 to 1.1.0, as the runtime sees them.
 */

export const SPEC_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type SpecVersion = (typeof SPEC_VERSIONS)[number];

export function isSpecVersion(value: unknown): value is SpecVersion {
  return typeof value === 'string' && (SPEC_VERSIONS as readonly string[]).includes(value);
}

/** Compares two spec versions: negative, zero or positive. */
export function compareVersions(a: SpecVersion, b: SpecVersion): number {
  return SPEC_VERSIONS.indexOf(a) - SPEC_VERSIONS.indexOf(b);
}

export function versionAtLeast(version: SpecVersion, minimum: SpecVersion): boolean {
  return compareVersions(version, minimum) >= 0;
}

/** The three result formats the spec has had. */
export type ResultFormat = '0.2' | '0.4' | '1.0';

export function resultFormatOf(version: SpecVersion): ResultFormat {
  if (version === '0.1.0' || version === '0.2.0') return '0.2';
  if (version === '0.3.0' || version === '0.3.1' || version === '0.4.0') return '0.4';
  return '1.0';
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Route {
  dst: string;
  gw?: string;
  /** 1.1.0 additions */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

/** Result of spec 0.1.0 and 0.2.0. */
export interface IpConfig020 {
  ip: string;
  gateway?: string;
  routes?: Route[];
}

export interface Result020 {
  cniVersion: '0.1.0' | '0.2.0';
  ip4?: IpConfig020;
  ip6?: IpConfig020;
  dns?: Dns;
}

export interface Interface {
  name: string;
  mac?: string;
  sandbox?: string;
  /** 1.1.0 additions */
  mtu?: number;
  socketPath?: string;
  pciID?: string;
}

export interface IpConfig040 {
  version: '4' | '6';
  interface?: number;
  address: string;
  gateway?: string;
}

/** Result of spec 0.3.0, 0.3.1 and 0.4.0. */
export interface Result040 {
  cniVersion: '0.3.0' | '0.3.1' | '0.4.0';
  interfaces?: Interface[];
  ips?: IpConfig040[];
  routes?: Route[];
  dns?: Dns;
}

export interface IpConfig100 {
  interface?: number;
  address: string;
  gateway?: string;
}

/** Result of spec 1.0.0 and 1.1.0. */
export interface Result100 {
  cniVersion: '1.0.0' | '1.1.0';
  interfaces?: Interface[];
  ips?: IpConfig100[];
  routes?: Route[];
  dns?: Dns;
}

export type CniResult = Result020 | Result040 | Result100;

/** The error a plugin prints on stdout when it fails (spec: "Error"). */
export interface CniErrorResult {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

/** Well-known error codes of the spec. */
export const ERROR_CODES: Record<number, string> = {
  1: 'incompatible CNI version',
  2: 'unsupported field in network configuration',
  3: 'container unknown or does not exist',
  4: 'invalid necessary environment variables',
  5: 'I/O failure',
  6: 'failed to decode content',
  7: 'invalid network config',
  11: 'try again later',
  50: 'plugin not available',
  51: 'plugin not available (limited connectivity)',
};

/** One plugin's entry in a network configuration list. */
export interface PluginConfig {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** A network configuration list, as loaded (spec "Network Configuration"). */
export interface NetworkConfigList {
  name: string;
  cniVersion: SpecVersion;
  disableCheck: boolean;
  disableGC: boolean;
  plugins: PluginConfig[];
  /** Where it came from: a file path, or "built-in". */
  source: string;
  /** The document as loaded (after upgrading a single .conf to a list). */
  raw: Record<string, unknown>;
}

/** The runtime's per-attachment inputs (libcni's RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs, in order. */
  args: Array<[string, string]>;
  /** Capability arguments, offered to the plugins that declare each capability. */
  capabilityArgs: Record<string, unknown>;
}

export interface GcAttachment {
  containerID: string;
  ifname: string;
}

export interface VersionInfo {
  cniVersion: string;
  supportedVersions: string[];
}
