import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, UserError } from '../../common/src/errors.js';
import { acquireFileLock, type FileLock } from '../../common/src/lock.js';
import { trace } from '../../common/src/trace.js';
import { validateContainerId, validateInterfaceName, validateNetworkName } from '../../common/src/validate.js';
import { loadAllNetworks, loadNetworkList, parseConfigList } from './cni/config.js';
import { resultAddresses } from './cni/result.js';
import { CniRuntime, formatCniArgs } from './cni/runtime.js';
import type { CniResult, GcAttachment, NetworkConfigList, RuntimeConf } from './cni/spec.js';
import { DEFAULT_NETWORK_NAME } from './cni/default-network.js';
import type { AgentConfig } from './config.js';
import { findMarkedHolders } from '../../common/src/holder-identity.js';
import { isOurHolder, startHolder, stopHolder } from './netns/holder.js';
import { stopPluginDaemons } from './netns/plugin-daemons.js';
import { netnsPath, type ProcessIdentity, readNetnsId } from '../../common/src/proc.js';
import { type Attachment, type AttachmentMeta, StateStore } from './state/store.js';

/*
 * Allocations: a container's network namespace (held by a `sleep infinity`
 * process) and its attachments to CNI networks. Every change happens under
 * two flock locks: the global one, shared (is-idle and gc take it exclusive,
 * so they see no operation half-done), and the container's, exclusive.
 */

export interface AllocRequest {
  containerId: string;
  network: string;
  podName: string;
  ip?: string | undefined;
  mac?: string | undefined;
  ifName?: string | undefined;
  capabilityArgs: Record<string, unknown>;
  netConfPath?: string | undefined;
  pluginPath?: string[] | undefined;
}

export interface AllocResponse {
  ns: string;
  result: CniResult;
}

export interface ListedAllocation {
  container: string;
  pid: number | null;
  netns: string | null;
  alive: boolean;
  networks: Array<{ network: string; interface: string | null; ips: string[]; complete: boolean }>;
}

export interface GcReport {
  containers: string[];
  attachments: Array<{ container: string; network: string; interface: string | null }>;
  holders: number[];
  cache: Array<{ network: string; container: string; interface: string }>;
  /** DEL errors of best-effort cleanups (the state was removed anyway). */
  warnings: string[];
  errors: string[];
}

function cniArgsOf(request: AllocRequest): Array<[string, string]> {
  const args: Array<[string, string]> = [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAME', request.podName],
  ];
  if (request.ip) args.push(['IP', request.ip]);
  if (request.mac) args.push(['MAC', request.mac]);
  return args;
}

export class Allocator {
  readonly store: StateStore;
  private readonly markerPrefix: string;

  constructor(readonly config: AgentConfig) {
    this.store = new StateStore(config.runDir);
    this.markerPrefix = `${readNetnsId('self') ?? 'net:[unknown]'}|${join(config.runDir, '/')}`;
  }

  /**
   * Holder markers name the infra instance (its network namespace) and the
   * state dir: with --pid=host, gc scanning /proc must never take another
   * infra container's holders for its own.
   */
  private marker(id: string): string {
    return `${this.markerPrefix}${id}`;
  }

  private runtimeFor(pluginPath: string[] | undefined): CniRuntime {
    return new CniRuntime({ ...this.config.runtime, pluginPath: pluginPath ?? this.config.runtime.pluginPath });
  }

  private async lock(name: string, shared: boolean, what: string): Promise<FileLock> {
    return acquireFileLock(this.store.lockPath(name), { shared, timeoutMs: this.config.lockTimeoutMs, what });
  }

  /** Runs `fn` holding the global lock (shared or exclusive) and, when given, the container's lock. */
  private async locked<T>(mode: 'shared' | 'exclusive', containerId: string | undefined, fn: () => Promise<T>): Promise<T> {
    this.store.init();
    trace('locking');
    const global = await this.lock('global', mode === 'shared', 'the infra state');
    try {
      if (containerId === undefined) return await fn();
      const container = await this.lock(containerId, false, `container ${containerId}`);
      trace('locked');
      try {
        return await fn();
      } finally {
        container.release();
      }
    } finally {
      global.release();
    }
  }

  /** The live holder of a container, or undefined (none recorded, dead, or its PID reused). */
  private liveHolder(id: string): ProcessIdentity | undefined {
    const holder = this.store.readHolder(id);
    return holder && isOurHolder(holder, this.marker(id)) ? holder : undefined;
  }

  /** The network's configuration for a DEL: from the config dir, else the one cached at ADD. */
  private listForDel(id: string, attachment: Attachment): NetworkConfigList {
    const meta = attachment.meta;
    try {
      return loadNetworkList(meta?.netConfPath ?? this.config.netConfPath, attachment.network);
    } catch (err) {
      const cached = meta && this.runtimeFor(meta.pluginPath).cachedAttachment(attachment.network, id, meta.ifName);
      if (cached?.config) return parseConfigList(cached.config, `the CNI cache (${cached.path})`);
      throw err;
    }
  }

  /**
   * DEL of one attachment, then its state. A live attachment whose DEL fails
   * keeps its state (the DEL can be retried). For an attachment whose ADD was
   * interrupted, or whose namespace is gone, DEL is best effort: some plugins
   * (Debian's bridge 1.1.1 with ipMasq) fail DEL for what an interrupted ADD
   * never made, and retrying cannot help, so the errors become `warnings`.
   */
  private async detach(id: string, attachment: Attachment, netns: string, warnings?: string[]): Promise<void> {
    const meta = attachment.meta;
    if (meta) {
      const runtime = this.runtimeFor(meta.pluginPath);
      const rt: RuntimeConf = {
        containerId: id,
        netns,
        ifName: meta.ifName,
        args: meta.cniArgs,
        capabilityArgs: meta.capabilityArgs,
      };
      try {
        await runtime.delNetworkList(this.listForDel(id, attachment), rt);
      } catch (err) {
        if (!warnings) throw err;
        warnings.push(`container "${id}" network "${attachment.network}": ${errorMessage(err)}`);
        runtime.removeCachedAttachment(attachment.network, id, meta.ifName);
      }
    }
    this.store.removeAttachment(id, attachment.network);
  }

  /** A container with no attachment left loses its holder and its state; returns whether it did. */
  private removeIfEmpty(id: string, holder: ProcessIdentity | undefined): boolean {
    if (this.store.listAttachments(id).length > 0) return false;
    if (holder) stopHolder(holder, this.marker(id));
    this.store.removeContainer(id);
    return true;
  }

  /** Removes a container whose holder is gone: DEL of every attachment (netns unknown), then its state. */
  private async cleanupDeadContainer(id: string, warnings: string[]): Promise<Attachment[]> {
    const attachments = this.store.listAttachments(id);
    for (const attachment of attachments) await this.detach(id, attachment, '', warnings);
    this.store.removeContainer(id);
    return attachments;
  }

  private chooseIfName(attachments: Attachment[], requested: string | undefined, network: string): string {
    const used = new Set(attachments.map((a) => a.meta?.ifName).filter((n): n is string => n !== undefined));
    if (requested !== undefined) {
      validateInterfaceName(requested);
      if (used.has(requested)) {
        const owner = attachments.find((a) => a.meta?.ifName === requested)!.network;
        throw new UserError(`interface ${requested} is already used by network "${owner}" in this container; cannot attach "${network}"`);
      }
      return requested;
    }
    for (let n = 0; ; n += 1) if (!used.has(`eth${n}`)) return `eth${n}`;
  }

  async alloc(request: AllocRequest): Promise<AllocResponse> {
    const id = validateContainerId(request.containerId);
    validateNetworkName(request.network);
    const netConfPath = request.netConfPath ?? this.config.netConfPath;
    // Configuration problems fail before anything is created.
    const list = loadNetworkList(netConfPath, request.network);
    return this.locked('shared', id, async () => {
      let holder = this.liveHolder(id);
      // What a crash left of this container is undone first (best effort, as in gc).
      const ignoredWarnings: string[] = [];
      if (!holder && this.store.hasContainer(id)) await this.cleanupDeadContainer(id, ignoredWarnings);
      for (const leftover of this.store.listAttachments(id).filter((a) => a.result === undefined)) {
        await this.detach(id, leftover, holder ? netnsPath(holder.pid) : '', ignoredWarnings);
      }
      const attachments = this.store.listAttachments(id);
      if (attachments.some((a) => a.network === request.network)) {
        throw new UserError(`container "${id}" is already attached to network "${request.network}"`);
      }
      const ifName = this.chooseIfName(attachments, request.ifName, request.network);

      if (!holder) {
        const started = await startHolder(this.marker(id));
        trace(`holder ${started.pid} started`);
        holder = started;
        try {
          this.store.writeHolder(id, started);
        } catch (err) {
          stopHolder(started, this.marker(id));
          this.store.removeContainer(id);
          throw new UserError(`cannot record the netns holder of container "${id}": ${errorMessage(err)}`, { cause: err });
        }
      }
      const ns = netnsPath(holder.pid);
      const cniArgs = cniArgsOf(request);
      const meta: AttachmentMeta = {
        ifName,
        cniArgs,
        capabilityArgs: request.capabilityArgs,
        netConfPath,
        pluginPath: request.pluginPath ?? this.config.runtime.pluginPath,
      };
      const runtime = this.runtimeFor(meta.pluginPath);
      const rt: RuntimeConf = { containerId: id, netns: ns, ifName, args: cniArgs, capabilityArgs: request.capabilityArgs };
      let added = false;
      try {
        this.store.writeAttachmentMeta(id, request.network, meta);
        const result = await runtime.addNetworkList(list, rt);
        added = true;
        this.store.commitAttachment(id, request.network, formatCniArgs(cniArgs), result);
        trace('attachment recorded');
        return { ns, result };
      } catch (err) {
        if (added) {
          await runtime.delNetworkList(list, rt).catch((delErr: unknown) => {
            if (err instanceof Error) err.message += ` (and undoing the ADD failed: ${errorMessage(delErr)})`;
          });
        }
        this.store.removeAttachment(id, request.network);
        // A holder this call created has nothing else attached: it goes too.
        this.removeIfEmpty(id, holder);
        throw err;
      }
    });
  }

  /** Detaches a network; the last one takes the holder and the container's state with it. Unknown: no-op. */
  async dealloc(containerId: string, network: string): Promise<void> {
    const id = validateContainerId(containerId);
    validateNetworkName(network);
    await this.locked('shared', id, async () => {
      const attachment = this.store.readAttachment(id, network);
      const holder = this.liveHolder(id);
      if (attachment) {
        // With the namespace gone or the ADD unfinished, DEL is best effort (see detach).
        const bestEffort = !holder || attachment.result === undefined ? [] : undefined;
        // The attachment stops being live before its DEL starts: if this
        // agent is killed mid-DEL, what is left is an interrupted attachment,
        // which gc (and the next alloc or dealloc) removes best effort.
        if (attachment.result) this.store.unmarkLive(id, network);
        try {
          await this.detach(id, attachment, holder ? netnsPath(holder.pid) : '', bestEffort);
        } catch (err) {
          if (attachment.result) this.store.markLive(id, network, attachment.result);
          throw err;
        }
      }
      if (this.store.hasContainer(id)) this.removeIfEmpty(id, holder);
    });
  }

  /** Detaches everything, container by container; what fails is reported and kept. */
  async deallocAll(): Promise<{ removed: Array<{ container: string; network: string }>; daemons: number[]; errors: string[] }> {
    const removed: Array<{ container: string; network: string }> = [];
    const errors: string[] = [];
    this.store.init();
    for (const id of this.store.listContainers()) {
      const networks = this.store.listAttachments(id).map((a) => a.network);
      try {
        for (const network of networks) {
          await this.dealloc(id, network);
          removed.push({ container: id, network });
        }
        // A container with no attachment left (or none ever recorded) still loses its holder.
        await this.locked('shared', id, async () => {
          this.removeIfEmpty(id, this.liveHolder(id));
        });
      } catch (err) {
        errors.push(`container "${id}": ${errorMessage(err)}`);
      }
    }
    // Plugin daemons (dnsname's dnsmasq) would outlive the infra container.
    const daemons = errors.length === 0 ? await stopPluginDaemons() : [];
    return { removed, daemons, errors };
  }

  /** Idle exactly when no container has a live holder and a completed attachment. */
  async isIdle(): Promise<boolean> {
    return this.locked('exclusive', undefined, async () => this.liveAllocations().length === 0);
  }

  private liveAllocations(): string[] {
    return this.store
      .listContainers()
      .filter((id) => this.liveHolder(id) && this.store.listAttachments(id).some((a) => a.result !== undefined));
  }

  cniResult(containerId: string, network: string): CniResult {
    const id = validateContainerId(containerId);
    const attachment = this.store.readAttachment(id, validateNetworkName(network));
    if (!attachment?.result) throw new UserError(`container "${id}" is not attached to network "${network}"`);
    return attachment.result;
  }

  netnsPath(containerId: string): string {
    const id = validateContainerId(containerId);
    const holder = this.liveHolder(id);
    if (!holder) {
      if (this.store.hasContainer(id)) {
        throw new UserError(`the network namespace of container "${id}" is gone (its holder process died); run "gc"`);
      }
      throw new UserError(`container "${id}" has no network namespace`);
    }
    return netnsPath(holder.pid);
  }

  async check(containerId: string, network: string): Promise<void> {
    const id = validateContainerId(containerId);
    validateNetworkName(network);
    await this.locked('shared', id, async () => {
      const attachment = this.store.readAttachment(id, network);
      if (!attachment?.result || !attachment.meta) throw new UserError(`container "${id}" is not attached to network "${network}"`);
      const holder = this.liveHolder(id);
      if (!holder) throw new UserError(`the network namespace of container "${id}" is gone (its holder process died); run "gc"`);
      const meta = attachment.meta;
      const list = loadNetworkList(meta.netConfPath, network);
      await this.runtimeFor(meta.pluginPath).checkNetworkList(list, {
        containerId: id,
        netns: netnsPath(holder.pid),
        ifName: meta.ifName,
        args: meta.cniArgs,
        capabilityArgs: meta.capabilityArgs,
      });
    });
  }

  list(): ListedAllocation[] {
    return this.store.listContainers().map((id) => {
      const recorded = this.store.readHolder(id);
      const alive = this.liveHolder(id) !== undefined;
      return {
        container: id,
        pid: recorded?.pid ?? null,
        netns: recorded && alive ? netnsPath(recorded.pid) : null,
        alive,
        networks: this.store.listAttachments(id).map((a) => ({
          network: a.network,
          interface: a.meta?.ifName ?? null,
          ips: a.result ? resultAddresses(a.result) : [],
          complete: a.result !== undefined,
        })),
      };
    });
  }

  /**
   * Cleans what crashes and restarts leave: containers whose holder died
   * (their attachments are DELeted so IPs are released), interrupted
   * attachments, holders without state, CNI cache entries without an
   * allocation (CNI GC, with plugin GC for 1.1.0 networks), stale lock files.
   */
  async gc(): Promise<GcReport> {
    return this.locked('exclusive', undefined, async () => {
      const report: GcReport = { containers: [], attachments: [], holders: [], cache: [], warnings: [], errors: [] };
      const noteAttachment = (id: string, a: Attachment) =>
        report.attachments.push({ container: id, network: a.network, interface: a.meta?.ifName ?? null });
      for (const id of this.store.listContainers()) {
        const holder = this.liveHolder(id);
        try {
          if (!holder) {
            for (const a of await this.cleanupDeadContainer(id, report.warnings)) noteAttachment(id, a);
            report.containers.push(id);
            continue;
          }
          for (const a of this.store.listAttachments(id).filter((x) => x.result === undefined)) {
            await this.detach(id, a, netnsPath(holder.pid), report.warnings);
            noteAttachment(id, a);
          }
          if (this.removeIfEmpty(id, holder)) report.containers.push(id);
        } catch (err) {
          report.errors.push(`container "${id}": ${errorMessage(err)}`);
        }
      }
      // Holders a crash left without a record (killed between start and record).
      for (const found of findMarkedHolders(this.markerPrefix)) {
        const id = found.marker.slice(this.markerPrefix.length);
        const recorded = this.store.hasContainer(id) ? this.store.readHolder(id) : undefined;
        if (recorded?.pid === found.pid && recorded.startTime === found.startTime) continue;
        if (stopHolder(found, found.marker)) report.holders.push(found.pid);
      }
      await this.gcCache(report);
      for (const path of this.store.listOrphanLockFiles()) rmSync(path, { force: true });
      return report;
    });
  }

  private async gcCache(report: GcReport): Promise<void> {
    const valid = new Map<string, GcAttachment[]>();
    for (const id of this.store.listContainers()) {
      for (const a of this.store.listAttachments(id)) {
        if (!a.meta) continue;
        const entries = valid.get(a.network) ?? [];
        entries.push({ containerID: id, ifname: a.meta.ifName });
        valid.set(a.network, entries);
      }
    }
    const { networks } = loadAllNetworks(this.config.netConfPath);
    if (!networks.some((n) => n.name === DEFAULT_NETWORK_NAME)) {
      networks.push(loadNetworkList(this.config.netConfPath, DEFAULT_NETWORK_NAME));
    }
    const runtime = this.runtimeFor(undefined);
    for (const list of networks) {
      try {
        for (const removed of await runtime.gcNetworkList(list, valid.get(list.name) ?? [])) {
          report.cache.push({ network: list.name, container: removed.containerID, interface: removed.ifname });
        }
      } catch (err) {
        report.errors.push(errorMessage(err));
      }
    }
  }
}
