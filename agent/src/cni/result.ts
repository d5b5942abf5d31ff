import { isIPv4 } from 'node:net';
import { isObject } from '../../../common/src/json.js';
import {
  type CniResult,
  type IpConfig020,
  type IpConfig040,
  isSpecVersion,
  type Result020,
  type Result040,
  type Result100,
  resultFormatOf,
  type Route,
  type SpecVersion,
} from './spec.js';

/*
 * Parsing and version conversion of CNI results, so that every plugin gets
 * its prevResult, and the caller its final result, in the network's version
 * (libcni's pkg/types/create and the convert functions of each types package).
 */

export class ResultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResultError';
  }
}


function expect(condition: boolean, message: string): void {
  if (!condition) throw new ResultError(message);
}

function checkOptionalString(obj: Record<string, unknown>, key: string, where: string): void {
  expect(obj[key] === undefined || typeof obj[key] === 'string', `${where}.${key} is not a string`);
}

function checkRoutes(routes: unknown, where: string): void {
  if (routes === undefined) return;
  expect(Array.isArray(routes), `${where} is not an array`);
  (routes as unknown[]).forEach((route, i) => {
    expect(isObject(route), `${where}[${i}] is not an object`);
    const r = route as Record<string, unknown>;
    expect(typeof r['dst'] === 'string', `${where}[${i}].dst is not a string`);
    checkOptionalString(r, 'gw', `${where}[${i}]`);
  });
}

/**
 * Reads a plugin's result document. A result without a cniVersion is taken to
 * be in `fallbackVersion` (the version of the config it was given), as libcni does.
 */
export function parseResult(document: unknown, fallbackVersion: SpecVersion): CniResult {
  expect(isObject(document), 'the result is not a JSON object');
  const doc = { ...(document as Record<string, unknown>) };
  if (doc['cniVersion'] === undefined || doc['cniVersion'] === '') doc['cniVersion'] = fallbackVersion;
  const version = doc['cniVersion'];
  expect(isSpecVersion(version), `the result has an unknown cniVersion ${JSON.stringify(version)}`);
  const format = resultFormatOf(version as SpecVersion);
  if (format === '0.2') {
    for (const family of ['ip4', 'ip6']) {
      const ip = doc[family];
      if (ip === undefined) continue;
      expect(isObject(ip), `${family} is not an object`);
      const cfg = ip as Record<string, unknown>;
      expect(typeof cfg['ip'] === 'string', `${family}.ip is not a string`);
      checkOptionalString(cfg, 'gateway', family);
      checkRoutes(cfg['routes'], `${family}.routes`);
    }
  } else {
    if (doc['interfaces'] !== undefined) {
      expect(Array.isArray(doc['interfaces']), 'interfaces is not an array');
      (doc['interfaces'] as unknown[]).forEach((iface, i) => {
        expect(isObject(iface), `interfaces[${i}] is not an object`);
        expect(typeof (iface as Record<string, unknown>)['name'] === 'string', `interfaces[${i}].name is not a string`);
      });
    }
    if (doc['ips'] !== undefined) {
      expect(Array.isArray(doc['ips']), 'ips is not an array');
      (doc['ips'] as unknown[]).forEach((ip, i) => {
        expect(isObject(ip), `ips[${i}] is not an object`);
        const cfg = ip as Record<string, unknown>;
        expect(typeof cfg['address'] === 'string', `ips[${i}].address is not a string`);
        checkOptionalString(cfg, 'gateway', `ips[${i}]`);
        expect(cfg['interface'] === undefined || Number.isInteger(cfg['interface']), `ips[${i}].interface is not an integer`);
        if (format === '0.4' && cfg['version'] === undefined) cfg['version'] = familyOf(cfg['address'] as string);
      });
    }
    checkRoutes(doc['routes'], 'routes');
  }
  expect(doc['dns'] === undefined || isObject(doc['dns']), 'dns is not an object');
  return doc as unknown as CniResult;
}

function familyOf(cidr: string): '4' | '6' {
  const address = cidr.split('/')[0] ?? '';
  return isIPv4(address) ? '4' : '6';
}

function from020To040(result: Omit<Result020, 'cniVersion'>): Omit<Result040, 'cniVersion'> {
  const ips: IpConfig040[] = [];
  const routes: Route[] = [];
  for (const [family, version] of [
    ['ip4', '4'],
    ['ip6', '6'],
  ] as const) {
    const cfg = result[family];
    if (!cfg) continue;
    const ip: IpConfig040 = { version, address: cfg.ip };
    if (cfg.gateway !== undefined) ip.gateway = cfg.gateway;
    ips.push(ip);
    routes.push(...(cfg.routes ?? []));
  }
  const out: Omit<Result040, 'cniVersion'> = { ips };
  if (routes.length > 0) out.routes = routes;
  if (result.dns) out.dns = result.dns;
  return out;
}

function from040To020(result: Omit<Result040, 'cniVersion'>): Omit<Result020, 'cniVersion'> {
  const out: Omit<Result020, 'cniVersion'> = {};
  for (const ip of result.ips ?? []) {
    const family = ip.version === '4' ? 'ip4' : 'ip6';
    if (out[family]) continue; // 0.2.0 holds one address per family
    const cfg: IpConfig020 = { ip: ip.address };
    if (ip.gateway !== undefined) cfg.gateway = ip.gateway;
    out[family] = cfg;
  }
  if (!out.ip4 && !out.ip6) {
    throw new ResultError('cannot convert the result to spec 0.2.0: it has no IP addresses');
  }
  for (const route of result.routes ?? []) {
    const family = familyOf(route.dst) === '4' ? 'ip4' : 'ip6';
    const cfg = out[family];
    if (cfg) (cfg.routes ??= []).push(route);
  }
  if (result.dns) out.dns = result.dns;
  return out;
}

function from040To100(result: Omit<Result040, 'cniVersion'>): Omit<Result100, 'cniVersion'> {
  const { ips, ...rest } = result;
  const out: Omit<Result100, 'cniVersion'> = { ...rest };
  if (ips) out.ips = ips.map(({ version: _version, ...ip }) => ip);
  return out;
}

function from100To040(result: Omit<Result100, 'cniVersion'>): Omit<Result040, 'cniVersion'> {
  const { ips, ...rest } = result;
  const out: Omit<Result040, 'cniVersion'> = { ...rest };
  if (ips) out.ips = ips.map((ip) => ({ version: familyOf(ip.address), ...ip }));
  return out;
}

/** Converts a result to another spec version (any pair, through 0.4 when needed). */
export function convertResult(result: CniResult, to: SpecVersion): CniResult {
  const { cniVersion: fromVersion, ...body } = result;
  const from = resultFormatOf(fromVersion as SpecVersion);
  const target = resultFormatOf(to);
  if (from === target) return { ...body, cniVersion: to } as CniResult;
  let as040: Omit<Result040, 'cniVersion'>;
  if (from === '0.2') as040 = from020To040(body as Omit<Result020, 'cniVersion'>);
  else if (from === '1.0') as040 = from100To040(body as Omit<Result100, 'cniVersion'>);
  else as040 = body as Omit<Result040, 'cniVersion'>;
  let converted: object;
  if (target === '0.2') converted = from040To020(as040);
  else if (target === '1.0') converted = from040To100(as040);
  else converted = as040;
  return { ...converted, cniVersion: to } as CniResult;
}

/** The addresses of a result, as CIDR strings, whatever its version. */
export function resultAddresses(result: CniResult): string[] {
  if (resultFormatOf(result.cniVersion as SpecVersion) === '0.2') {
    const r = result as Result020;
    return [r.ip4?.ip, r.ip6?.ip].filter((ip): ip is string => typeof ip === 'string');
  }
  return ((result as Result040 | Result100).ips ?? []).map((ip) => ip.address);
}
