import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, errorMessage, UserError } from '../../../common/src/errors.js';
import { isAtomicTempFile, writeFileAtomic } from '../state/atomic-write.js';
import { convertResult, parseResult } from './result.js';
import type { CniResult, NetworkConfigList, RuntimeConf, SpecVersion } from './spec.js';

/*
 * The attachment cache, in libcni's layout and format, so that tools that
 * read libcni caches (and libcni itself) understand ours:
 *   <CNI_CACHE_DIR>/results/<network>-<containerID>-<ifname>
 * holding {"kind":"cniCacheV1", containerId, config (base64 of the list),
 * ifName, networkName, netns, cniArgs, capabilityArgs, result}.
 */

export const DEFAULT_CACHE_DIR = '/var/lib/cni';
const CACHE_KIND = 'cniCacheV1';

export interface CachedAttachment {
  containerId: string;
  ifName: string;
  networkName: string;
  netns: string;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  /** The network configuration list the attachment was made with. */
  config: Record<string, unknown> | undefined;
  result: CniResult | undefined;
  path: string;
}

export function cacheFilePath(cacheDir: string, network: string, containerId: string, ifName: string): string {
  return join(cacheDir, 'results', `${network}-${containerId}-${ifName}`);
}

export function writeCacheEntry(cacheDir: string, list: NetworkConfigList, rt: RuntimeConf, result: CniResult): void {
  const entry: Record<string, unknown> = {
    kind: CACHE_KIND,
    containerId: rt.containerId,
    config: Buffer.from(JSON.stringify(list.raw)).toString('base64'),
    ifName: rt.ifName,
    networkName: list.name,
    netns: rt.netns,
  };
  if (rt.args.length > 0) entry['cniArgs'] = rt.args;
  if (Object.keys(rt.capabilityArgs).length > 0) entry['capabilityArgs'] = rt.capabilityArgs;
  entry['result'] = result;
  writeFileAtomic(cacheFilePath(cacheDir, list.name, rt.containerId, rt.ifName), JSON.stringify(entry));
}

export function removeCacheEntry(cacheDir: string, network: string, containerId: string, ifName: string): void {
  rmSync(cacheFilePath(cacheDir, network, containerId, ifName), { force: true });
}

function decodeEntry(text: string, path: string): CachedAttachment {
  const doc = JSON.parse(text) as Record<string, unknown>;
  if (doc['kind'] !== CACHE_KIND) throw new Error(`unknown cache kind ${JSON.stringify(doc['kind'])}`);
  let config: Record<string, unknown> | undefined;
  if (typeof doc['config'] === 'string') {
    try {
      config = JSON.parse(Buffer.from(doc['config'], 'base64').toString('utf8')) as Record<string, unknown>;
    } catch {
      config = undefined;
    }
  }
  const rawResult = doc['result'];
  const version = (config?.['cniVersion'] ?? '1.0.0') as SpecVersion;
  return {
    containerId: String(doc['containerId'] ?? ''),
    ifName: String(doc['ifName'] ?? ''),
    networkName: String(doc['networkName'] ?? ''),
    netns: typeof doc['netns'] === 'string' ? doc['netns'] : '',
    cniArgs: Array.isArray(doc['cniArgs']) ? (doc['cniArgs'] as Array<[string, string]>) : [],
    capabilityArgs: (doc['capabilityArgs'] as Record<string, unknown> | undefined) ?? {},
    config,
    result: rawResult === undefined || rawResult === null ? undefined : parseResult(rawResult, version),
    path,
  };
}

/** The cached attachment, or undefined when there is none. A corrupt file is an error naming it. */
export function readCacheEntry(
  cacheDir: string,
  network: string,
  containerId: string,
  ifName: string,
): CachedAttachment | undefined {
  const path = cacheFilePath(cacheDir, network, containerId, ifName);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new UserError(`cannot read the CNI cache file ${path}: ${errorMessage(err)}`);
  }
  try {
    const entry = decodeEntry(text, path);
    if (entry.containerId !== containerId || entry.ifName !== ifName || entry.networkName !== network) {
      return undefined; // another attachment whose name collides in libcni's layout
    }
    return entry;
  } catch (err) {
    throw new UserError(`corrupt CNI cache file ${path}: ${errorMessage(err)}`);
  }
}

/** The cached result in the network's version (libcni's getCachedResult). */
export function cachedResultAs(entry: CachedAttachment | undefined, version: SpecVersion): CniResult | undefined {
  if (!entry?.result) return undefined;
  return convertResult(entry.result, version);
}

/** Every readable cache entry (for GC); unreadable files are skipped. */
export function listCacheEntries(cacheDir: string): CachedAttachment[] {
  const dir = join(cacheDir, 'results');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const entries: CachedAttachment[] = [];
  for (const name of names) {
    if (isAtomicTempFile(name)) continue;
    const path = join(dir, name);
    try {
      entries.push(decodeEntry(readFileSync(path, 'utf8'), path));
    } catch {
      // not ours to judge: left alone
    }
  }
  return entries;
}
