import { secondsFromEnv } from '../../../common/src/env.js';
import { errorMessage, UserError } from '../../../common/src/errors.js';
import { trace } from '../../../common/src/trace.js';
import { validateContainerId, validateInterfaceName } from '../../../common/src/validate.js';
import { cachedResultAs, listCacheEntries, readCacheEntry, removeCacheEntry, writeCacheEntry, DEFAULT_CACHE_DIR } from './cache.js';
import {
  type CniCommand,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_PLUGIN_TIMEOUT_MS,
  type ExecLimits,
  execPlugin,
  findPlugin,
  PluginError,
} from './exec.js';
import { convertResult, parseResult, ResultError } from './result.js';
import {
  type CniResult,
  type GcAttachment,
  type NetworkConfigList,
  type PluginConfig,
  type RuntimeConf,
  versionAtLeast,
  type VersionInfo,
} from './spec.js';

/*
 * The CNI runtime: what libcni's CNIConfig does (api.go), in TypeScript.
 * ADD runs the chain in order, each result becoming the next plugin's
 * prevResult; unlike libcni, a failure mid-chain runs DEL over the whole chain
 * (as podman does) so nothing is leaked. DEL runs in reverse with the cached
 * result; CHECK, GC and STATUS follow the spec's version rules.
 */

export const DEFAULT_CNI_PATH = ['/opt/cni/bin', '/usr/lib/cni', '/usr/libexec/cni'];

export interface RuntimeOptions {
  pluginPath: string[];
  cacheDir: string;
  limits: ExecLimits;
}

/** Options from the environment: CNI_PATH, CNI_CACHE_DIR, ROOTLESS_CNI_INFRA_PLUGIN_TIMEOUT (seconds). */
export function runtimeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeOptions {
  const timeoutMs = secondsFromEnv(env, 'ROOTLESS_CNI_INFRA_PLUGIN_TIMEOUT', DEFAULT_PLUGIN_TIMEOUT_MS);
  return {
    pluginPath: env['CNI_PATH'] ? env['CNI_PATH'].split(':').filter((d) => d !== '') : DEFAULT_CNI_PATH,
    cacheDir: env['CNI_CACHE_DIR'] || DEFAULT_CACHE_DIR,
    limits: { timeoutMs, maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES },
  };
}

/** CNI_ARGS as the spec writes it: K=V pairs joined by ';'. */
export function formatCniArgs(args: Array<[string, string]>): string {
  return args.map(([key, value]) => `${key}=${value}`).join(';');
}

function validateRuntimeConf(rt: RuntimeConf, needsNetns: boolean): void {
  validateContainerId(rt.containerId);
  validateInterfaceName(rt.ifName);
  if (needsNetns && !rt.netns) throw new UserError('no network namespace path given');
  for (const [key, value] of rt.args) {
    if (/[;=\p{Cc}]/u.test(key) || /[;=\p{Cc}]/u.test(value) || key === '') {
      throw new UserError(`invalid CNI_ARGS entry ${JSON.stringify(`${key}=${value}`)}`);
    }
  }
}

/** The stdin document of one plugin (libcni's buildOneConfig). */
export function buildPluginConfig(
  list: NetworkConfigList,
  plugin: PluginConfig,
  prevResult: CniResult | undefined,
  rt: RuntimeConf | undefined,
): Record<string, unknown> {
  const config: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult) config['prevResult'] = prevResult;
  else delete config['prevResult'];
  if (rt) {
    // Capability args go only to plugins that declare the capability.
    const runtimeConfig: Record<string, unknown> = {};
    for (const [capability, supported] of Object.entries(plugin.capabilities ?? {})) {
      if (supported === true && rt.capabilityArgs[capability] !== undefined) {
        runtimeConfig[capability] = rt.capabilityArgs[capability];
      }
    }
    if (Object.keys(runtimeConfig).length > 0) config['runtimeConfig'] = runtimeConfig;
  }
  return config;
}

export class CniRuntime {
  constructor(readonly options: RuntimeOptions) {}

  private cniEnv(command: CniCommand, rt?: RuntimeConf): Record<string, string> {
    const env: Record<string, string> = { CNI_COMMAND: command, CNI_PATH: this.options.pluginPath.join(':') };
    if (rt) {
      env['CNI_CONTAINERID'] = rt.containerId;
      env['CNI_NETNS'] = rt.netns;
      env['CNI_IFNAME'] = rt.ifName;
      env['CNI_ARGS'] = formatCniArgs(rt.args);
    }
    return env;
  }

  private async invoke(
    command: CniCommand,
    list: NetworkConfigList,
    plugin: PluginConfig,
    stdin: Record<string, unknown>,
    rt?: RuntimeConf,
  ): Promise<string> {
    const context = { plugin: plugin.type, network: list.name, command };
    let pluginPath: string;
    try {
      pluginPath = findPlugin(plugin.type, this.options.pluginPath);
    } catch (err) {
      throw new PluginError(context, errorMessage(err));
    }
    trace(`${command} ${plugin.type}`);
    try {
      return await execPlugin({
        pluginPath,
        context,
        cniEnv: this.cniEnv(command, rt),
        stdin: JSON.stringify(stdin),
        limits: this.options.limits,
      });
    } catch (err) {
      // Code 1 is "incompatible CNI version": say which versions the plugin has.
      if (err instanceof PluginError && err.cniError?.code === 1) {
        const info = await this.versionInfo(plugin.type).catch(() => undefined);
        if (info) {
          throw new PluginError(
            context,
            `${err.message.replace(/^plugin "[^"]*" failed \w+( for network "[^"]*")?: /, '')}; the plugin supports ${info.supportedVersions.join(', ')} and the network asks for ${list.cniVersion}`,
            err.cniError,
            err.stderr,
          );
        }
      }
      throw err;
    }
  }

  /** VERSION: the spec versions a plugin supports. */
  async versionInfo(type: string): Promise<VersionInfo> {
    const context = { plugin: type, command: 'VERSION' as const };
    const pluginPath = findPlugin(type, this.options.pluginPath);
    const stdout = await execPlugin({
      pluginPath,
      context,
      cniEnv: { CNI_COMMAND: 'VERSION', CNI_PATH: this.options.pluginPath.join(':') },
      stdin: JSON.stringify({ cniVersion: '1.1.0' }),
      limits: this.options.limits,
    });
    try {
      const doc = JSON.parse(stdout) as Record<string, unknown>;
      const supported = doc['supportedVersions'];
      if (!Array.isArray(supported)) throw new Error('no supportedVersions');
      return { cniVersion: String(doc['cniVersion'] ?? ''), supportedVersions: supported.map(String) };
    } catch (err) {
      throw new PluginError(context, `invalid VERSION output: ${errorMessage(err)}`);
    }
  }

  /** ADD over the whole chain; on failure, DEL over the whole chain, then the original error. */
  async addNetworkList(list: NetworkConfigList, rt: RuntimeConf): Promise<CniResult> {
    validateRuntimeConf(rt, true);
    // Every plugin must exist before anything runs: nothing to undo then.
    for (const plugin of list.plugins) {
      try {
        findPlugin(plugin.type, this.options.pluginPath);
      } catch (err) {
        throw new PluginError({ plugin: plugin.type, network: list.name, command: 'ADD' }, errorMessage(err));
      }
    }
    let prevResult: CniResult | undefined;
    try {
      for (const plugin of list.plugins) {
        const stdout = await this.invoke('ADD', list, plugin, buildPluginConfig(list, plugin, prevResult, rt), rt);
        prevResult = this.readAddResult(list, plugin, stdout);
      }
      if (!prevResult) throw new UserError(`network "${list.name}" produced no result`);
      writeCacheEntry(this.options.cacheDir, list, rt, prevResult);
      return prevResult;
    } catch (err) {
      const rollback = await this.runDel(list, rt, versionAtLeast(list.cniVersion, '0.4.0') ? prevResult : undefined);
      if (rollback.length > 0 && err instanceof Error) {
        err.message += ` (cleanup after the failure also failed: ${rollback.map(errorMessage).join('; ')})`;
      }
      throw err;
    }
  }

  private readAddResult(list: NetworkConfigList, plugin: PluginConfig, stdout: string): CniResult {
    const context = { plugin: plugin.type, network: list.name, command: 'ADD' as const };
    let document: unknown;
    try {
      document = JSON.parse(stdout);
    } catch {
      const shown = stdout.trim() === '' ? 'nothing' : JSON.stringify(stdout.trim().slice(0, 200));
      throw new PluginError(context, `printed ${shown} instead of a JSON result`);
    }
    try {
      return convertResult(parseResult(document, list.cniVersion), list.cniVersion);
    } catch (err) {
      if (err instanceof ResultError) throw new PluginError(context, `returned an invalid result: ${err.message}`);
      throw err;
    }
  }

  /** DEL in reverse order; every plugin is tried, and the errors returned. */
  private async runDel(list: NetworkConfigList, rt: RuntimeConf, prevResult: CniResult | undefined): Promise<Error[]> {
    const errors: Error[] = [];
    for (const plugin of [...list.plugins].reverse()) {
      try {
        await this.invoke('DEL', list, plugin, buildPluginConfig(list, plugin, prevResult, rt), rt);
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return errors;
  }

  /**
   * DEL: the cached result is every plugin's prevResult (0.4.0 and later). A
   * missing or unreadable cache, or a netns that is gone, does not stop it.
   * The cache entry is removed once every plugin succeeded.
   */
  async delNetworkList(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    validateRuntimeConf(rt, false);
    let prevResult: CniResult | undefined;
    if (versionAtLeast(list.cniVersion, '0.4.0')) {
      try {
        prevResult = cachedResultAs(readCacheEntry(this.options.cacheDir, list.name, rt.containerId, rt.ifName), list.cniVersion);
      } catch {
        prevResult = undefined; // a corrupt cache must not block the cleanup
      }
    }
    const errors = await this.runDel(list, rt, prevResult);
    if (errors.length > 0) {
      throw new UserError(errors.map(errorMessage).join('; '));
    }
    removeCacheEntry(this.options.cacheDir, list.name, rt.containerId, rt.ifName);
  }

  /** CHECK (0.4.0 and later, unless disableCheck), with the cached result as prevResult. */
  async checkNetworkList(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    validateRuntimeConf(rt, true);
    if (!versionAtLeast(list.cniVersion, '0.4.0')) {
      throw new UserError(
        `network "${list.name}" has cniVersion ${list.cniVersion}, which has no CHECK (it needs 0.4.0 or later)`,
      );
    }
    if (list.disableCheck) return;
    const cached = readCacheEntry(this.options.cacheDir, list.name, rt.containerId, rt.ifName);
    const prevResult = cachedResultAs(cached, list.cniVersion);
    if (!prevResult) {
      throw new UserError(
        `no cached result for container "${rt.containerId}" interface "${rt.ifName}" on network "${list.name}" in ${this.options.cacheDir}`,
      );
    }
    for (const plugin of list.plugins) {
      await this.invoke('CHECK', list, plugin, buildPluginConfig(list, plugin, prevResult, rt), rt);
    }
  }

  removeCachedAttachment(network: string, containerId: string, ifName: string): void {
    removeCacheEntry(this.options.cacheDir, network, containerId, ifName);
  }

  /** The cached attachment of a container on a network, if any. */
  cachedAttachment(network: string, containerId: string, ifName: string) {
    return readCacheEntry(this.options.cacheDir, network, containerId, ifName);
  }

  /**
   * GC (libcni's GCNetworkList): DEL every cached attachment of this network
   * that is not in `valid`, then, for 1.1.0 lists without disableGC, GC on
   * each plugin with cni.dev/valid-attachments. Returns what was removed.
   */
  async gcNetworkList(list: NetworkConfigList, valid: GcAttachment[]): Promise<GcAttachment[]> {
    const keep = new Set(valid.map((a) => `${a.containerID}\u0000${a.ifname}`));
    const removed: GcAttachment[] = [];
    const errors: string[] = [];
    for (const entry of listCacheEntries(this.options.cacheDir)) {
      if (entry.networkName !== list.name || keep.has(`${entry.containerId}\u0000${entry.ifName}`)) continue;
      const rt: RuntimeConf = {
        containerId: entry.containerId,
        ifName: entry.ifName,
        netns: entry.netns,
        args: entry.cniArgs,
        capabilityArgs: entry.capabilityArgs,
      };
      try {
        await this.delNetworkList(list, rt);
        removed.push({ containerID: entry.containerId, ifname: entry.ifName });
      } catch (err) {
        errors.push(errorMessage(err));
      }
    }
    if (versionAtLeast(list.cniVersion, '1.1.0') && !list.disableGC) {
      for (const plugin of list.plugins) {
        const stdin = { ...buildPluginConfig(list, plugin, undefined, undefined), 'cni.dev/valid-attachments': valid };
        try {
          await this.invoke('GC', list, plugin, stdin);
        } catch (err) {
          errors.push(errorMessage(err));
        }
      }
    }
    if (errors.length > 0) throw new UserError(`GC of network "${list.name}": ${errors.join('; ')}`);
    return removed;
  }

  /** STATUS (1.1.0): each plugin says whether it is ready for ADD. Older lists have no STATUS. */
  async statusNetworkList(list: NetworkConfigList): Promise<void> {
    if (!versionAtLeast(list.cniVersion, '1.1.0')) return;
    for (const plugin of list.plugins) {
      await this.invoke('STATUS', list, plugin, buildPluginConfig(list, plugin, undefined, undefined));
    }
  }
}
