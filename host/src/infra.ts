import { mkdirSync } from 'node:fs';
import { listPids, readNamespaceId, readOwnerUid, readStartTime } from '../../common/src/proc.js';
import { findMarkedHolders, killMarkedHolder } from '../../common/src/holder-identity.js';
import { errorMessage, UserError } from '../../common/src/errors.js';
import { isObject } from '../../common/src/json.js';
import { acquireFileLock, type FileLock } from '../../common/src/lock.js';
import { PROTOCOL_MISMATCH_EXIT_CODE, PROTOCOL_VERSION } from '../../common/src/version.js';
import type { HostConfig } from './config.js';
import { failed, Podman, type PodmanResult, showCommand } from './podman.js';

/*
 * The infra container: one per user, named rootless-cni-infra, privileged in
 * the rootless user namespace, sharing the host's PID namespace (so that
 * /proc/PID/ns/net of its netns holders is valid for podman), on slirp4netns
 * with the host's loopback reachable as 10.0.2.2. /run and /var/lib/cni are
 * tmpfs: the agent's state and host-local's IPAM reservations live exactly as
 * long as the namespaces they describe.
 */

export const INFRA_NAME = 'rootless-cni-infra';
/** The agent inside the image (on its PATH, /usr/local/bin), as podman has always called it. */
export const AGENT = 'rootless-cni-infra';
export const PROTOCOL_LABEL = 'io.github.rootless-cni-infra.protocol-version';

export interface InfraInfo {
  id: string;
  image: string;
  /** podman's state: running, exited, created, paused... */
  state: string;
  running: boolean;
  labels: Record<string, string>;
}


/** The arguments that create the infra container (also what the tests check). */
export function createArgs(config: HostConfig, replace: boolean): string[] {
  return [
    'run',
    '-d',
    '--name',
    INFRA_NAME,
    ...(replace ? ['--replace'] : []),
    // Pulling an image named localhost/... can only fail, slowly and obscurely.
    ...(config.image.startsWith('localhost/') ? ['--pull=never'] : []),
    '--pid=host',
    '--privileged',
    '--network',
    'slirp4netns:allow_host_loopback=true',
    '-v',
    `${config.configDir}:/etc/cni/net.d:ro`,
    '--tmpfs',
    '/run',
    '--tmpfs',
    '/var/lib/cni',
    '--label',
    `${PROTOCOL_LABEL}=${PROTOCOL_VERSION}`,
    config.image,
  ];
}

export function mismatchError(found: string): UserError {
  return new UserError(
    `the infra container ${INFRA_NAME} speaks protocol version ${found}, but this rootless-cni speaks ` +
      `${PROTOCOL_VERSION}; it was left untouched. Stop the containers that use it, then run ` +
      `"rootless-cni rm" to remove it (the next alloc creates a new one)`,
  );
}

/**
 * What outlived an infra container that was stopped or removed behind our
 * back (rootless `podman stop`/`rm` kills neither): its holders, the user's
 * `sleep infinity` processes carrying the agent's marker in a user namespace
 * other than ours (a rootless container's), and whatever still runs in the
 * infra container's network namespace, which the markers name (dnsname's
 * dnsmasq). Called only when no infra container of ours runs, so none is in
 * use. Only the calling user's processes count: run as root, the shim must
 * not take other users' live infra containers for orphans.
 */
export function reapOrphans(): { holders: number; daemons: number } {
  const ownUserns = readNamespaceId('self', 'user');
  const ownUid = process.getuid?.();
  const ours = (pid: number) => readOwnerUid(pid) === ownUid;
  const infraNetns = new Set<string>();
  let holders = 0;
  for (const holder of findMarkedHolders('')) {
    const userns = readNamespaceId(holder.pid, 'user');
    if (userns === undefined || userns === ownUserns || !ours(holder.pid)) continue;
    infraNetns.add(holder.marker.split('|')[0]!);
    if (killMarkedHolder(holder)) holders += 1;
  }
  let daemons = 0;
  if (infraNetns.size > 0) {
    for (const pid of listPids()) {
      const netns = readNamespaceId(pid, 'net');
      if (netns === undefined || !infraNetns.has(netns) || readNamespaceId(pid, 'user') === ownUserns || !ours(pid)) continue;
      const startTime = readStartTime(pid);
      if (startTime === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
        daemons += 1;
      } catch {
        // gone, or not ours
      }
    }
  }
  return { holders, daemons };
}


/** What podman exec says when the infra container is missing or not running. */
const NO_RUNNING_CONTAINER = /no such container|no container with name or ID|container state improper|is not running/i;

function parseAgentOutput(binary: string, args: string[], stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    const shown = stdout.length > 200 ? `${stdout.slice(0, 200)}...` : stdout;
    throw new UserError(`${showCommand(binary, args)} did not print JSON: ${JSON.stringify(shown)}`);
  }
}

export class Infra {
  readonly podman: Podman;

  constructor(readonly config: HostConfig) {
    this.podman = new Podman(config.podman, config.podmanTimeoutMs);
  }

  /** Runs `fn` holding the per-user lock that serializes creation, use and removal of the container. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    let lock: FileLock;
    try {
      lock = await acquireFileLock(this.config.lockPath, {
        timeoutMs: this.config.lockTimeoutMs,
        what: `the ${INFRA_NAME} container`,
      });
    } catch (err) {
      if (err instanceof UserError) throw err;
      // openSync's own errors (ENOENT, EACCES): say which file and why it matters.
      throw new UserError(`cannot open the lock file ${this.config.lockPath}: ${errorMessage(err)} (is XDG_RUNTIME_DIR right?)`);
    }
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /** One podman call: the container, or undefined when there is none. */
  async inspect(): Promise<InfraInfo | undefined> {
    const listed = await this.podman.json(['ps', '-a', '--filter', `name=^${INFRA_NAME}$`, '--format', 'json']);
    if (!Array.isArray(listed)) throw new UserError(`podman ps did not print a JSON list: ${JSON.stringify(listed)}`);
    const entry = listed.find(
      (c: unknown) => isObject(c) && Array.isArray(c['Names']) && (c['Names'] as unknown[]).includes(INFRA_NAME),
    ) as Record<string, unknown> | undefined;
    if (entry === undefined) return undefined;
    const state = typeof entry['State'] === 'string' ? entry['State'] : 'unknown';
    const labels: Record<string, string> = {};
    if (isObject(entry['Labels'])) {
      for (const [key, value] of Object.entries(entry['Labels'])) if (typeof value === 'string') labels[key] = value;
    }
    return {
      id: typeof entry['Id'] === 'string' ? entry['Id'] : '',
      image: typeof entry['Image'] === 'string' ? entry['Image'] : '',
      state,
      running: state === 'running',
      labels,
    };
  }

  /** The protocol version of a running container: its label, else (one exec) what its agent says. */
  async protocolVersion(info: InfraInfo): Promise<string> {
    const label = info.labels[PROTOCOL_LABEL];
    if (label !== undefined && label !== '') return label;
    let answer: unknown;
    try {
      answer = await this.agent(['version']);
    } catch (err) {
      throw new UserError(
        `the infra container ${INFRA_NAME} has no ${PROTOCOL_LABEL} label and its agent did not tell its version: ` +
          `${errorMessage(err)}; stop the containers that use it, then run "rootless-cni rm"`,
      );
    }
    const version = isObject(answer) ? answer['version'] : undefined;
    return typeof version === 'string' ? version : `unknown (${JSON.stringify(answer)})`;
  }

  async checkProtocol(info: InfraInfo): Promise<void> {
    const version = await this.protocolVersion(info);
    if (version !== PROTOCOL_VERSION) throw mismatchError(version);
  }

  /**
   * The running infra container of our protocol version, created when there
   * is none; a stopped one (its holders, hence its namespaces, are gone) is
   * replaced. Call with the lock held.
   */
  async ensure(): Promise<{ info: InfraInfo; created: boolean }> {
    const info = await this.inspect();
    if (info?.running) {
      await this.checkProtocol(info);
      return { info, created: false };
    }
    if (info?.state === 'paused') {
      throw new UserError(
        `the infra container ${INFRA_NAME} is paused; unpause it (podman unpause ${INFRA_NAME}) or remove it with "rootless-cni rm"`,
      );
    }
    const orphans = reapOrphans();
    if (orphans.holders > 0) {
      process.stderr.write(
        `Warning: the infra container ${INFRA_NAME} was ${info ? `stopped (state ${info.state})` : 'removed'} while it held ` +
          `${orphans.holders} network namespace(s); their holders were stopped` +
          (orphans.daemons > 0 ? `, with ${orphans.daemons} process(es) left in its network namespace` : '') +
          `, and containers that used them have lost their CNI network\n`,
      );
    }
    return { info: await this.create(info !== undefined), created: true };
  }

  private async create(replace: boolean): Promise<InfraInfo> {
    try {
      mkdirSync(this.config.configDir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new UserError(`cannot create the CNI config directory ${this.config.configDir}: ${errorMessage(err)}`);
    }
    const args = createArgs(this.config, replace);
    const result = await this.podman.run(args);
    if (result.code !== 0) {
      const error = failed(this.config.podman, args, result);
      if (/image not known|no such image|manifest unknown|pull/i.test(result.stderr)) {
        error.message += ` (is the image built? "make image" builds ${this.config.image.replace(/:[^:/]*$/, '')} ` +
          `into the calling user's storage; or set ROOTLESS_CNI_INFRA_IMAGE / --image)`;
      }
      throw error;
    }
    const id = result.stdout.trim().split('\n').pop() ?? '';
    return {
      id,
      image: this.config.image,
      state: 'running',
      running: true,
      labels: { [PROTOCOL_LABEL]: PROTOCOL_VERSION },
    };
  }

  /** The running container for commands that must not create it. */
  async requireRunning(): Promise<InfraInfo> {
    const info = await this.inspect();
    if (info === undefined) {
      throw new UserError(`the infra container ${INFRA_NAME} does not exist (nothing is allocated; "rootless-cni alloc" creates it)`);
    }
    if (!info.running) {
      throw new UserError(`the infra container ${INFRA_NAME} is not running (state ${info.state}): nothing is allocated`);
    }
    await this.checkProtocol(info);
    return info;
  }

  /**
   * The agent's answer to one command, in ONE podman call, when an infra
   * container runs: the agent checks the protocol version itself
   * (--expect-protocol), so no `podman ps` is needed first. `undefined`
   * when there is no running infra container. A failure of an agent of
   * another protocol, which may not know the handshake, is reported as
   * a protocol mismatch (that costs one `podman ps`, on failures only).
   */
  async agentIfRunning(args: string[]): Promise<unknown> {
    const full = ['exec', INFRA_NAME, AGENT, ...args, `--expect-protocol=${PROTOCOL_VERSION}`];
    const result = await this.podman.run(full);
    if (result.code === 0) return parseAgentOutput(this.config.podman, full, result.stdout);
    // podman's own failures exit with 125 or more (4.3 uses 255 for a stopped container).
    if (result.code >= 125 && NO_RUNNING_CONTAINER.test(result.stderr)) return undefined;
    if (result.code === PROTOCOL_MISMATCH_EXIT_CODE) {
      const found = /this agent speaks (\S+)/.exec(result.stderr)?.[1] ?? 'another';
      throw mismatchError(found);
    }
    const info = await this.inspect();
    if (info?.running) await this.checkProtocol(info);
    throw failed(this.config.podman, full, result);
  }

  /** `podman exec` of the agent, whatever it exits with. */
  agentRun(args: string[]): Promise<PodmanResult> {
    return this.podman.run(['exec', INFRA_NAME, AGENT, ...args]);
  }

  /** `podman exec` of the agent; returns the JSON document it printed. */
  async agent(args: string[]): Promise<unknown> {
    return this.podman.json(['exec', INFRA_NAME, AGENT, ...args]);
  }

  /**
   * Detaches everything and stops every holder (rootless `podman rm` does not
   * kill them: no cgroup, host PID namespace), then removes the container.
   * With `force`, a dealloc-all failure does not stop the removal.
   */
  async remove(info: InfraInfo, options: { force: boolean }): Promise<{ deallocated: unknown[]; errors: string[] }> {
    let deallocated: unknown[] = [];
    const errors: string[] = [];
    if (info.running) {
      const args = ['dealloc-all'];
      const result = await this.agentRun(args);
      let report: unknown;
      try {
        report = JSON.parse(result.stdout);
      } catch {
        report = undefined;
      }
      if (isObject(report) && Array.isArray(report['removed'])) deallocated = report['removed'];
      if (isObject(report) && Array.isArray(report['errors'])) errors.push(...report['errors'].map((e) => String(e)));
      if (result.code !== 0) {
        const error = failed(this.config.podman, ['exec', INFRA_NAME, AGENT, ...args], result);
        if (!options.force) {
          throw new UserError(
            `${error.message}; the infra container was left in place (its netns holders would outlive it). ` +
              `"rootless-cni rm --force" removes it anyway`,
          );
        }
        if (errors.length === 0) errors.push(error.message);
      }
    }
    await this.podman.ok(['rm', '-f', INFRA_NAME]);
    return { deallocated, errors };
  }
}
