import { readdirSync, readFileSync } from 'node:fs';
import { isObject } from '../../../common/src/json.js';
import { extname, join } from 'node:path';
import { errnoCode, errorMessage, UserError } from '../../../common/src/errors.js';
import { validateNetworkName } from '../../../common/src/validate.js';
import { DEFAULT_NETWORK_NAME, defaultNetworkDocument } from './default-network.js';
import { compareVersions, isSpecVersion, type NetworkConfigList, type PluginConfig, SPEC_VERSIONS, type SpecVersion } from './spec.js';

/*
 * Network configuration loading, by libcni's rules (conf.go): `.conflist`
 * files first, in lexical order, the first whose name matches wins; then
 * `.conf` and `.json` files, a single-plugin config upgraded to a list.
 * Unlike libcni, one broken file does not stop other networks from loading;
 * it is only reported when the network asked for is not found elsewhere.
 */

export class ConfigError extends UserError {}

/** Plugin types become file names under CNI_PATH: no path separators, no dot-dot. */
const PLUGIN_TYPE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;


/** libcni accepts a bool or the strings "true"/"false" for disableCheck and disableGC. */
function readFlag(doc: Record<string, unknown>, key: string, source: string): boolean {
  const value = doc[key];
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ConfigError(`${source}: "${key}" must be a boolean, got ${JSON.stringify(value)}`);
}

/** 1.1.0's `cniVersions` lets a list name several versions: take the newest we know. */
function readVersion(doc: Record<string, unknown>, source: string): SpecVersion {
  const versions = doc['cniVersions'];
  if (versions !== undefined) {
    if (!Array.isArray(versions)) throw new ConfigError(`${source}: "cniVersions" must be an array of strings`);
    const known = versions.filter(isSpecVersion).sort(compareVersions);
    const newest = known[known.length - 1];
    if (newest) return newest;
  }
  const version = doc['cniVersion'];
  if (version === undefined || version === '') {
    throw new ConfigError(`${source}: "cniVersion" is missing`);
  }
  if (!isSpecVersion(version)) {
    throw new ConfigError(
      `${source}: unknown cniVersion ${JSON.stringify(version)} (known: ${SPEC_VERSIONS.join(', ')})`,
    );
  }
  return version;
}

function readPlugin(value: unknown, where: string): PluginConfig {
  if (!isObject(value)) throw new ConfigError(`${where} is not a JSON object`);
  const type = value['type'];
  if (typeof type !== 'string' || type === '') throw new ConfigError(`${where} has no "type"`);
  if (!PLUGIN_TYPE.test(type) || type.length > 255) {
    throw new ConfigError(`${where} has an invalid "type" ${JSON.stringify(type)}: it must be a plain file name`);
  }
  const capabilities = value['capabilities'];
  if (capabilities !== undefined && !isObject(capabilities)) {
    throw new ConfigError(`${where}: "capabilities" must be an object`);
  }
  return value as PluginConfig;
}

function readName(doc: Record<string, unknown>, source: string): string {
  try {
    return validateNetworkName(doc['name']);
  } catch (err) {
    throw new ConfigError(`${source}: ${errorMessage(err)}`);
  }
}

/** A `.conflist` document. */
export function parseConfigList(document: unknown, source: string): NetworkConfigList {
  if (!isObject(document)) throw new ConfigError(`${source}: the configuration is not a JSON object`);
  const name = readName(document, source);
  const cniVersion = readVersion(document, source);
  const plugins = document['plugins'];
  if (!Array.isArray(plugins) || plugins.length === 0) {
    throw new ConfigError(`${source}: "plugins" must be a non-empty array`);
  }
  return {
    name,
    cniVersion,
    disableCheck: readFlag(document, 'disableCheck', source),
    disableGC: readFlag(document, 'disableGC', source),
    plugins: plugins.map((plugin, i) => readPlugin(plugin, `${source}: plugins[${i}]`)),
    source,
    raw: document,
  };
}

/** A single-plugin `.conf`/`.json` document, upgraded to a list as libcni's ConfListFromConf does. */
export function parseSingleConfig(document: unknown, source: string): NetworkConfigList {
  if (!isObject(document)) throw new ConfigError(`${source}: the configuration is not a JSON object`);
  const name = readName(document, source);
  const plugin = readPlugin(document, source);
  const cniVersion = readVersion(document, source);
  const raw = { cniVersion, name, plugins: [document] };
  return { name, cniVersion, disableCheck: false, disableGC: false, plugins: [plugin], source, raw };
}

function parseJsonFile(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: invalid JSON: ${errorMessage(err)}`);
  }
}

function listConfigFiles(dir: string): { lists: string[]; singles: string[] } {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { lists: [], singles: [] };
    throw new ConfigError(`cannot read the network configuration directory ${dir}: ${errorMessage(err)}`);
  }
  entries.sort();
  return {
    lists: entries.filter((f) => extname(f) === '.conflist').map((f) => join(dir, f)),
    singles: entries.filter((f) => extname(f) === '.conf' || extname(f) === '.json').map((f) => join(dir, f)),
  };
}

export interface LoadedNetworks {
  networks: NetworkConfigList[];
  /** Files that could not be read or parsed, with the reason. */
  broken: Array<{ path: string; error: string }>;
}

/** Every network defined in `dir` (first definition of each name wins), plus the files that failed. */
export function loadAllNetworks(dir: string): LoadedNetworks {
  const { lists, singles } = listConfigFiles(dir);
  const networks = new Map<string, NetworkConfigList>();
  const broken: LoadedNetworks['broken'] = [];
  const load = (path: string, parse: typeof parseConfigList) => {
    try {
      const list = parse(parseJsonFile(path), path);
      if (!networks.has(list.name)) networks.set(list.name, list);
    } catch (err) {
      broken.push({ path, error: errorMessage(err) });
    }
  };
  for (const path of lists) load(path, parseConfigList);
  for (const path of singles) load(path, parseSingleConfig);
  return { networks: [...networks.values()], broken };
}

/**
 * The network called `name`: from `dir`, else the built-in `podman` network.
 * Files are read only until the first match, like libcni.
 */
export function loadNetworkList(dir: string, name: string): NetworkConfigList {
  validateNetworkName(name);
  const { lists, singles } = listConfigFiles(dir);
  const broken: string[] = [];
  const tryFile = (path: string, parse: typeof parseConfigList): NetworkConfigList | undefined => {
    let document: unknown;
    try {
      document = parseJsonFile(path);
    } catch (err) {
      broken.push(errorMessage(err));
      return undefined;
    }
    // A file that names this network but is otherwise invalid is this network's error.
    if (isObject(document) && document['name'] === name) return parse(document, path);
    return undefined;
  };
  for (const path of lists) {
    const found = tryFile(path, parseConfigList);
    if (found) return found;
  }
  for (const path of singles) {
    const found = tryFile(path, parseSingleConfig);
    if (found) return found;
  }
  if (name === DEFAULT_NETWORK_NAME) return parseConfigList(defaultNetworkDocument(), 'built-in');
  const reasons = broken.length > 0 ? `; unreadable files: ${broken.join('; ')}` : '';
  throw new ConfigError(`network "${name}" not found in ${dir}${reasons}`);
}
